package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store"
)

// AdminKeys is the key side of AdminStore.
type AdminKeys interface {
	CreateKey(ctx context.Context, k store.Key) (store.Key, error)
	GetKey(ctx context.Context, idOrName string) (store.Key, error)
	ListKeys(ctx context.Context) ([]store.Key, error)
	UpdateKey(ctx context.Context, k store.Key) (store.Key, error)
	RevokeKey(ctx context.Context, idOrName string, at time.Time) (store.Key, error)
}

// AdminGroups is the group side of AdminStore.
type AdminGroups interface {
	PutGroup(ctx context.Context, g store.Group) (store.Group, error)
	GetGroup(ctx context.Context, name string) (store.Group, error)
	ListGroups(ctx context.Context) ([]store.Group, error)
}

// AdminPrices is the price side of AdminStore.
type AdminPrices interface {
	PutPrice(ctx context.Context, p store.Price) (store.Price, error)
	ListPrices(ctx context.Context) ([]store.Price, error)
}

// AdminBalances is the prepaid-balance side of AdminStore.
type AdminBalances interface {
	AddCredit(ctx context.Context, c store.Credit) (store.Credit, error)
	OwnerTotals(ctx context.Context, owner string) (credited, spent store.Money, err error)
}

// AdminStore is what the governance admin API (/admin/keys, groups,
// prices, credits, owners) reads and writes; every store.Store satisfies
// it. Implementations must be safe for concurrent use.
type AdminStore interface {
	AdminKeys
	AdminGroups
	AdminPrices
	AdminBalances
}

// Every store backend can serve the admin API.
var _ AdminStore = store.Store(nil)

// adminRoutes registers the governance admin API on mux. Every route is
// logged, authenticated and open to admin keys only.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.Handle("/admin/keys", s.adminAPI(map[string]http.HandlerFunc{
		http.MethodGet: s.adminListKeys, http.MethodPost: s.adminCreateKey}))
	mux.Handle("/admin/keys/{id}", s.adminAPI(map[string]http.HandlerFunc{
		http.MethodGet: s.adminGetKey, http.MethodPatch: s.adminPatchKey}))
	mux.Handle("/admin/keys/{id}/revoke", s.adminAPI(map[string]http.HandlerFunc{http.MethodPost: s.adminRevokeKey}))
	mux.Handle("/admin/keys/{id}/rotate", s.adminAPI(map[string]http.HandlerFunc{http.MethodPost: s.adminRotateKey}))
	mux.Handle("/admin/groups", s.adminAPI(map[string]http.HandlerFunc{http.MethodGet: s.adminListGroups}))
	mux.Handle("/admin/groups/{name}", s.adminAPI(map[string]http.HandlerFunc{
		http.MethodGet: s.adminGetGroup, http.MethodPut: s.adminPutGroup}))
	mux.Handle("/admin/prices", s.adminAPI(map[string]http.HandlerFunc{http.MethodGet: s.adminListPrices}))
	mux.Handle("/admin/prices/{model...}", s.adminAPI(map[string]http.HandlerFunc{
		http.MethodGet: s.adminGetPrice, http.MethodPut: s.adminPutPrice}))
	mux.Handle("/admin/credits", s.adminAPI(map[string]http.HandlerFunc{http.MethodPost: s.adminAddCredit}))
	mux.Handle("/admin/owners/{owner}", s.adminAPI(map[string]http.HandlerFunc{http.MethodGet: s.adminGetOwner}))
	if logs, ok := s.opts.Admin.(AdminLogs); ok {
		s.adminLogRoutes(mux, logs) // admin_logs.go
	}
}

// adminAPI wraps admin handlers by method: request log, 405 for other
// methods (naming the allowed ones), authentication, admin keys only.
func (s *Server) adminAPI(byMethod map[string]http.HandlerFunc) http.Handler {
	methods := make([]string, 0, len(byMethod))
	for m := range byMethod {
		methods = append(methods, m)
	}
	slices.Sort(methods)
	allowed := strings.Join(methods, ", ")
	return s.logged(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := byMethod[r.Method]
		if !ok {
			w.Header().Set("Allow", allowed)
			s.writeError(w, r, &apiError{Status: http.StatusMethodNotAllowed, Type: typeInvalidRequest, Code: "method_not_allowed",
				Message: "Method " + r.Method + " is not allowed on " + clip(r.URL.Path, 200) + "; use " + allowed + "."})
			return
		}
		s.authenticated(s.adminOnly(h)).ServeHTTP(w, r)
	}))
}

// keyChanged tells the owner of the key cache about a write, so this
// instance applies it at once instead of at its next poll.
func (s *Server) keyChanged(k store.Key) {
	if s.opts.OnKeyChange != nil {
		s.opts.OnKeyChange(k)
	}
}

