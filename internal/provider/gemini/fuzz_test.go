package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate/tollgate/internal/provider"
)

// addFixtures seeds f with every file of testdata/dir ending in ext.
func addFixtures(f *testing.F, dir, ext string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzStreamTranslator feeds arbitrary bytes as a Gemini SSE stream: the
// stream must end (io.EOF or a *provider.Error) within a bounded number of
// events, and every chunk it yields must be a valid chat.completion.chunk.
func FuzzStreamTranslator(f *testing.F) {
	addFixtures(f, "streams", ".sse")
	f.Fuzz(func(t *testing.T, in []byte) {
		st := newStream("gem", io.NopCloser(bytes.NewReader(in)), func(error) {}, provider.Timeouts{}, newTranslator("m", testIDs()))
		defer st.Close()
		limit := 2*len(in) + 4
		for i := 0; ; i++ {
			if i > limit {
				t.Fatalf("more than %d events from %d bytes", limit, len(in))
			}
			ev, err := st.Next(context.Background())
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var pe *provider.Error
				if !errors.As(err, &pe) {
					t.Fatalf("error %v (%T) is not a *provider.Error", err, err)
				}
				if _, err := st.Next(context.Background()); err == nil {
					t.Fatal("the stream went on after an error")
				}
				return
			}
			var chunk struct {
				Object  string            `json:"object"`
				Choices []json.RawMessage `json:"choices"`
				Error   json.RawMessage   `json:"error"`
			}
			if err := json.Unmarshal(ev.Data, &chunk); err != nil {
				t.Fatalf("invalid chunk %q: %v", ev.Data, err)
			}
			if chunk.Object != "chat.completion.chunk" || chunk.Error != nil || chunk.Choices == nil {
				t.Fatalf("not a chat.completion.chunk: %s", ev.Data)
			}
		}
	})
}

// FuzzRequestTranslator feeds arbitrary request bodies: translation either
// fails with a 400 *provider.Error or yields a Gemini request with contents.
func FuzzRequestTranslator(f *testing.F) {
	addFixtures(f, "requests", ".json")
	a := &Adapter{channel: "gem", base: DefaultBaseURL, ids: testIDs()}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := a.translate(&provider.Request{Endpoint: provider.EndpointChat, Body: in})
		if err != nil {
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Status != 400 {
				t.Fatalf("error %v is not a 400 *provider.Error", err)
			}
			return
		}
		var out generateRequest
		if err := json.Unmarshal(c.body, &out); err != nil {
			t.Fatalf("invalid Gemini request %s: %v", c.body, err)
		}
		if len(out.Contents) == 0 {
			t.Fatalf("no contents in %s", c.body)
		}
	})
}
