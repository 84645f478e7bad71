package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/router"
	"github.com/tollgate/tollgate/internal/server"
	"github.com/tollgate/tollgate/internal/store"
	"github.com/tollgate/tollgate/internal/store/sqlite"
)

// adminEnv is a server with the admin API on an in-memory store, an admin
// key and a normal key.
type adminEnv struct {
	srv         *httptest.Server
	st          *sqlite.Store
	keys        *auth.Cache
	admin, user string // secrets
	changed     chan store.Key
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.MemoryPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := &adminEnv{st: st, keys: auth.NewCache(st, auth.CacheOptions{}), changed: make(chan store.Key, 100)}
	e.admin = e.seedKey(t, "root", true)
	e.user = e.seedKey(t, "user", false)
	if err := e.keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	routes, err := router.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := server.New(server.Options{Keys: e.keys, Routes: routes, Admin: st, OnKeyChange: func(k store.Key) {
		e.keys.Apply(k)
		e.changed <- k
	}})
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *adminEnv) seedKey(t *testing.T, name string, admin bool) string {
	t.Helper()
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	id, err := auth.NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateKey(context.Background(), store.Key{ID: id, Name: name, Hash: auth.Hash(secret), Last4: auth.Last4(secret), Admin: admin}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// call sends one request and returns the status, the decoded JSON body
// and the raw body.
func (e *adminEnv) call(t *testing.T, secret, method, path, body string) (int, map[string]any, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, string(raw)
}

// errorField returns error.<name> of an OpenAI-shaped error body.
func errorField(m map[string]any, name string) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e[name].(string)
	return s
}

func TestAdminAPIAccess(t *testing.T) {
	e := newAdminEnv(t)
	routes := []struct{ method, path, body string }{
		{"GET", "/admin/keys", ""},
		{"POST", "/admin/keys", `{"name":"x"}`},
		{"GET", "/admin/keys/root", ""},
		{"PATCH", "/admin/keys/root", `{"env":"x"}`},
		{"POST", "/admin/keys/root/revoke", ""},
		{"POST", "/admin/keys/root/rotate", ""},
		{"GET", "/admin/groups", ""},
		{"GET", "/admin/groups/g", ""},
		{"PUT", "/admin/groups/g", `{}`},
		{"GET", "/admin/prices", ""},
		{"GET", "/admin/prices/m", ""},
		{"PUT", "/admin/prices/m", `{"input":"1","output":"1"}`},
		{"POST", "/admin/credits", `{"owner":"o","amount":"1"}`},
		{"GET", "/admin/owners/o", ""},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			if code, m, _ := e.call(t, "", rt.method, rt.path, rt.body); code != http.StatusUnauthorized || errorField(m, "code") != "invalid_api_key" {
				t.Errorf("without a key: %d %v, want 401 invalid_api_key", code, m)
			}
			if code, m, _ := e.call(t, e.user, rt.method, rt.path, rt.body); code != http.StatusForbidden || errorField(m, "code") != "admin_required" {
				t.Errorf("with a normal key: %d %v, want 403 admin_required", code, m)
			}
		})
	}
}

