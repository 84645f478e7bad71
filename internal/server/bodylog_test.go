package server

import (
	"testing"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/store"
)

func TestBodyLogCap(t *testing.T) {
	tests := []struct {
		name    string
		limit   int
		reads   []string // the request body, in reads
		chunks  []string // stream chunks sent
		wantReq string
		reqCut  bool
		wantAns string
		ansCut  bool
	}{
		{name: "fits", limit: 64, reads: []string{`{"a":`, `1}`},
			chunks:  []string{`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`, `{"choices":[{"index":0,"delta":{"content":"Hi"}}]}`, `{"choices":[{"index":0,"delta":{"content":" there"}}]}`},
			wantReq: `{"a":1}`, wantAns: "Hi there"},
		{name: "exactly the limit is not cut", limit: 4, reads: []string{"ab", "cd"}, wantReq: "abcd"},
		{name: "cut across reads", limit: 3, reads: []string{"ab", "cd", "ef"}, wantReq: "abc", reqCut: true},
		{name: "cut inside a character drops it", limit: 4, reads: []string{"ab数据"}, wantReq: "ab", reqCut: true,
			chunks: []string{`{"choices":[{"index":0,"delta":{"content":"x🚀y"}}]}`}, wantAns: "x", ansCut: true},
		{name: "other choices and completions text", limit: 64,
			chunks:  []string{`{"choices":[{"index":1,"delta":{"content":"no"}}]}`, `{"choices":[{"index":0,"text":"legacy"}]}`, `not json`},
			wantAns: "legacy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &bodyLog{limit: tt.limit}
			for _, p := range tt.reads {
				b.req, b.reqCut = appendCapped(b.req, b.reqCut, []byte(p), b.limit)
			}
			for _, c := range tt.chunks {
				b.addChunk([]byte(c))
			}
			var row store.RequestLog
			b.fill(&row)
			if row.RequestBody != tt.wantReq || row.RequestBodyTruncated != tt.reqCut {
				t.Errorf("request = %q (cut %t), want %q (cut %t)", row.RequestBody, row.RequestBodyTruncated, tt.wantReq, tt.reqCut)
			}
			if row.ResponseBody != tt.wantAns || row.ResponseBodyTruncated != tt.ansCut {
				t.Errorf("answer = %q (cut %t), want %q (cut %t)", row.ResponseBody, row.ResponseBodyTruncated, tt.wantAns, tt.ansCut)
			}
			if !utf8.ValidString(row.RequestBody) || !utf8.ValidString(row.ResponseBody) {
				t.Error("a stored body is not valid UTF-8")
			}
		})
	}
	t.Run("non-stream answer", func(t *testing.T) {
		b := &bodyLog{limit: 4}
		b.setAnswer([]byte("abcdef"))
		var row store.RequestLog
		b.fill(&row)
		if row.ResponseBody != "abcd" || !row.ResponseBodyTruncated {
			t.Errorf("answer = %q (cut %t), want abcd cut", row.ResponseBody, row.ResponseBodyTruncated)
		}
	})
}
