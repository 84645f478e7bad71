package h1transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRoundTrip sends requests of several shapes to a net/http server and
// checks what the server saw and what came back.
func TestRoundTrip(t *testing.T) {
	type seen struct {
		method, uri, host, body, ctype, auth string
		contentLength                        int64
		transferEncoding                     []string
	}
	var got atomic.Pointer[seen]
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(&seen{method: r.Method, uri: r.RequestURI, host: r.Host, body: string(b), ctype: r.Header.Get("Content-Type"),
			auth: r.Header.Get("Authorization"), contentLength: r.ContentLength, transferEncoding: r.TransferEncoding})
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/status":
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte(`{"error":"short and stout"}`))
		default:
			w.Header().Set("X-Answer", "42")
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 string
		wantSeenLength           int64
	}{
		{name: "post with a body", method: http.MethodPost, path: "/v1/chat/completions?x=1", body: `{"model":"m"}`,
			wantStatus: 200, wantBody: `{"ok":true}`, wantSeenLength: 13},
		{name: "get", method: http.MethodGet, path: "/v1/models", wantStatus: 200, wantBody: `{"ok":true}`},
		{name: "post without a body", method: http.MethodPost, path: "/v1/x", wantStatus: 200, wantBody: `{"ok":true}`},
		{name: "chunked answer", method: http.MethodPost, path: "/chunked", body: "{}", wantStatus: 200,
			wantBody: "part one, part two", wantSeenLength: 2},
		{name: "no content", method: http.MethodDelete, path: "/empty", wantStatus: 204},
		{name: "error status", method: http.MethodPost, path: "/status", body: "{}", wantStatus: 418,
			wantBody: `{"error":"short and stout"}`, wantSeenLength: 2},
		{name: "head", method: http.MethodHead, path: "/v1/models", wantStatus: 200},
	}
	tr := newTestTransport(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			var rd io.Reader
			if tt.body != "" {
				rd = strings.NewReader(tt.body)
			}
			req, err := http.NewRequestWithContext(ctx, tt.method, srv.URL+tt.path, rd)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer secret")
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || string(b) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
			s := got.Load()
			if s.method != tt.method || s.uri != tt.path || s.host != srv.Listener.Addr().String() || s.body != tt.body ||
				s.ctype != "application/json" || s.auth != "Bearer secret" || s.contentLength != tt.wantSeenLength ||
				len(s.transferEncoding) != 0 {
				t.Errorf("server saw %+v", *s)
			}
		})
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d requests one after another opened %d connections, want 1", len(tests), n)
	}
}

// TestConnectionReuse checks when a connection goes back to the pool.
func TestConnectionReuse(t *testing.T) {
	big := strings.Repeat("x", 256<<10)
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/close":
			w.Header().Set("Connection", "close")
		case "/big":
			w.Write([]byte(big))
			return
		case "/stream":
			// An event stream: the data, then the end of the chunked body
			// in a write of its own, as servers do when the handler returns.
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte("data: [DONE]\n\n"))
			w.(http.Flusher).Flush()
			return
		}
		w.Write([]byte("ok"))
	}))
	tests := []struct {
		name      string
		path      string
		read      func(io.Reader) // how the caller consumes the body before Close
		reqClose  bool
		wantConns int64
	}{
		{name: "read to the end", path: "/", read: readAll, wantConns: 1},
		{name: "closed after the data, before the end of the chunked body", path: "/stream",
			read: func(r io.Reader) { io.ReadFull(r, make([]byte, len("data: [DONE]\n\n"))) }, wantConns: 1},
		{name: "closed unread, small answer", path: "/", read: func(io.Reader) {}, wantConns: 1},
		{name: "closed early, large answer", path: "/big", read: func(r io.Reader) { io.ReadFull(r, make([]byte, 10)) }, wantConns: 3},
		{name: "server says close", path: "/close", read: readAll, wantConns: 3},
		{name: "request says close", path: "/", read: readAll, reqClose: true, wantConns: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTestTransport(t, Options{})
			before := srv.conns.Load()
			for range 3 {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
				req.Close = tt.reqClose
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				tt.read(resp.Body)
				resp.Body.Close()
			}
			if got := srv.conns.Load() - before; got != tt.wantConns {
				t.Errorf("3 requests opened %d connections, want %d", got, tt.wantConns)
			}
		})
	}
}

