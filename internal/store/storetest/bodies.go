package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/store"
)

// exerciseBodies checks the stored request and response bodies: written
// with their row, read back only when LogFilter.Bodies asks, and never
// made up for rows without them.
func exerciseBodies(t *testing.T, fresh func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		s := fresh(t)
		type bodies struct {
			req, resp       string
			reqCut, respCut bool
		}
		tests := []struct {
			name string
			in   bodies
		}{
			{"both bodies", bodies{req: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, resp: `{"choices":[]}`}},
			{"unicode and newlines", bodies{req: "{\"content\":\"équipe 数据 🚀\\n\"}", resp: "line one\nline two · ünïcode"}},
			{"request only, truncated", bodies{req: strings.Repeat("x", 4096), reqCut: true}},
			{"response only, truncated", bodies{resp: "partial answ", respCut: true}},
			{"cut to nothing", bodies{reqCut: true, respCut: true}},
			{"none", bodies{}},
		}
		rows := make([]store.RequestLog, len(tests))
		for i, tt := range tests {
			rows[i] = logN(i + 1)
			rows[i].RequestBody, rows[i].ResponseBody = tt.in.req, tt.in.resp
			rows[i].RequestBodyTruncated, rows[i].ResponseBodyTruncated = tt.in.reqCut, tt.in.respCut
		}
		if err := s.InsertRequestLogs(ctx, rows); err != nil {
			t.Fatalf("InsertRequestLogs: %v", err)
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := rows[i].RequestID
				got, err := s.ListRequestLogs(ctx, store.LogFilter{RequestID: id, Bodies: true})
				if err != nil || len(got) != 1 {
					t.Fatalf("ListRequestLogs(%s, bodies) = %d rows, %v; want 1", id, len(got), err)
				}
				g := bodies{got[0].RequestBody, got[0].ResponseBody, got[0].RequestBodyTruncated, got[0].ResponseBodyTruncated}
				if g != tt.in {
					t.Errorf("bodies = %+v, want %+v", g, tt.in)
				}
				plain, err := s.ListRequestLogs(ctx, store.LogFilter{RequestID: id})
				if err != nil || len(plain) != 1 || plain[0].HasBodies() {
					t.Errorf("ListRequestLogs(%s) without Bodies = %+v, %v; want one row with no bodies", id, plain, err)
				}
			})
		}
	})

	t.Run("RepeatedRequestID", func(t *testing.T) {
		s := fresh(t)
		first, second := logN(1), logN(2)
		second.RequestID = first.RequestID // a client-supplied id used twice
		first.RequestBody = "first"
		if err := s.InsertRequestLogs(ctx, []store.RequestLog{first, second}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListRequestLogs(ctx, store.LogFilter{RequestID: first.RequestID, Bodies: true})
		if err != nil || len(got) != 2 {
			t.Fatalf("ListRequestLogs = %d rows, %v; want 2", len(got), err)
		}
		if got[0].HasBodies() || got[1].RequestBody != "first" {
			t.Errorf("bodies = [%q, %q]; want each row's own (none, first)", got[0].RequestBody, got[1].RequestBody)
		}
	})

	t.Run("AtomicWithRows", func(t *testing.T) {
		s := fresh(t)
		good := logN(1)
		good.RequestBody = "stored only with its batch"
		bad := logN(2)
		bad.Time = time.Time{}
		if err := s.InsertRequestLogs(ctx, []store.RequestLog{good, bad}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("InsertRequestLogs with a zero Time = %v, want ErrInvalid", err)
		}
		good.RequestBody = "" // the same row again, without bodies: nothing of the failed batch may show
		if err := s.InsertRequestLogs(ctx, []store.RequestLog{good}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListRequestLogs(ctx, store.LogFilter{Bodies: true})
		if err != nil || len(got) != 1 || got[0].HasBodies() {
			t.Errorf("after a failed batch ListRequestLogs = %+v, %v; want one row without bodies", got, err)
		}
	})
}
