package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Endpoint label values, the only ones Request.Endpoint may take; any
// other value is counted as EndpointOther.
const (
	EndpointChat        = "chat"
	EndpointCompletions = "completions"
	EndpointEmbeddings  = "embeddings"
	EndpointModels      = "models"
	EndpointAdmin       = "admin"
	EndpointOther       = "other"
)

// Scope label values for RateLimited; any other value is counted as
// "other".
const (
	ScopeKey    = "key"
	ScopeGroup  = "group"
	ScopeModel  = "model"
	ScopeGlobal = "global"
)

// Timeout phase label values for Attempt.Phase; any other value is counted
// as "other", and an empty one as "unknown".
const (
	PhaseConnect        = "connect"
	PhaseResponseHeader = "response_header"
	PhaseFirstToken     = "first_token"
	PhaseIdle           = "idle"
	PhaseBody           = "body"
	PhaseTotal          = "total"
)

// Fallback label values.
const (
	labelNone    = "none"    // an empty free-form label or channel
	labelOther   = "other"   // a value outside the allowed set
	labelUnknown = "unknown" // an unresolved model or unnamed phase
	resultOK     = "ok"      // a successful attempt
	classTimeout = "timeout" // the class whose attempts count by phase
)

// maxFreeLabel is the longest free-form label value kept as is.
const maxFreeLabel = 40

// maxNameLabel is the longest model or channel name kept as is. Configured
// names are far shorter; the cap only guards against a caller passing
// something that is not a configured name.
const maxNameLabel = 128

var (
	endpointNames = [...]string{EndpointChat, EndpointCompletions, EndpointEmbeddings, EndpointModels, EndpointAdmin, EndpointOther}
	scopeNames    = [...]string{ScopeKey, ScopeGroup, ScopeModel, ScopeGlobal, labelOther}
	phaseNames    = [...]string{PhaseConnect, PhaseResponseHeader, PhaseFirstToken, PhaseIdle, PhaseBody, PhaseTotal, labelOther, labelUnknown}
	streamNames   = [...]string{"false", "true"}
)

// endpointIndex returns the index of e in endpointNames, mapping unknown
// values to EndpointOther.
func endpointIndex(e string) int {
	switch e {
	case EndpointChat:
		return 0
	case EndpointCompletions:
		return 1
	case EndpointEmbeddings:
		return 2
	case EndpointModels:
		return 3
	case EndpointAdmin:
		return 4
	}
	return 5
}

// scopeIndex returns the index of s in scopeNames, mapping unknown values
// to "other".
func scopeIndex(s string) int {
	switch s {
	case ScopeKey:
		return 0
	case ScopeGroup:
		return 1
	case ScopeModel:
		return 2
	case ScopeGlobal:
		return 3
	}
	return 4
}

// phaseIndex returns the index of p in phaseNames, mapping an empty phase
// to "unknown" and any other unlisted one to "other".
func phaseIndex(p string) int {
	switch p {
	case PhaseConnect:
		return 0
	case PhaseResponseHeader:
		return 1
	case PhaseFirstToken:
		return 2
	case PhaseIdle:
		return 3
	case PhaseBody:
		return 4
	case PhaseTotal:
		return 5
	case "":
		return 7
	}
	return 6
}

func streamIndex(stream bool) int {
	if stream {
		return 1
	}
	return 0
}

// freeLabel bounds a free-form label value (an error type, class or
// reason): a value of at most 40 characters from [a-z0-9_] is kept, an
// empty one becomes "none" and anything else "other". It never allocates.
func freeLabel(s string) string {
	if s == "" {
		return labelNone
	}
	if len(s) > maxFreeLabel {
		return labelOther
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return labelOther
		}
	}
	return s
}

// nameLabel bounds a configured name (a model or channel) that the caller
// has already checked against the configuration: empty becomes def, and a
// value that cannot be a configured name (too long, or not UTF-8, which
// would make the Prometheus client panic) becomes "other".
func nameLabel(s, def string) string {
	switch {
	case s == "":
		return def
	case len(s) > maxNameLabel || !utf8.ValidString(s):
		return labelOther
	}
	return s
}

// statusLabel formats an HTTP status code; codes outside 100-599 are
// "other".
func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return labelOther
	}
	return strconv.Itoa(code)
}

// maxCached is how many label combinations a childCache holds. Past it,
// lookups go to the Prometheus vector each time: still correct, only
// slower.
const maxCached = 4096

// childCache maps a label combination to its child collectors so that the
// hot path neither formats labels nor hashes them through the Prometheus
// vector. The map is copy-on-write: a lookup is a lock-free read of an
// immutable map and allocates nothing, and the rare new combination copies
// the map under mu. It is safe for concurrent use.
type childCache[K comparable, V any] struct {
	m     atomic.Pointer[map[K]V]
	mu    sync.Mutex // serializes writers
	build func(K) V  // builds the children of a new combination
}

func newChildCache[K comparable, V any](build func(K) V) *childCache[K, V] {
	return &childCache[K, V]{build: build}
}

// get returns the children for k, building them on first use.
func (c *childCache[K, V]) get(k K) V {
	m := c.m.Load()
	if m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
		if len(*m) >= maxCached {
			return c.build(k)
		}
	}
	return c.add(k)
}

func (c *childCache[K, V]) add(k K) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	var n int
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
		n = len(*old)
	}
	v := c.build(k)
	next := make(map[K]V, n+1)
	if old != nil {
		for ck, cv := range *old {
			next[ck] = cv
		}
	}
	next[k] = v
	c.m.Store(&next)
	return v
}