func readAll(r io.Reader) { io.Copy(io.Discard, r) }

// TestStaleConnectionIsNotUsed: a server that closes each connection after
// answering (without saying so) must not make the next request fail.
func TestStaleConnectionIsNotUsed(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, _, err := readRequest(br); err != nil {
			return
		}
		fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// returning closes the connection: an idle timeout of zero
	})
	tr := newTestTransport(t, Options{})
	for i := range 3 {
		_, body := do(t, tr, http.MethodPost, srv.URL()+"/v1/chat/completions", `{"n":`+fmt.Sprint(i)+`}`)
		if body != "ok" {
			t.Fatalf("request %d: body %q", i, body)
		}
		// Let the server's FIN arrive before the next request looks at
		// the pooled connection.
		waitFor(t, "the server closed its connection", func() bool {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			cs := tr.idle[hostPort(mustURL(t, srv.URL()))]
			return len(cs) == 0 || !cs[0].alive()
		})
	}
	if n := srv.conns.Load(); n != 3 {
		t.Errorf("opened %d connections, want 3 (one per request)", n)
	}
}

// TestResendWhenNothingWasWritten: a pooled connection whose write fails
// before any byte went out is replaced and the request (body included)
// sent on a new connection.
func TestResendWhenNothingWasWritten(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	var dialed []*breakableConn
	d := &net.Dialer{}
	tr := newTestTransport(t, Options{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		bc := &breakableConn{Conn: c}
		dialed = append(dialed, bc)
		return bc, nil
	}})
	do(t, tr, http.MethodPost, srv.URL, "first")
	dialed[0].broken.Store(true)
	resp, body := do(t, tr, http.MethodPost, srv.URL, "second")
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) != 2 || strings.Join(bodies, ",") != "first,second" {
		t.Errorf("dialed %d connections, server got bodies %q; want 2 and first,second", len(dialed), bodies)
	}
}

// breakableConn fails every write once broken, as a connection the peer
// reset does; it is not a syscall.Conn, so alive cannot see it.
type breakableConn struct {
	net.Conn
	broken atomic.Bool
}

func (c *breakableConn) Write(p []byte) (int, error) {
	if c.broken.Load() {
		return 0, errors.New("connection reset by peer")
	}
	return c.Conn.Write(p)
}

// TestNoResendAfterWriting: a request that failed after it was sent is
// not sent again: the server may have acted on it.
func TestNoResendAfterWriting(t *testing.T) {
	var requests atomic.Int64
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := readRequest(br); err != nil {
				return
			}
			if requests.Add(1) == 2 {
				return // the second request: read, then the connection drops
			}
			fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	tr := newTestTransport(t, Options{})
	do(t, tr, http.MethodPost, srv.URL(), "one")
	req, _ := http.NewRequest(http.MethodPost, srv.URL(), strings.NewReader("two"))
	_, err := tr.RoundTrip(req)
	if err == nil {
		t.Fatal("the request succeeded, want an error")
	}
	if requests.Load() != 2 {
		t.Errorf("the server read %d requests, want 2 (no resend)", requests.Load())
	}
}

// TestCancel: ending the request's context ends a wait for the header or
// the body at once, with the context's cause.
func TestCancel(t *testing.T) {
	release := make(chan struct{})
	waiting := make(chan struct{}, 1)
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, _, err := readRequest(br)
		if err != nil {
			return
		}
		if req.URL.Path == "/body" {
			fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		}
		waiting <- struct{}{}
		<-release
	})
	t.Cleanup(func() { close(release) }) // runs before the server's cleanup
	cause := errors.New("the client went away")
	for _, path := range []string{"/header", "/body"} {
		t.Run(path, func(t *testing.T) {
			tr := newTestTransport(t, Options{})
			ctx, cancel := context.WithCancelCause(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+path, strings.NewReader("{}"))
			done := make(chan error, 1)
			go func() {
				resp, err := tr.RoundTrip(req)
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				done <- err
			}()
			<-waiting // the server holds the request: the client waits for it
			start := time.Now()
			cancel(cause)
			select {
			case err := <-done:
				if !errors.Is(err, cause) {
					t.Errorf("error %v, want the context's cause", err)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("returned %v after the cancel", d)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("the round trip did not end after the cancel")
			}
			if n := tr.idleCount(hostPort(mustURL(t, srv.URL()))); n != 0 {
				t.Errorf("%d connections pooled after a canceled request, want 0", n)
			}
		})
	}
}

