package app_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/servicetest"
	"github.com/tollgate/tollgate/internal/store"
)

// redisLimits is the limits block for the Redis backend at url.
func redisLimits(url, onError string) string {
	return fmt.Sprintf("  backend: redis\n  redis: {url: %q, on_error: %s, timeout: 200ms}\n", url, onError)
}

func TestRedisBackendEnforcesRPM(t *testing.T) {
	g := newGateway(t, fmt.Sprintf(govConfig, redisLimits(servicetest.RedisURL(t), "fail_closed")))
	secret := g.newKey(t, store.Key{Limits: store.Limits{RPM: 3}}) // a fresh key ID: fresh counters
	body := chatBody("sim-chat", "hi", "")
	for i := range 3 {
		resp, _ := g.mustCall(t, secret, body, http.StatusOK)
		if got, want := resp.Header.Get("x-ratelimit-remaining-requests"), fmt.Sprint(2-i); got != want {
			t.Errorf("request %d: remaining-requests = %q, want %q", i+1, got, want)
		}
	}
	resp, b := g.mustCall(t, secret, body, http.StatusTooManyRequests)
	lb := decodeLimit(t, b)
	if lb.code() != "rate_limit_exceeded" || !strings.Contains(lb.Error.Message, "key RPM 3") {
		t.Errorf("refusal %q (%s), want rate_limit_exceeded naming key RPM 3", lb.code(), lb.Error.Message)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "20" {
		t.Errorf("Retry-After = %q, want 20 (3 per minute, rounded up)", ra)
	}
}

func TestRedisUnreachable(t *testing.T) {
	dead := "redis://" + strings.TrimSuffix(strings.TrimPrefix(closedURL(t), "http://"), "/v1") + "/0"
	for _, tt := range []struct {
		policy string
		status int
		code   string
	}{
		{"fail_closed", http.StatusServiceUnavailable, "limits_unavailable"},
		{"fail_open", http.StatusOK, ""},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			g := newGateway(t, fmt.Sprintf(govConfig, redisLimits(dead, tt.policy)))
			secret := g.newKey(t, store.Key{Limits: store.Limits{RPM: 1}})
			for range 3 { // fail open: the RPM of 1 is not enforced
				resp, b := g.mustCall(t, secret, chatBody("sim-chat", "hi", ""), tt.status)
				if tt.code == "" {
					continue
				}
				checkLimitEnvelope(t, resp, b)
				if lb := decodeLimit(t, b); lb.code() != tt.code || resp.Header.Get("Retry-After") != "1" {
					t.Errorf("code %q Retry-After %q, want %s and 1", lb.code(), resp.Header.Get("Retry-After"), tt.code)
				}
			}
			// A key without limits never needs Redis.
			g.mustCall(t, g.key, chatBody("sim-chat", "hi", ""), http.StatusOK)
		})
	}
}

// TestRedisRecovers puts a proxy between tollgate and Redis, takes it down
// and brings it back: tollgate fails closed while Redis is away and serves
// (and limits) again by itself once it returns.
func TestRedisRecovers(t *testing.T) {
	u, err := url.Parse(servicetest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := newToggleProxy(t, u.Host)
	u.Host = p.addr()
	g := newGateway(t, fmt.Sprintf(govConfig, redisLimits(u.String(), "fail_closed")))
	secret := g.newKey(t, store.Key{Limits: store.Limits{RPM: 1000}})
	body := chatBody("sim-chat", "hi", "")
	g.mustCall(t, secret, body, http.StatusOK)
	p.setDown(true)
	g.mustCall(t, secret, body, http.StatusServiceUnavailable)
	g.mustCall(t, secret, body, http.StatusServiceUnavailable)
	p.setDown(false)
	// A pooled connection cut by the outage may fail one more request.
	deadline := time.Now().Add(3 * time.Second)
	for {
		resp, b := g.call(t, secret, body)
		if resp.StatusCode == http.StatusOK {
			if got := resp.Header.Get("x-ratelimit-limit-requests"); got != "1000" {
				t.Errorf("after recovery: limit-requests %q, want 1000 (counted in Redis again)", got)
			}
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after Redis returned: status %d: %s", resp.StatusCode, b)
		}
	}
}

// toggleProxy forwards TCP connections to a target until it is set down;
// while down it cuts every open connection and refuses new ones (accepting
// and closing them at once).
type toggleProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newToggleProxy(t *testing.T, target string) *toggleProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &toggleProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.setDown(true)
		p.wg.Wait()
	})
	return p
}

func (p *toggleProxy) addr() string { return p.ln.Addr().String() }

func (p *toggleProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			_ = c.Close()
		}
	}
}

// track registers c unless the proxy is down.
func (p *toggleProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *toggleProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		_ = c.Close()
	}
}

func (p *toggleProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(c, up) {
			_ = c.Close()
			_ = up.Close()
			continue
		}
		p.wg.Go(func() {
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				done <- struct{}{}
			}
			go pipe(up, c)
			go pipe(c, up)
			<-done
			p.untrack(c, up) // closing both ends the other copy
			<-done
		})
	}
}
