package simupstream_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tollgate/tollgate/internal/openai"
	"github.com/tollgate/tollgate/internal/simupstream"
)

// A client reaches the simulator in-process through Transport; the
// answer is the one Answer predicts.
func ExampleTransport() {
	sim := simupstream.New(simupstream.Options{
		Profiles: map[string]simupstream.Profile{"sim-small": {Length: 4}},
	})
	client := &http.Client{Transport: simupstream.Transport(sim)}
	resp, err := client.Post("http://simulator/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"sim-small","messages":[{"role":"user","content":"hello"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.Contains(string(body), sim.Answer("sim-small", "hello", 0)))
	// Output: 200 true
}

// A model that is rate limited once, then healthy.
func ExampleFault() {
	sim := simupstream.New(simupstream.Options{Profiles: map[string]simupstream.Profile{
		"flaky": {Fault: simupstream.Fault{Kind: simupstream.FaultStatus, Status: 429, Times: 1}},
	}})
	client := &http.Client{Transport: simupstream.Transport(sim)}
	for range 2 {
		resp, err := client.Post("http://simulator/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"flaky","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			fmt.Println(err)
			return
		}
		var e openai.ErrorResponse
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && json.Unmarshal(body, &e) == nil {
			fmt.Println(resp.StatusCode, *e.Error.Code)
			continue
		}
		fmt.Println(resp.StatusCode)
	}
	fmt.Println(sim.Requests("flaky"), "requests")
	// Output:
	// 429 rate_limit_exceeded
	// 200
	// 2 requests
}
