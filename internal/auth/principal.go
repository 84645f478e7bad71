package auth

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"time"

	"github.com/tollgate/tollgate/internal/store"
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
	// Owner is who the key's spend is billed to; empty for none.
	Owner string
	// Group names the key's group; empty for none.
	Group string
	// Env is the key's environment label, such as "test" or "live".
	Env string
	// IPAllow lists the networks the key may be used from, parsed once
	// when the cache loaded the key; empty allows any address (see
	// AllowsIP). The slice is shared and must not be modified.
	IPAllow []netip.Prefix
	// Limits are the key's own limits; zero fields inherit the group's.
	Limits store.Limits
	// LogBodies makes the request log keep this key's request bodies and
	// answers; off for every key unless an operator turns it on.
	LogBodies bool

	// ipDenyAll is set when the stored allow-list could not be parsed: a
	// key whose restriction cannot be honoured is usable from nowhere.
	ipDenyAll bool
}

// AllowsIP reports whether p may be used from addr. An empty IPAllow
// allows every address; otherwise addr must lie in one of the prefixes.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 prefixes. An
// invalid addr is allowed only by an empty list, and a key whose stored
// list was malformed allows nothing.
func (p Principal) AllowsIP(addr netip.Addr) bool {
	if p.ipDenyAll {
		return false
	}
	if len(p.IPAllow) == 0 {
		return true
	}
	unmapped := addr.Unmap()
	for _, pfx := range p.IPAllow {
		if pfx.Contains(unmapped) || pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// ParseIPAllow parses an allow-list as stored in store.Key.IPAllow: each
// entry is a CIDR prefix ("10.0.0.0/8", "2001:db8::/32") or a single
// address, which stands for itself alone (/32 or /128). Prefixes are
// returned masked ("10.1.2.3/8" becomes 10.0.0.0/8) and IPv4-mapped IPv6
// entries are unmapped. It fails on the first entry it cannot parse.
func ParseIPAllow(entries []string) ([]netip.Prefix, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		pfx, err := parseIPEntry(e)
		if err != nil {
			return nil, err
		}
		out = append(out, pfx)
	}
	return out, nil
}

// parseIPEntry parses one allow-list entry.
func parseIPEntry(e string) (netip.Prefix, error) {
	if addr, err := netip.ParseAddr(e); err == nil {
		if addr.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("auth: IP allow-list entry %q: zones are not allowed", e)
		}
		addr = addr.Unmap()
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	pfx, err := netip.ParsePrefix(e)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("auth: IP allow-list entry %q is not a CIDR such as 10.0.0.0/8 or an address", e)
	}
	if a := pfx.Addr(); a.Is4In6() {
		// ::ffff:10.0.0.0/104 is the IPv4 network 10.0.0.0/8.
		if pfx.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("auth: IP allow-list entry %q: an IPv4-mapped prefix needs at least 96 bits", e)
		}
		pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	return pfx.Masked(), nil
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