func TestAdminKeysLifecycle(t *testing.T) {
	e := newAdminEnv(t)
	if code, _, body := e.call(t, e.admin, "PUT", "/admin/groups/gold", `{"limits":{"rpm":100}}`); code != http.StatusOK {
		t.Fatalf("put group: %d %s", code, body)
	}

	// Create: 201 with the secret, once, and the cache knows it at once.
	code, created, body := e.call(t, e.admin, "POST", "/admin/keys", `{"name":"svc","owner":"acme","group":"gold","env":"live",
		"models":["sim-*"],"ip_allow":["10.1.2.3/8"],"limits":{"rpm":60,"daily_cost":"12.50","monthly_budget":300},"log_bodies":true}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	secret, _ := created["secret"].(string)
	id, _ := created["id"].(string)
	if !auth.LooksLikeKey(secret) || created["key"] != auth.Mask(auth.Last4(secret)) || created["status"] != "active" {
		t.Fatalf("create answer: %s", body)
	}
	limits, _ := created["limits"].(map[string]any)
	if limits["rpm"] != 60.0 || limits["daily_cost"] != "12.50" || limits["monthly_budget"] != "300.00" ||
		created["owner"] != "acme" || created["group"] != "gold" || created["env"] != "live" || created["log_bodies"] != true {
		t.Fatalf("create answer fields: %s", body)
	}
	if ips, _ := created["ip_allow"].([]any); len(ips) != 1 || ips[0] != "10.0.0.0/8" {
		t.Errorf("ip_allow = %v, want the masked CIDR", created["ip_allow"])
	}
	if k := <-e.changed; k.ID != id {
		t.Errorf("OnKeyChange got %s, want %s", k.ID, id)
	}
	p, err := e.keys.Lookup(secret)
	if err != nil || p.Owner != "acme" || p.Limits.DailyCost != 12_500_000 || !p.LogBodies {
		t.Fatalf("Lookup(new secret) = %+v, %v", p, err)
	}

	// Reads never show the secret.
	for _, path := range []string{"/admin/keys", "/admin/keys/" + id, "/admin/keys/svc"} {
		code, m, body := e.call(t, e.admin, "GET", path, "")
		if code != http.StatusOK || strings.Contains(body, secret) || strings.Contains(body, `"secret"`) {
			t.Errorf("GET %s: %d, leaks the secret or fails: %s", path, code, body)
		}
		if path != "/admin/keys" && m["id"] != id {
			t.Errorf("GET %s: id %v, want %s", path, m["id"], id)
		}
	}

	// Patch changes only what it names; an empty list clears.
	code, patched, body := e.call(t, e.admin, "PATCH", "/admin/keys/svc", `{"models":[],"limits":{"rpm":0,"tpm":500},"env":"test"}`)
	if code != http.StatusOK {
		t.Fatalf("patch: %d %s", code, body)
	}
	limits, _ = patched["limits"].(map[string]any)
	if models, _ := patched["models"].([]any); len(models) != 0 || patched["env"] != "test" || patched["owner"] != "acme" ||
		limits["rpm"] != nil || limits["tpm"] != 500.0 || limits["daily_cost"] != "12.50" || patched["log_bodies"] != true {
		t.Fatalf("patch answer: %s", body)
	}
	<-e.changed
	if code, patched, body := e.call(t, e.admin, "PATCH", "/admin/keys/svc", `{"log_bodies":false}`); code != http.StatusOK ||
		patched["log_bodies"] != false || patched["env"] != "test" {
		t.Fatalf("patch log_bodies off: %d %s", code, body)
	}
	<-e.changed

	// Rotate: a new secret, the old one is refused at once.
	code, rotated, body := e.call(t, e.admin, "POST", "/admin/keys/"+id+"/rotate", "")
	if code != http.StatusOK {
		t.Fatalf("rotate: %d %s", code, body)
	}
	fresh, _ := rotated["secret"].(string)
	if !auth.LooksLikeKey(fresh) || fresh == secret || rotated["id"] != id {
		t.Fatalf("rotate answer: %s", body)
	}
	<-e.changed
	if _, err := e.keys.Lookup(secret); !errors.Is(err, auth.ErrInvalidKey) {
		t.Errorf("old secret after rotate: %v, want ErrInvalidKey", err)
	}
	if _, err := e.keys.Lookup(fresh); err != nil {
		t.Errorf("new secret after rotate: %v", err)
	}

	// Revoke, and a revoked key cannot be rotated.
	if code, m, body := e.call(t, e.admin, "POST", "/admin/keys/svc/revoke", ""); code != http.StatusOK || m["status"] != "revoked" || m["revoked_at"] == nil {
		t.Fatalf("revoke: %d %s", code, body)
	}
	<-e.changed
	if _, err := e.keys.Lookup(fresh); !errors.Is(err, auth.ErrRevokedKey) {
		t.Errorf("secret after revoke: %v, want ErrRevokedKey", err)
	}
	if code, m, _ := e.call(t, e.admin, "POST", "/admin/keys/svc/rotate", ""); code != http.StatusConflict || errorField(m, "code") != "key_revoked" {
		t.Errorf("rotate revoked: %d %v, want 409 key_revoked", code, m)
	}
}

func TestAdminKeyErrors(t *testing.T) {
	e := newAdminEnv(t)
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantCode   string
		wantParam  string
	}{
		{"missing name", "POST", "/admin/keys", `{"owner":"acme"}`, 400, "invalid_value", "name"},
		{"empty name", "POST", "/admin/keys", `{"name":"  "}`, 400, "invalid_value", "name"},
		{"duplicate name", "POST", "/admin/keys", `{"name":"user"}`, 409, "conflict", "name"},
		{"rename onto another key", "PATCH", "/admin/keys/user", `{"name":"root"}`, 409, "conflict", "name"},
		{"unknown field", "POST", "/admin/keys", `{"name":"x","owners":"acme"}`, 400, "invalid_value", "owners"},
		{"unknown limit", "POST", "/admin/keys", `{"name":"x","limits":{"rmp":5}}`, 400, "invalid_value", "limits.rmp"},
		{"limits not an object", "POST", "/admin/keys", `{"name":"x","limits":[1]}`, 400, "invalid_value", "limits"},
		{"negative limit", "POST", "/admin/keys", `{"name":"x","limits":{"rpm":-1}}`, 400, "invalid_value", "limits.rpm"},
		{"fractional limit", "POST", "/admin/keys", `{"name":"x","limits":{"tpm":1.5}}`, 400, "invalid_value", "limits.tpm"},
		{"money too precise", "POST", "/admin/keys", `{"name":"x","limits":{"daily_cost":"0.0000001"}}`, 400, "invalid_value", "limits.daily_cost"},
		{"money as exponent", "POST", "/admin/keys", `{"name":"x","limits":{"monthly_budget":1e3}}`, 400, "invalid_value", "limits.monthly_budget"},
		{"negative money", "POST", "/admin/keys", `{"name":"x","limits":{"monthly_budget":"-1"}}`, 400, "invalid_value", "limits.monthly_budget"},
		{"bad CIDR", "POST", "/admin/keys", `{"name":"x","ip_allow":["10.0.0.0/33"]}`, 400, "invalid_value", "ip_allow"},
		{"bad pattern", "POST", "/admin/keys", `{"name":"x","models":["[a"]}`, 400, "invalid_value", "models"},
		{"unknown group", "POST", "/admin/keys", `{"name":"x","group":"nope"}`, 400, "invalid_value", "group"},
		{"expiry in the past", "POST", "/admin/keys", `{"name":"x","expires_at":"2001-01-01T00:00:00Z"}`, 400, "invalid_value", "expires_at"},
		{"expiry not a time", "POST", "/admin/keys", `{"name":"x","expires_at":"tomorrow"}`, 400, "invalid_value", "expires_at"},
		{"wrong type", "POST", "/admin/keys", `{"name":"x","admin":"yes"}`, 400, "invalid_value", "admin"},
		{"bad JSON", "POST", "/admin/keys", `{"name":`, 400, "invalid_json", ""},
		{"not an object", "POST", "/admin/keys", `[]`, 400, "invalid_json", ""},
		{"empty body", "POST", "/admin/keys", ``, 400, "invalid_json", ""},
		{"too large", "POST", "/admin/keys", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "request_too_large", ""},
		{"unknown key", "GET", "/admin/keys/nobody", "", 404, "key_not_found", ""},
		{"patch unknown key", "PATCH", "/admin/keys/nobody", `{"env":"x"}`, 404, "key_not_found", ""},
		{"revoke unknown key", "POST", "/admin/keys/nobody/revoke", "", 404, "key_not_found", ""},
		{"rotate unknown key", "POST", "/admin/keys/nobody/rotate", "", 404, "key_not_found", ""},
		{"method not allowed", "DELETE", "/admin/keys/user", "", 405, "method_not_allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m, body := e.call(t, e.admin, tt.method, tt.path, tt.body)
			if code != tt.wantStatus || errorField(m, "code") != tt.wantCode || errorField(m, "param") != tt.wantParam {
				t.Fatalf("%s %s: %d code=%q param=%q, want %d %q %q\n%s", tt.method, tt.path, code, errorField(m, "code"),
					errorField(m, "param"), tt.wantStatus, tt.wantCode, tt.wantParam, clip(body))
			}
			if errorField(m, "message") == "" || errorField(m, "type") == "" {
				t.Errorf("error body is not OpenAI-shaped: %s", clip(body))
			}
		})
	}
	if n, _ := e.st.ListKeys(context.Background()); len(n) != 2 {
		t.Errorf("%d keys stored after only failed writes, want 2", len(n))
	}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func TestAdminGroupsPricesCredits(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	steps := []struct {
		name, method, path, body string
		wantStatus               int
		// want maps top-level answer fields to their expected JSON text.
		want map[string]string
		// wantErr is the error param expected on a 400.
		wantErr string
	}{
		{name: "put group", method: "PUT", path: "/admin/groups/gold", body: `{"models":["gpt-*"],"limits":{"rpm":600,"monthly_budget":"1000"},"price_multiplier":"0.8"}`,
			wantStatus: 200, want: map[string]string{"name": `"gold"`, "price_multiplier": `"0.80"`, "models": `["gpt-*"]`, "limits": `{"rpm":600,"monthly_budget":"1000.00"}`}},
		{name: "put replaces the whole group", method: "PUT", path: "/admin/groups/gold", body: `{"limits":{"tpm":5}}`,
			wantStatus: 200, want: map[string]string{"price_multiplier": `"1.00"`, "models": `[]`, "limits": `{"tpm":5}`}},
		{name: "get group", method: "GET", path: "/admin/groups/gold", wantStatus: 200, want: map[string]string{"limits": `{"tpm":5}`}},
		{name: "unknown group", method: "GET", path: "/admin/groups/tin", wantStatus: 404},
		{name: "zero multiplier", method: "PUT", path: "/admin/groups/x", body: `{"price_multiplier":"0"}`, wantStatus: 400, wantErr: "price_multiplier"},
		{name: "bad group pattern", method: "PUT", path: "/admin/groups/x", body: `{"models":["[a"]}`, wantStatus: 400, wantErr: "models"},
		{name: "list groups", method: "GET", path: "/admin/groups", wantStatus: 200, want: map[string]string{"object": `"list"`}},

		{name: "put price with a slash in the model", method: "PUT", path: "/admin/prices/openai/gpt-4o-mini", body: `{"input":"0.15","output":"0.60","cached_input":"0.075"}`,
			wantStatus: 200, want: map[string]string{"model": `"openai/gpt-4o-mini"`, "input": `"0.15"`, "output": `"0.60"`, "cached_input": `"0.075"`}},
		{name: "get price", method: "GET", path: "/admin/prices/openai/gpt-4o-mini", wantStatus: 200, want: map[string]string{"input": `"0.15"`}},
		{name: "unknown price", method: "GET", path: "/admin/prices/nope", wantStatus: 404},
		{name: "price without output", method: "PUT", path: "/admin/prices/m", body: `{"input":"1"}`, wantStatus: 400, wantErr: "output"},
		{name: "negative price", method: "PUT", path: "/admin/prices/m", body: `{"input":"-1","output":"1"}`, wantStatus: 400, wantErr: "input"},
		{name: "price with float noise", method: "PUT", path: "/admin/prices/m", body: `{"input":"0.1500000001","output":"1"}`, wantStatus: 400, wantErr: "input"},
		{name: "list prices", method: "GET", path: "/admin/prices", wantStatus: 200, want: map[string]string{"object": `"list"`}},

		{name: "add credit", method: "POST", path: "/admin/credits", body: `{"owner":"acme","amount":"25.00","note":"invoice 7"}`,
			wantStatus: 201, want: map[string]string{"owner": `"acme"`, "amount": `"25.00"`, "note": `"invoice 7"`, "balance": `"25.00"`}},
		{name: "correction", method: "POST", path: "/admin/credits", body: `{"owner":"acme","amount":"-0.000001"}`,
			wantStatus: 201, want: map[string]string{"amount": `"-0.000001"`, "balance": `"24.999999"`}},
		{name: "credit without owner", method: "POST", path: "/admin/credits", body: `{"amount":"1"}`, wantStatus: 400, wantErr: "owner"},
		{name: "credit without amount", method: "POST", path: "/admin/credits", body: `{"owner":"acme"}`, wantStatus: 400, wantErr: "amount"},
		{name: "zero credit", method: "POST", path: "/admin/credits", body: `{"owner":"acme","amount":"0"}`, wantStatus: 400, wantErr: "amount"},
		{name: "credit as float noise", method: "POST", path: "/admin/credits", body: `{"owner":"acme","amount":0.1000000000000000055}`, wantStatus: 400, wantErr: "amount"},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			code, m, body := e.call(t, e.admin, tt.method, tt.path, tt.body)
			if code != tt.wantStatus {
				t.Fatalf("%d, want %d: %s", code, tt.wantStatus, body)
			}
			if tt.wantErr != "" && errorField(m, "param") != tt.wantErr {
				t.Errorf("param %q, want %q: %s", errorField(m, "param"), tt.wantErr, body)
			}
			var raw map[string]json.RawMessage
			_ = json.Unmarshal([]byte(body), &raw)
			for k, want := range tt.want {
				if got := string(raw[k]); got != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
		})
	}

	// Spend comes from charged request log rows; uncharged ones do not count.
	rows := []store.RequestLog{
		{RequestID: "r1", Time: time.Now(), Owner: "acme", CostMicros: 1_500_000, Charged: true, Status: 200},
		{RequestID: "r2", Time: time.Now(), Owner: "acme", CostMicros: 9_000_000, Charged: false, Status: 502},
	}
	if err := e.st.InsertRequestLogs(ctx, rows); err != nil {
		t.Fatal(err)
	}
	code, _, body := e.call(t, e.admin, "GET", "/admin/owners/acme", "")
	var o map[string]string
	if err := json.Unmarshal([]byte(body), &o); code != 200 || err != nil {
		t.Fatalf("owner: %d %v %s", code, err, body)
	}
	if want := map[string]string{"object": "owner", "owner": "acme", "credited": "24.999999", "spent": "1.50", "balance": "23.499999"}; !mapsEqual(o, want) {
		t.Errorf("owner = %v, want %v", o, want)
	}
	if code, _, body := e.call(t, e.admin, "GET", "/admin/owners/nobody", ""); code != 200 || !strings.Contains(body, `"balance":"0.00"`) {
		t.Errorf("owner without entries: %d %s", code, body)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
