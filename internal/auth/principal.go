package auth

import (
	"errors"
	"path"
	"time"
)

// Sentinel errors returned by Cache.Lookup. They carry no secret material
// and are safe to log.
var (
	// ErrMissingKey means the request carried no API key.
	ErrMissingKey = errors.New("auth: missing API key")
	// ErrInvalidKey means the key is malformed or unknown.
	ErrInvalidKey = errors.New("auth: invalid API key")
	// ErrRevokedKey means the key exists but has been revoked.
	ErrRevokedKey = errors.New("auth: API key revoked")
	// ErrExpiredKey means the key exists but its expiry time has passed.
	ErrExpiredKey = errors.New("auth: API key expired")
)

// Principal is who is calling: the identity of an authenticated key. It
// holds no secret.
type Principal struct {
	// KeyID is the key's public ID.
	KeyID string
	// Name is the key's human label.
	Name string
	// Masked is the key's display form, e.g. "sk-tg-...abcd".
	Masked string
	// Models lists the allowed model patterns (path.Match globs); empty
	// means every model. The slice is shared and must not be modified.
	Models []string
	// ExpiresAt is when the key expires; zero means never.
	ExpiresAt time.Time
	// Admin keys may use the admin API. They may call only the models
	// listed in Models, none when it is empty.
	Admin bool
}

// Allows reports whether p may use model. An empty Models list allows every
// model; otherwise model must match at least one pattern with path.Match.
// A malformed pattern matches nothing.
func (p Principal) Allows(model string) bool {
	if len(p.Models) == 0 {
		return !p.Admin
	}
	for _, pattern := range p.Models {
		if ok, err := path.Match(pattern, model); ok && err == nil {
			return true
		}
	}
	return false
}