// TestCloseDuringRead: Close from another goroutine ends a Read blocked on
// the network, and the connection is not pooled.
func TestCloseDuringRead(t *testing.T) {
	release := make(chan struct{})
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, _, err := readRequest(br); err != nil {
			return
		}
		fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		<-release
	})
	t.Cleanup(func() { close(release) }) // runs before the server's cleanup
	tr := newTestTransport(t, Options{})
	req, _ := http.NewRequest(http.MethodPost, srv.URL(), strings.NewReader("{}"))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 10))
		done <- err
	}()
	// Give the Read time to block on the network; if Close comes first,
	// the Read fails at once all the same.
	time.Sleep(10 * time.Millisecond)
	resp.Body.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("the blocked Read returned no error after Close")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not end the blocked Read")
	}
	if _, err := resp.Body.Read(make([]byte, 1)); !errors.Is(err, errBodyClosed) {
		t.Errorf("Read after Close: %v, want errBodyClosed", err)
	}
	if n := tr.idleCount(hostPort(mustURL(t, srv.URL()))); n != 0 {
		t.Errorf("%d connections pooled, want 0", n)
	}
}

// TestBrokenResponses: malformed or cut answers are errors, never a hang
// or a pooled connection.
func TestBrokenResponses(t *testing.T) {
	tests := []struct {
		name     string
		answer   string
		wantErr  string // in RoundTrip's error; empty: RoundTrip succeeds
		wantRead string // in the body read's error
	}{
		{name: "garbage", answer: "SPDY/9 what\r\n\r\n", wantErr: "malformed HTTP"},
		{name: "closed without an answer", answer: "", wantErr: "closed the connection without answering"},
		{name: "cut header", answer: "HTTP/1.1 200 OK\r\nContent-Le", wantErr: "reading the response"},
		{name: "body shorter than its length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", wantRead: "unexpected EOF"},
		{name: "cut chunked body", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", wantRead: "unexpected EOF"},
		{name: "bad chunk size", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n", wantRead: "chunk"},
		{name: "switching protocols", answer: "HTTP/1.1 101 Switching Protocols\r\n\r\n", wantErr: "switched protocols"},
		{name: "header too large", answer: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 2000) + "\r\n\r\n", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, _, err := readRequest(br); err != nil {
					return
				}
				io.WriteString(c, tt.answer)
			})
			tr := newTestTransport(t, Options{MaxResponseHeaderBytes: 1024})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL(), strings.NewReader("{}"))
			resp, err := tr.RoundTrip(req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("RoundTrip error %v, want one containing %q", err, tt.wantErr)
				}
				if tt.name == "header too large" && !errors.Is(err, ErrHeaderTooLarge) {
					t.Errorf("error %v is not ErrHeaderTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil || !strings.Contains(err.Error(), tt.wantRead) {
				t.Errorf("body read error %v, want one containing %q", err, tt.wantRead)
			}
			if n := tr.idleCount(hostPort(mustURL(t, srv.URL()))); n != 0 {
				t.Errorf("%d connections pooled after a broken answer, want 0", n)
			}
		})
	}
}

// TestInformationalResponsesAreSkipped: 100 Continue and 103 Early Hints
// before the final answer are not the answer.
func TestInformationalResponsesAreSkipped(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"+
			"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone")
	})
	tr := newTestTransport(t, Options{})
	resp, body := do(t, tr, http.MethodPost, srv.URL(), "{}")
	if resp.StatusCode != 201 || body != "done" {
		t.Errorf("got %d %q, want 201 done", resp.StatusCode, body)
	}
}