// adminKeyView is a key in the admin API. The secret appears only in the
// answers to create and rotate; Key is the masked form.
type adminKeyView struct {
	Object    string     `json:"object"`
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Key       string     `json:"key"`
	Status    string     `json:"status"`
	Models    []string   `json:"models"`
	Admin     bool       `json:"admin"`
	Owner     string     `json:"owner"`
	Group     string     `json:"group"`
	Env       string     `json:"env"`
	IPAllow   []string   `json:"ip_allow"`
	Limits    limitsJSON `json:"limits"`
	LogBodies bool       `json:"log_bodies"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Secret    string     `json:"secret,omitempty"`
}

func (s *Server) keyView(k store.Key) adminKeyView {
	v := adminKeyView{Object: "key", ID: k.ID, Name: k.Name, Key: auth.Mask(k.Last4), Status: "active",
		Models: k.Models, Admin: k.Admin, Owner: k.Owner, Group: k.Group, Env: k.Env, IPAllow: k.IPAllow,
		Limits: limitsOut(k.Limits), LogBodies: k.LogBodies, ExpiresAt: timeOrNil(k.ExpiresAt), RevokedAt: timeOrNil(k.RevokedAt),
		CreatedAt: k.CreatedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC()}
	if v.Models == nil {
		v.Models = []string{}
	}
	if v.IPAllow == nil {
		v.IPAllow = []string{}
	}
	switch {
	case !k.RevokedAt.IsZero():
		v.Status = "revoked"
	case !k.ExpiresAt.IsZero() && !s.opts.Now().Before(k.ExpiresAt):
		v.Status = "expired"
	}
	return v
}

// keyRequest is the body of POST /admin/keys and PATCH /admin/keys/{id}.
// In a PATCH, only the fields present change; an empty list or string
// clears ("expires_at": "" means never).
type keyRequest struct {
	Name      *string         `json:"name"`
	Models    *[]string       `json:"models"`
	Admin     *bool           `json:"admin"`
	Owner     *string         `json:"owner"`
	Group     *string         `json:"group"`
	Env       *string         `json:"env"`
	IPAllow   *[]string       `json:"ip_allow"`
	Limits    json.RawMessage `json:"limits"`
	LogBodies *bool           `json:"log_bodies"`
	ExpiresAt *string         `json:"expires_at"`
}

// keyRequestFields returns the JSON names of keyRequest.
func keyRequestFields() []string {
	return []string{"name", "models", "admin", "owner", "group", "env", "ip_allow", "limits", "log_bodies", "expires_at"}
}

// applyKeyRequest validates req and changes the fields of k it sets.
func (s *Server) applyKeyRequest(ctx context.Context, req keyRequest, k *store.Key) error {
	if req.Name != nil {
		if k.Name = strings.TrimSpace(*req.Name); k.Name == "" {
			return invalidField("name", "`name` must not be empty")
		}
	}
	if req.Models != nil {
		for _, p := range *req.Models {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				return invalidField("models", "`models` holds "+quote(p)+", which is not a valid model pattern")
			}
		}
		k.Models = slices.Clone(*req.Models)
	}
	if req.IPAllow != nil {
		pfx, err := auth.ParseIPAllow(*req.IPAllow)
		if err != nil {
			return invalidField("ip_allow", "`ip_allow` must list CIDRs such as 10.0.0.0/8 or single addresses: "+strings.TrimPrefix(err.Error(), "auth: "))
		}
		k.IPAllow = nil
		for _, p := range pfx {
			k.IPAllow = append(k.IPAllow, p.String())
		}
	}
	if req.ExpiresAt != nil {
		k.ExpiresAt = time.Time{}
		if *req.ExpiresAt != "" {
			t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
			if err != nil {
				return invalidField("expires_at", "`expires_at` must be an RFC 3339 time such as 2027-01-01T00:00:00Z, or \"\" for never")
			}
			if !t.After(s.opts.Now()) {
				return invalidField("expires_at", "`expires_at` is in the past")
			}
			k.ExpiresAt = t
		}
	}
	for _, f := range []struct {
		src *string
		dst *string
	}{{req.Owner, &k.Owner}, {req.Env, &k.Env}, {req.Group, &k.Group}} {
		if f.src != nil {
			*f.dst = strings.TrimSpace(*f.src)
		}
	}
	if req.Admin != nil {
		k.Admin = *req.Admin
	}
	if req.LogBodies != nil {
		k.LogBodies = *req.LogBodies
	}
	if req.Group != nil && k.Group != "" {
		if _, err := s.opts.Admin.GetGroup(ctx, k.Group); errors.Is(err, store.ErrNotFound) {
			return invalidField("group", "there is no group "+quote(k.Group)+"; create it first with PUT /admin/groups/"+k.Group)
		} else if err != nil {
			return err
		}
	}
	return applyLimits(&k.Limits, req.Limits, "limits")
}

func quote(s string) string { return "`" + clip(s, 200) + "`" }

// keyNotFound is the 404 for an unknown key id or name.
func keyNotFound(idOrName string) *apiError {
	return notFoundError("key_not_found", "The key "+quote(idOrName)+" (an id or a name)")
}

// keyConflict maps a store write error for key k.
func keyConflict(err error, k store.Key) error {
	return storeError(err, keyNotFound(k.ID), "name", "A key named "+quote(k.Name)+" already exists; pick another name.")
}

// adminListKeys answers GET /admin/keys.
func (s *Server) adminListKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.opts.Admin.ListKeys(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]adminKeyView, len(keys))
	for i, k := range keys {
		out[i] = s.keyView(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": out})
}

// adminCreateKey answers POST /admin/keys: 201 with the key and, this
// once, its secret.
func (s *Server) adminCreateKey(w http.ResponseWriter, r *http.Request) {
	var req keyRequest
	if _, err := decodeAdmin(w, r, &req, keyRequestFields()...); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Name == nil {
		s.writeError(w, r, invalidField("name", "`name` is required"))
		return
	}
	var k store.Key
	if err := s.applyKeyRequest(r.Context(), req, &k); err != nil {
		s.writeError(w, r, err)
		return
	}
	secret, err := auth.NewSecret()
	if err == nil {
		k.ID, err = auth.NewKeyID()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	k.Hash, k.Last4 = auth.Hash(secret), auth.Last4(secret)
	created, err := s.opts.Admin.CreateKey(r.Context(), k)
	if err != nil {
		s.writeError(w, r, keyConflict(err, k))
		return
	}
	s.keyChanged(created)
	v := s.keyView(created)
	v.Secret = secret
	writeJSON(w, http.StatusCreated, v)
}

// adminGetKey answers GET /admin/keys/{id}; the id may also be a name.
func (s *Server) adminGetKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.findKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.keyView(k))
}

// findKey loads the key named by the {id} path value.
func (s *Server) findKey(r *http.Request) (store.Key, error) {
	id := r.PathValue("id")
	k, err := s.opts.Admin.GetKey(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Key{}, keyNotFound(id)
	}
	return k, err
}

// adminPatchKey answers PATCH /admin/keys/{id}: only the fields present
// change.
func (s *Server) adminPatchKey(w http.ResponseWriter, r *http.Request) {
	var req keyRequest
	if _, err := decodeAdmin(w, r, &req, keyRequestFields()...); err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := s.findKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.applyKeyRequest(r.Context(), req, &k); err != nil {
		s.writeError(w, r, err)
		return
	}
	k.UpdatedAt = time.Time{}
	updated, err := s.opts.Admin.UpdateKey(r.Context(), k)
	if err != nil {
		s.writeError(w, r, keyConflict(err, k))
		return
	}
	s.keyChanged(updated)
	writeJSON(w, http.StatusOK, s.keyView(updated))
}

// adminRevokeKey answers POST /admin/keys/{id}/revoke. Revoking twice
// keeps the first revocation time.
func (s *Server) adminRevokeKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	k, err := s.opts.Admin.RevokeKey(r.Context(), id, s.opts.Now())
	if err != nil {
		s.writeError(w, r, storeError(err, keyNotFound(id), "", ""))
		return
	}
	s.keyChanged(k)
	writeJSON(w, http.StatusOK, s.keyView(k))
}

// adminRotateKey answers POST /admin/keys/{id}/rotate: the key gets a new
// secret, returned this once; the old one stops working.
func (s *Server) adminRotateKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.findKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !k.RevokedAt.IsZero() {
		s.writeError(w, r, &apiError{Status: http.StatusConflict, Type: typeInvalidRequest, Code: "key_revoked",
			Message: "The key " + quote(k.Name) + " is revoked and cannot be rotated; create a new key instead."})
		return
	}
	secret, err := auth.NewSecret()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	k.Hash, k.Last4, k.UpdatedAt = auth.Hash(secret), auth.Last4(secret), time.Time{}
	rotated, err := s.opts.Admin.UpdateKey(r.Context(), k)
	if err != nil {
		s.writeError(w, r, keyConflict(err, k))
		return
	}
	s.keyChanged(rotated)
	v := s.keyView(rotated)
	v.Secret = secret
	writeJSON(w, http.StatusOK, v)
}
