package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store"
)

// keyView is the non-secret view of a key printed by the CLI.
type keyView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Key       string     `json:"key"`
	Models    []string   `json:"models"`
	Admin     bool       `json:"admin"`
	Owner     string     `json:"owner"`
	Group     string     `json:"group"`
	Env       string     `json:"env"`
	IPAllow   []string   `json:"ip_allow"`
	Limits    limitsView `json:"limits"`
	LogBodies bool       `json:"log_bodies"`
	Status    string     `json:"status"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Secret    string     `json:"secret,omitempty"`
}

func viewOf(k store.Key, now time.Time) keyView {
	v := keyView{ID: k.ID, Name: k.Name, Key: auth.Mask(k.Last4), Models: k.Models, Admin: k.Admin,
		Owner: k.Owner, Group: k.Group, Env: k.Env, IPAllow: k.IPAllow, Limits: limitsViewOf(k.Limits),
		LogBodies: k.LogBodies, CreatedAt: k.CreatedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC(), Status: "active"}
	if v.Models == nil {
		v.Models = []string{}
	}
	if v.IPAllow == nil {
		v.IPAllow = []string{}
	}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt.UTC()
		v.ExpiresAt = &t
		if !now.Before(k.ExpiresAt) {
			v.Status = "expired"
		}
	}
	if !k.RevokedAt.IsZero() {
		t := k.RevokedAt.UTC()
		v.RevokedAt = &t
		v.Status = "revoked"
	}
	return v
}

// keyFlags are the flags keys create and keys update share.
type keyFlags struct {
	fs                                       *flag.FlagSet
	name, models, expires, owner, group, env *string
	ipAllow                                  *string
	admin, logBodies                         *bool
	limits                                   *limitFlags
}

func addKeyFlags(fs *flag.FlagSet) *keyFlags {
	return &keyFlags{
		fs:      fs,
		name:    fs.String("name", "", "unique `name` for the key"),
		models:  fs.String("models", "", "comma-separated model `patterns` the key may use, e.g. 'gpt-4o*,sim-chat' (empty: all)"),
		expires: fs.String("expires", "", "expiry as a duration from now (e.g. 720h) or an RFC 3339 `time`; 'never' for none"),
		owner:   fs.String("owner", "", "`owner` the key's spend is billed to (a person, project or customer)"),
		group:   fs.String("group", "", "`group` the key belongs to (see tollgate groups)"),
		env:     fs.String("env", "", "environment `label`, e.g. test or live"),
		ipAllow: fs.String("ip-allow", "", "comma-separated `CIDRs` or addresses the key may be used from (empty: any)"),
		admin:   fs.Bool("admin", false, "admin key: it may use the admin API under /admin/, and only the models given with --models"),
		logBodies: fs.Bool("log-bodies", false, "store this key's request bodies and answers in the request log (capped at request_log.max_body_bytes); "+
			"--log-bodies=false stops it"),
		limits: addLimitFlags(fs),
	}
}

// apply changes the fields of k whose flags were given. The group, if
// set, must exist in st.
func (kf *keyFlags) apply(ctx context.Context, st store.Groups, k *store.Key, now time.Time) error {
	set := setFlags(kf.fs)
	if set["name"] {
		if k.Name = strings.TrimSpace(*kf.name); k.Name == "" {
			return fmt.Errorf("%w: --name must not be empty", errUsage)
		}
	}
	if set["models"] {
		k.Models = splitList(*kf.models)
		for _, p := range k.Models {
			if !validPattern(p) {
				return fmt.Errorf("%w: --models: %q is not a valid pattern", errUsage, p)
			}
		}
	}
	if set["expires"] {
		k.ExpiresAt = time.Time{}
		if e := strings.TrimSpace(*kf.expires); e != "" && e != "never" {
			t, err := parseExpiry(e, now)
			if err != nil {
				return fmt.Errorf("%w: --expires: %v", errUsage, err)
			}
			k.ExpiresAt = t
		}
	}
	if set["ip-allow"] {
		ips := splitList(*kf.ipAllow)
		pfx, err := auth.ParseIPAllow(ips)
		if err != nil {
			return fmt.Errorf("%w: --ip-allow: %v", errUsage, strings.TrimPrefix(err.Error(), "auth: "))
		}
		k.IPAllow = nil
		for _, p := range pfx {
			k.IPAllow = append(k.IPAllow, p.String())
		}
	}
	if set["owner"] {
		k.Owner = strings.TrimSpace(*kf.owner)
	}
	if set["env"] {
		k.Env = strings.TrimSpace(*kf.env)
	}
	if set["admin"] {
		k.Admin = *kf.admin
	}
	if set["log-bodies"] {
		k.LogBodies = *kf.logBodies
	}
	if set["group"] {
		k.Group = strings.TrimSpace(*kf.group)
		if err := groupExists(ctx, st, k.Group); err != nil {
			return err
		}
	}
	return kf.limits.apply(&k.Limits)
}

// changesSomething reports whether a flag other than those named was given.
func changesSomething(fs *flag.FlagSet, except ...string) bool {
	for name := range setFlags(fs) {
		if !slices.Contains(except, name) {
			return true
		}
	}
	return false
}

// groupExists checks that a named group exists; "" (no group) is fine.
func groupExists(ctx context.Context, st store.Groups, name string) error {
	if name == "" {
		return nil
	}
	_, err := st.GetGroup(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: --group: there is no group %q; create it first with `tollgate groups put %s`", errUsage, name, name)
	}
	if err != nil {
		return fmt.Errorf("looking up group %s: %w", name, err)
	}
	return nil
}
