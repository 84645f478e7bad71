package jsonpeek_test

import (
	"fmt"

	"github.com/tollgate/tollgate/internal/jsonpeek"
)

// Example_setModelAndIncludeUsage rewrites a chat request for an upstream:
// it reads the client's model, replaces it with the upstream's name and sets
// stream_options.include_usage, patching the nested object first.
func Example_setModelAndIncludeUsage() {
	body := []byte(`{"model":"gpt-x","messages":[{"role":"user","content":"hi"}],` +
		`"stream":true,"stream_options":{"include_usage":false}}`)

	req, err := jsonpeek.Parse(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	model, _, err := req.String("model")
	if err != nil {
		fmt.Println(err)
		return
	}

	opts := []byte(`{}`) // absent or null: start from an empty object
	if raw, ok := req.Raw("stream_options"); ok && string(raw) != "null" {
		opts = raw
	}
	inner, err := jsonpeek.Parse(opts)
	if err != nil {
		fmt.Println("stream_options:", err)
		return
	}
	opts = inner.Patch(jsonpeek.Edit{Key: "include_usage", Value: []byte("true")})

	out := req.Patch(
		jsonpeek.Edit{Key: "model", Value: jsonpeek.Quote("upstream-model-2026")},
		jsonpeek.Edit{Key: "stream_options", Value: opts},
	)
	fmt.Println("client asked for", model)
	fmt.Println(string(out))
	// Output:
	// client asked for gpt-x
	// {"model":"upstream-model-2026","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}
}
