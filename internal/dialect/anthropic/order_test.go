package anthropic

import (
	"encoding/json"
	"testing"
)

// checkOrder asserts what every client relies on in a complete stream:
// message_start first, blocks started in index order from 0, every delta
// and stop for a started and still-open block, message_delta then
// message_stop last, and each event's data valid JSON whose type is the
// event's name.
func checkOrder(t testing.TB, events []Event) {
	t.Helper()
	if len(events) < 3 || events[0].Name != "message_start" || events[len(events)-2].Name != "message_delta" || events[len(events)-1].Name != "message_stop" {
		t.Fatalf("stream does not run message_start ... message_delta, message_stop: %v", names(events))
	}
	open := map[int]bool{}
	next := 0
	for _, ev := range events {
		var v struct {
			Type  string `json:"type"`
			Index int    `json:"index"`
		}
		if err := json.Unmarshal(ev.Data, &v); err != nil || v.Type != ev.Name {
			t.Fatalf("event %s has data %s (type %q, %v)", ev.Name, ev.Data, v.Type, err)
		}
		switch ev.Name {
		case "content_block_start":
			if v.Index != next {
				t.Fatalf("block %d started, want %d", v.Index, next)
			}
			open[v.Index] = true
			next++
		case "content_block_delta":
			if !open[v.Index] {
				t.Fatalf("delta for block %d, which is not open", v.Index)
			}
		case "content_block_stop":
			if !open[v.Index] {
				t.Fatalf("stop for block %d, which is not open", v.Index)
			}
			delete(open, v.Index)
		case "message_delta", "message_stop":
			if len(open) > 0 {
				t.Fatalf("%s with blocks still open: %v", ev.Name, open)
			}
		}
	}
}

func names(events []Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.Name
	}
	return out
}
