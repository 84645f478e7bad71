package simupstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// trackBody is a request body that records Close.
type trackBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackBody) Close() error { b.closed.Store(true); return nil }

func TestTransportCommitsOnHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		commit func(w http.ResponseWriter)
		status int
		ctype  string
	}{
		{"write header", func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) }, 202, ""},
		{"flush", func(w http.ResponseWriter) { w.(http.Flusher).Flush() }, 200, ""},
		{"first write sniffs", func(w http.ResponseWriter) { _, _ = w.Write([]byte("hello")) }, 200, "text/plain; charset=utf-8"},
		{"1xx is skipped", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(201) }, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.commit(w)
				<-release // RoundTrip must return while the handler still runs
				_, _ = io.WriteString(w, " world")
			})
			resp, err := (&http.Client{Transport: Transport(h)}).Get("http://x/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			close(release)
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("status %d content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if b, err := io.ReadAll(resp.Body); err != nil || !strings.HasSuffix(string(b), " world") {
				t.Errorf("body %q, err %v", b, err)
			}
		})
	}
}

func TestTransportEndings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantErr   bool // from RoundTrip
		wantBody  string
		bodyErrIs []error
	}{
		{"returns without writing", func(http.ResponseWriter, *http.Request) {}, false, "", nil},
		{"content length", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "2")
			_, _ = io.WriteString(w, "ok")
		}, false, "ok", nil},
		{"abort before header", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }, true, "", nil},
		{"other panic before header", func(http.ResponseWriter, *http.Request) { panic("bug") }, true, "", nil},
		{"abort mid-body", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "part")
			panic(http.ErrAbortHandler)
		}, false, "part", []error{syscall.ECONNRESET, io.ErrUnexpectedEOF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := &trackBody{Reader: strings.NewReader("{}")}
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://x/p", body)
			resp, err := Transport(tt.handler).RoundTrip(req)
			if tt.wantErr {
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("RoundTrip err = %v, want ECONNRESET", err)
				}
				if err == nil {
					resp.Body.Close()
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if string(b) != tt.wantBody {
				t.Errorf("body %q, want %q", b, tt.wantBody)
			}
			for _, target := range tt.bodyErrIs {
				if !errors.Is(err, target) {
					t.Errorf("body err = %v, want %v", err, target)
				}
			}
			if tt.bodyErrIs == nil && err != nil {
				t.Errorf("body err = %v", err)
			}
			if tt.wantBody != "" && resp.ContentLength != -1 && resp.ContentLength != int64(len(tt.wantBody)) {
				t.Errorf("ContentLength = %d", resp.ContentLength)
			}
			if !body.closed.Load() {
				t.Error("request body not closed after the handler returned")
			}
		})
	}
}

func TestTransportSeesRequest(t *testing.T) {
	t.Parallel()
	var got struct{ method, uri, host, auth, body string }
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.uri, got.host, got.auth, got.body = r.Method, r.RequestURI, r.Host, r.Header.Get("Authorization"), string(b)
	})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://api.example/v1/x?q=1", strings.NewReader("payload"))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := (&http.Client{Transport: Transport(h)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := struct{ method, uri, host, auth, body string }{"PUT", "/v1/x?q=1", "api.example", "Bearer k", "payload"}
	if got != want {
		t.Errorf("handler saw %+v, want %+v", got, want)
	}
}

func TestTransportClientLeaves(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// leave makes the client give up after reading the first line.
		leave   func(cancel context.CancelFunc, body io.Closer)
		wantErr error // of the next body read
	}{
		{"cancel", func(cancel context.CancelFunc, _ io.Closer) { cancel() }, context.Canceled},
		{"close body", func(_ context.CancelFunc, b io.Closer) { b.Close() }, io.ErrClosedPipe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			handlerDone := make(chan error, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for { // write until the client is gone
					if _, err := io.WriteString(w, "line\n"); err != nil {
						<-r.Context().Done()
						handlerDone <- err
						return
					}
				}
			})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://x/", nil)
			resp, err := (&http.Client{Transport: Transport(h)}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReaderSize(resp.Body, 16)
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			tt.leave(cancel, resp.Body)
			if err := <-handlerDone; err == nil {
				t.Error("handler write succeeded after the client left")
			}
			if _, err := io.ReadAll(br); !errors.Is(err, tt.wantErr) {
				t.Errorf("next read err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestTransportCancelBeforeHeader(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://x/", nil)
	resp, err := Transport(h).RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	cancelled, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://x/", nil)
	if _, err := Transport(h).RoundTrip(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("already cancelled: err = %v", err)
	}
}
