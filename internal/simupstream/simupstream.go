// Package simupstream is tollgate's built-in simulated upstream: an
// http.Handler that speaks the OpenAI API (chat completions, legacy
// completions, embeddings, models) with deterministic answers, per-model
// timing and scriptable faults.
//
// Users point clients or tollgate channels at it to try configurations
// without a provider account; every tollgate test uses it as the upstream,
// either behind httptest.NewServer or in-process through Transport.
//
// Answers are deterministic: the same model and prompt always produce the
// same words (see Simulator.Answer), so tests can compare what a client
// assembled with what the simulator sent. A chat request with tools (and a
// tool_choice other than "none") is answered with one call to the first
// tool, or to the tool tool_choice names. The simulator always produces a
// single choice and ignores sampling fields, "n" and "stop".
//
// A chat request whose last message is an assistant message without tool
// calls is an assistant prefill, the way a client continues an answer that
// broke off: the simulator answers only the rest of the answer it would
// give without that message (see Profile.RejectPrefill).
package simupstream

import (
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/internal/openai"
)

// Defaults applied when a Profile leaves a field at zero.
const (
	DefaultLength        = 24
	DefaultEmbeddingDims = 16
	maxEmbeddingDims     = 8192
	maxBodyBytes         = 32 << 20
	modelCreated         = 1735689600 // 2025-01-01T00:00:00Z, fixed so the model list is deterministic
	modelOwner           = "tollgate-simulator"
)

// Profile is how the simulator behaves for one model. The zero Profile
// answers at once with DefaultLength words.
type Profile struct {
	// Latency is the wait before response headers are sent, on every
	// endpoint but the model list; "status" and "reset" faults happen
	// after it.
	Latency time.Duration
	// FirstTokenDelay is, for streams, the wait after the headers and the
	// role chunk before the first content chunk.
	FirstTokenDelay time.Duration
	// TokensPerSecond paces stream content chunks (one token per chunk);
	// 0 sends them as fast as possible.
	TokensPerSecond float64
	// Length is the completion length in tokens (words); 0 means
	// DefaultLength. The request's max_completion_tokens or max_tokens
	// clips it, and the finish reason is then "length".
	Length int
	// EmbeddingDims is the embedding vector size; 0 means
	// DefaultEmbeddingDims. The request's "dimensions" wins.
	EmbeddingDims int
	// RejectPrefill makes the model refuse an assistant prefill (a chat
	// request whose last message is an assistant message without tool
	// calls) with 400 invalid_request_error, param "messages", code
	// "prefill_unsupported". When false, the prefill is continued: if its
	// text P is a prefix of the answer A the request would get without
	// the prefill (same model, last user message and length rules), only
	// A[len(P):] is answered, and completion_tokens counts just those
	// pieces, so P plus the answer is A byte for byte. When P is not a
	// prefix of A the whole of A is answered (a real model would continue
	// P with other text instead). A rejected request still counts in
	// Requests and takes part in the fault decision; a fault that replaces
	// the response (status, reset, no_response) wins over the rejection.
	RejectPrefill bool
	// Fault is the fault injected into this model's requests.
	Fault Fault
}

// Options configure a Simulator. The zero Options serve every model with
// the zero Profile and list no models.
type Options struct {
	// Profiles holds the behaviour per model name; the map is copied.
	Profiles map[string]Profile
	// Default is the behaviour of models not in Profiles.
	Default Profile
	// Models are the names GET /v1/models lists, in order. If nil, the
	// sorted names of the current profiles are listed.
	Models []string
	// Seed seeds the PRNG that decides fractional fault probabilities and
	// the ids of responses.
	Seed int64
	// Now returns the current time for "created" fields; nil means
	// time.Now. It is called concurrently.
	Now func() time.Time
}

// Simulator is the simulated OpenAI upstream. It implements http.Handler
// and is safe for concurrent use. Create it with New.
type Simulator struct {
	now    func() time.Time
	seed   uint64
	models []string // from Options; nil lists profile names
	seq    atomic.Uint64

	mu       sync.Mutex
	profiles map[string]Profile
	def      Profile
	state    map[string]*modelState
	rng      *rand.Rand
}

// modelState counts what one model received. Guarded by Simulator.mu.
type modelState struct {
	requests  int
	sinceSet  int    // requests since the profile was set; drives Fault.Every
	faultHits int    // requests the fault applied to since the profile was set
	last      []byte // body of the last counted request
}

var _ http.Handler = (*Simulator)(nil)

// New returns a Simulator configured by opts.
func New(opts Options) *Simulator {
	s := &Simulator{
		now:      opts.Now,
		seed:     uint64(opts.Seed),
		models:   slices.Clone(opts.Models),
		profiles: maps.Clone(opts.Profiles),
		def:      opts.Default,
		state:    make(map[string]*modelState),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.profiles == nil {
		s.profiles = make(map[string]Profile)
	}
	s.rng = newRand(s.seed)
	return s
}

func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// SetProfile sets the behaviour of model from now on and restarts the
// counts of its Fault.Times and Fault.Every. Requests already running keep
// the profile they started with: each request reads its profile once, when
// it is counted, so flipping profiles while requests run is safe.
func (s *Simulator) SetProfile(model string, p Profile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.profiles[model] = p
	if st := s.state[model]; st != nil {
		st.faultHits, st.sinceSet = 0, 0
	}
}

// Profile returns the behaviour the simulator applies to model.
func (s *Simulator) Profile(model string) Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.profileLocked(model)
}

