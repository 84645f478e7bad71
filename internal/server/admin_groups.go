package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/money"
	"github.com/tollgate/tollgate/internal/store"
)

// groupView is a group in the admin API.
type groupView struct {
	Object string     `json:"object"`
	Name   string     `json:"name"`
	Models []string   `json:"models"`
	Limits limitsJSON `json:"limits"`
	// PriceMultiplier is a decimal string, "1.00" for list price.
	PriceMultiplier string    `json:"price_multiplier"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

func groupViewOf(g store.Group) groupView {
	ppm := g.PriceMultiplierPPM
	if ppm == 0 {
		ppm = int64(money.Unit)
	}
	v := groupView{Object: "group", Name: g.Name, Models: g.Models, Limits: limitsOut(g.Limits),
		PriceMultiplier: money.Format(store.Money(ppm)), CreatedAt: g.CreatedAt.UTC(), UpdatedAt: g.UpdatedAt.UTC()}
	if v.Models == nil {
		v.Models = []string{}
	}
	return v
}

// groupRequest is the body of PUT /admin/groups/{name}, which replaces the
// whole group: fields left out are reset (no model restriction, no
// limits, list price).
type groupRequest struct {
	Models          []string        `json:"models"`
	Limits          json.RawMessage `json:"limits"`
	PriceMultiplier json.RawMessage `json:"price_multiplier"`
}

func groupNotFound(name string) *apiError {
	return notFoundError("group_not_found", "The group "+quote(name))
}

// adminListGroups answers GET /admin/groups.
func (s *Server) adminListGroups(w http.ResponseWriter, r *http.Request) {
	groups, err := s.opts.Admin.ListGroups(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]groupView, len(groups))
	for i, g := range groups {
		out[i] = groupViewOf(g)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": out})
}

// adminGetGroup answers GET /admin/groups/{name}.
func (s *Server) adminGetGroup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	g, err := s.opts.Admin.GetGroup(r.Context(), name)
	if err != nil {
		s.writeError(w, r, storeError(err, groupNotFound(name), "", ""))
		return
	}
	writeJSON(w, http.StatusOK, groupViewOf(g))
}

// adminPutGroup answers PUT /admin/groups/{name}: create or replace.
func (s *Server) adminPutGroup(w http.ResponseWriter, r *http.Request) {
	var req groupRequest
	if _, err := decodeAdmin(w, r, &req, "models", "limits", "price_multiplier"); err != nil {
		s.writeError(w, r, err)
		return
	}
	g := store.Group{Name: r.PathValue("name"), Models: slices.Clone(req.Models)}
	for _, p := range g.Models {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			s.writeError(w, r, invalidField("models", "`models` holds "+quote(p)+", which is not a valid model pattern"))
			return
		}
	}
	if err := applyLimits(&g.Limits, req.Limits, "limits"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.PriceMultiplier) > 0 && string(req.PriceMultiplier) != "null" {
		m, err := parseAmountField(req.PriceMultiplier, "price_multiplier")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if m <= 0 {
			s.writeError(w, r, invalidField("price_multiplier", "`price_multiplier` must be greater than 0, e.g. \"0.8\" for 20% off"))
			return
		}
		g.PriceMultiplierPPM = int64(m)
	}
	stored, err := s.opts.Admin.PutGroup(r.Context(), g)
	if err != nil {
		s.writeError(w, r, storeError(err, nil, "", ""))
		return
	}
	writeJSON(w, http.StatusOK, groupViewOf(stored))
}

// priceView is a model's price in the admin API, in currency per million
// tokens as decimal strings.
type priceView struct {
	Object      string       `json:"object"`
	Model       string       `json:"model"`
	Input       money.Amount `json:"input"`
	Output      money.Amount `json:"output"`
	CachedInput money.Amount `json:"cached_input"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

func priceViewOf(p store.Price) priceView {
	return priceView{Object: "price", Model: p.Model, Input: money.Amount(p.InputPerM), Output: money.Amount(p.OutputPerM),
		CachedInput: money.Amount(p.CachedInputPerM), UpdatedAt: p.UpdatedAt.UTC()}
}

// adminListPrices answers GET /admin/prices.
func (s *Server) adminListPrices(w http.ResponseWriter, r *http.Request) {
	prices, err := s.opts.Admin.ListPrices(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]priceView, len(prices))
	for i, p := range prices {
		out[i] = priceViewOf(p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": out})
}

// adminGetPrice answers GET /admin/prices/{model...}.
func (s *Server) adminGetPrice(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	prices, err := s.opts.Admin.ListPrices(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	i := slices.IndexFunc(prices, func(p store.Price) bool { return p.Model == model })
	if i < 0 {
		s.writeError(w, r, notFoundError("price_not_found", "A price for the model "+quote(model)))
		return
	}
	writeJSON(w, http.StatusOK, priceViewOf(prices[i]))
}

// adminPutPrice answers PUT /admin/prices/{model...} with a body of
// {"input": "0.15", "output": "0.60", "cached_input": "0.075"}, currency
// per million tokens; input and output are required.
func (s *Server) adminPutPrice(w http.ResponseWriter, r *http.Request) {
	var raw map[string]json.RawMessage
	fields, err := decodeAdmin(w, r, &raw, "input", "output", "cached_input")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := store.Price{Model: r.PathValue("model")}
	for _, f := range []struct {
		name     string
		required bool
		dst      *store.Money
	}{{"input", true, &p.InputPerM}, {"output", true, &p.OutputPerM}, {"cached_input", false, &p.CachedInputPerM}} {
		v, ok := fields[f.name]
		if !ok {
			if f.required {
				s.writeError(w, r, invalidField(f.name, "`"+f.name+"` is required (currency per million tokens, e.g. \"0.15\")"))
				return
			}
			continue
		}
		m, err := parseAmountField(v, f.name)
		if err == nil && m < 0 {
			err = invalidField(f.name, "`"+f.name+"` must not be negative")
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		*f.dst = m
	}
	stored, err := s.opts.Admin.PutPrice(r.Context(), p)
	if err != nil {
		s.writeError(w, r, storeError(err, nil, "", ""))
		return
	}
	writeJSON(w, http.StatusOK, priceViewOf(stored))
}

// creditView is a ledger entry in the admin API, with the owner's balance
// after it.
type creditView struct {
	Object  string       `json:"object"`
	ID      int64        `json:"id"`
	Owner   string       `json:"owner"`
	Amount  money.Amount `json:"amount"`
	Note    string       `json:"note"`
	Time    time.Time    `json:"time"`
	Balance money.Amount `json:"balance"`
}

// ownerView is an owner's prepaid balance in the admin API.
type ownerView struct {
	Object   string       `json:"object"`
	Owner    string       `json:"owner"`
	Credited money.Amount `json:"credited"`
	Spent    money.Amount `json:"spent"`
	Balance  money.Amount `json:"balance"`
}

// adminAddCredit answers POST /admin/credits with a body of
// {"owner": "acme", "amount": "25.00", "note": "..."}; a negative amount
// records a correction. It answers 201 with the entry and the new balance.
func (s *Server) adminAddCredit(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Owner  string          `json:"owner"`
		Amount json.RawMessage `json:"amount"`
		Note   string          `json:"note"`
	}
	if _, err := decodeAdmin(w, r, &req, "owner", "amount", "note"); err != nil {
		s.writeError(w, r, err)
		return
	}
	owner := strings.TrimSpace(req.Owner)
	if owner == "" {
		s.writeError(w, r, invalidField("owner", "`owner` is required"))
		return
	}
	if len(req.Amount) == 0 {
		s.writeError(w, r, invalidField("amount", "`amount` is required, as a decimal string such as \"25.00\""))
		return
	}
	amount, err := parseAmountField(req.Amount, "amount")
	if err == nil && amount == 0 {
		err = invalidField("amount", "`amount` must not be zero")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.opts.Admin.AddCredit(r.Context(), store.Credit{Owner: owner, Amount: amount, Note: req.Note})
	if err != nil {
		s.writeError(w, r, storeError(err, nil, "", ""))
		return
	}
	credited, spent, err := s.opts.Admin.OwnerTotals(r.Context(), owner)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, creditView{Object: "credit", ID: c.ID, Owner: c.Owner, Amount: money.Amount(c.Amount),
		Note: c.Note, Time: c.Time.UTC(), Balance: money.Amount(credited - spent)})
}

// adminGetOwner answers GET /admin/owners/{owner}: credited, spent and
// balance over all time. An owner with no entries has zero totals.
func (s *Server) adminGetOwner(w http.ResponseWriter, r *http.Request) {
	owner := r.PathValue("owner")
	credited, spent, err := s.opts.Admin.OwnerTotals(r.Context(), owner)
	if errors.Is(err, store.ErrInvalid) {
		err = invalidField("owner", "the owner must not be empty")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ownerView{Object: "owner", Owner: owner, Credited: money.Amount(credited),
		Spent: money.Amount(spent), Balance: money.Amount(credited - spent)})
}