// TestInvalidRequests are refused before anything is sent.
func TestInvalidRequests(t *testing.T) {
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the server got %s %s", r.Method, r.URL)
	}))
	tests := []struct {
		name   string
		modify func(*http.Request)
	}{
		{name: "header value with a line break", modify: func(r *http.Request) { r.Header["X-A"] = []string{"a\r\nX-Injected: 1"} }},
		{name: "header name with a space", modify: func(r *http.Request) { r.Header["Bad Name"] = []string{"v"} }},
		{name: "method with a space", modify: func(r *http.Request) { r.Method = "GET /x" }},
		{name: "body shorter than ContentLength", modify: func(r *http.Request) { r.ContentLength = 100 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTestTransport(t, Options{})
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
			tt.modify(req)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("the request was sent")
			}
		})
	}
}

// TestFallback: what this transport does not serve goes to the fallback.
func TestFallback(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("tls")) }))
	defer tlsSrv.Close()
	plain := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("plain")) }))
	proxyURL, _ := url.Parse("http://proxy.invalid:3128")
	tests := []struct {
		name     string
		url      string
		body     io.Reader
		header   string
		proxy    bool
		fallback bool
	}{
		{name: "plain http", url: plain.URL, body: strings.NewReader("{}")},
		{name: "https", url: tlsSrv.URL, fallback: true},
		{name: "through a proxy", url: plain.URL, proxy: true, fallback: true},
		{name: "body of unknown length", url: plain.URL, body: io.MultiReader(strings.NewReader("{}")), fallback: true},
		{name: "body over MaxBodyBytes", url: plain.URL, body: strings.NewReader(strings.Repeat("x", DefaultMaxBodyBytes+1)), fallback: true},
		{name: "body of MaxBodyBytes", url: plain.URL, body: strings.NewReader(strings.Repeat("x", DefaultMaxBodyBytes))},
		{name: "expect continue", url: plain.URL, body: strings.NewReader("{}"), header: "Expect", fallback: true},
		{name: "upgrade", url: plain.URL, header: "Upgrade", fallback: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var used atomic.Bool
			std := tlsSrv.Client().Transport
			opts := Options{Fallback: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				used.Store(true)
				return std.RoundTrip(r)
			})}
			if tt.proxy {
				opts.Proxy = func(*http.Request) (*url.URL, error) { return proxyURL, nil }
			}
			tr := New(opts)
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodPost, tt.url, tt.body)
			if tt.header == "Expect" {
				req.Header.Set("Expect", "100-continue")
			}
			if tt.header == "Upgrade" {
				req.Header.Set("Upgrade", "websocket")
			}
			if tt.proxy {
				// Not sent: the fallback would try to reach the proxy.
				if tr.serves(req) {
					t.Error("a proxied request is served directly")
				}
				return
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if used.Load() != tt.fallback {
				t.Errorf("fallback used: %v, want %v", used.Load(), tt.fallback)
			}
		})
	}
}

// TestIdlePool: the pool keeps at most MaxIdleConnsPerHost connections and
// closes one idle for IdleConnTimeout.
func TestIdlePool(t *testing.T) {
	release := make(chan struct{})
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte("ok"))
	}))
	tr := newTestTransport(t, Options{MaxIdleConnsPerHost: 2, IdleConnTimeout: 50 * time.Millisecond})
	done := make(chan struct{})
	for range 3 {
		go func() {
			defer func() { done <- struct{}{} }()
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	waitFor(t, "three requests are in flight", func() bool { return srv.conns.Load() == 3 })
	close(release)
	for range 3 {
		<-done
	}
	addr := hostPort(mustURL(t, srv.URL))
	if n := tr.idleCount(addr); n != 2 {
		t.Errorf("%d idle connections after 3 answers, want MaxIdleConnsPerHost 2", n)
	}
	waitFor(t, "the idle connections expired", func() bool { return tr.idleCount(addr) == 0 })
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