func (s *Simulator) profileLocked(model string) Profile {
	if p, ok := s.profiles[model]; ok {
		return p
	}
	return s.def
}

// Requests returns how many well-formed requests named model (counted
// after the body was decoded, before any fault or delay).
func (s *Simulator) Requests(model string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.state[model]; st != nil {
		return st.requests
	}
	return 0
}

// LastRequest returns a copy of the body of the last request for model
// that Requests counted (the most recently counted one when requests run
// concurrently), or nil if there was none. Tests use it to check what a
// client sent upstream.
func (s *Simulator) LastRequest(model string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.state[model]; st != nil && st.last != nil {
		return slices.Clone(st.last)
	}
	return nil
}

// Reset zeroes the request and fault counters of every model, forgets the
// last requests and reseeds the fault PRNG, so a run after Reset repeats the decisions of a fresh
// Simulator.
func (s *Simulator) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.state)
	s.rng = newRand(s.seed)
}

// ModelNames returns the names GET /v1/models lists.
func (s *Simulator) ModelNames() []string {
	if s.models != nil {
		return slices.Clone(s.models)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.profiles))
}

// call is one request's model, behaviour and identity.
type call struct {
	model   string
	profile Profile
	fault   Fault // zero Kind when the request is served healthily
	id      string
	created int64
}

// begin counts a request for model, keeps its body and decides whether
// its fault applies. body is not retained.
func (s *Simulator) begin(model, id string, body []byte) *call {
	s.mu.Lock()
	st := s.state[model]
	if st == nil {
		st = new(modelState)
		s.state[model] = st
	}
	st.requests++
	st.sinceSet++
	st.last = append(st.last[:0], body...)
	c := &call{model: model, profile: s.profileLocked(model), id: id}
	if s.faultApplies(c.profile.Fault, st) {
		c.fault = c.profile.Fault
	}
	s.mu.Unlock()
	c.created = s.now().Unix()
	return c
}

// faultApplies rolls the dice for f. Called with s.mu held.
func (s *Simulator) faultApplies(f Fault, st *modelState) bool {
	if f.Kind == FaultNone {
		return false
	}
	if f.Every > 1 && st.sinceSet%f.Every != 0 {
		return false
	}
	if f.Times > 0 && st.faultHits >= f.Times {
		return false
	}
	if f.Probability > 0 && f.Probability < 1 && s.rng.Float64() >= f.Probability {
		return false
	}
	st.faultHits++
	return true
}

// nextID returns a fresh deterministic hex id.
func (s *Simulator) nextID() string {
	return hex64(mix64(s.seed ^ mix64(s.seq.Add(1))))
}

// ServeHTTP routes OpenAI API paths, with or without the /v1 prefix.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := s.nextID()
	w.Header().Set("X-Request-Id", "req_sim_"+id)
	path := r.URL.Path
	if strings.HasPrefix(path, "/v1/") {
		path = path[len("/v1"):]
	}
	switch {
	case path == "/chat/completions":
		if allow(w, r, http.MethodPost) {
			s.serveChat(w, r, id)
		}
	case path == "/responses":
		if allow(w, r, http.MethodPost) {
			s.serveResponses(w, r, id)
		}
	case path == "/messages":
		if allow(w, r, http.MethodPost) {
			s.serveMessages(w, r, id)
		}
	case strings.HasPrefix(path, "/v1beta/"): // the Gemini dialect, see gemini.go
		s.serveGemini(w, r, id, path[len("/v1beta"):])
	case path == "/completions":
		if allow(w, r, http.MethodPost) {
			s.serveCompletion(w, r, id)
		}
	case path == "/embeddings":
		if allow(w, r, http.MethodPost) {
			s.serveEmbeddings(w, r, id)
		}
	case path == "/models":
		if allow(w, r, http.MethodGet) {
			s.serveModels(w)
		}
	case strings.HasPrefix(path, "/models/"):
		if allow(w, r, http.MethodGet) {
			s.serveModel(w, strings.TrimPrefix(path, "/models/"))
		}
	default:
		writeError(w, http.StatusNotFound, openai.NewError(openai.TypeInvalidRequest, "unknown_url", "",
			"Invalid URL ("+r.Method+" "+r.URL.Path+")"))
	}
}

// allow answers 405 unless r uses method (GET also admits HEAD).
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, openai.NewError(openai.TypeInvalidRequest, "method_not_allowed", "",
		"Method "+r.Method+" is not allowed for "+r.URL.Path+"; use "+method+"."))
	return false
}

func (s *Simulator) serveModels(w http.ResponseWriter) {
	names := s.ModelNames()
	list := openai.ModelList{Object: openai.ObjectList, Data: make([]openai.Model, len(names))}
	for i, n := range names {
		list.Data[i] = modelEntry(n)
	}
	writeValue(w, http.StatusOK, list)
}

func (s *Simulator) serveModel(w http.ResponseWriter, id string) {
	if slices.Contains(s.ModelNames(), id) {
		writeValue(w, http.StatusOK, modelEntry(id))
		return
	}
	writeError(w, http.StatusNotFound, openai.NewError(openai.TypeInvalidRequest, "model_not_found", "model",
		"The model `"+id+"` does not exist or you do not have access to it."))
}

func modelEntry(name string) openai.Model {
	return openai.Model{ID: name, Object: openai.ObjectModel, Created: modelCreated, OwnedBy: modelOwner}
}
