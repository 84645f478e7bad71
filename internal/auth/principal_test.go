package auth_test

import (
	"bytes"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/auth"
	"github.com/tollgate/tollgate/internal/store"
)

func TestPrincipalAllowsIP(t *testing.T) {
	tests := []struct {
		name  string
		allow []string
		addr  string // "" is the zero (invalid) Addr
		want  bool
	}{
		{"empty list allows IPv4", nil, "203.0.113.9", true},
		{"empty list allows IPv6", nil, "2001:db8::1", true},
		{"empty list allows an unknown address", nil, "", true},
		{"IPv4 inside", []string{"10.0.0.0/8"}, "10.200.3.4", true},
		{"IPv4 outside", []string{"10.0.0.0/8"}, "11.0.0.1", false},
		{"IPv4 network edge", []string{"192.168.1.0/24"}, "192.168.1.255", true},
		{"IPv4 one past the edge", []string{"192.168.1.0/24"}, "192.168.2.0", false},
		{"single address", []string{"198.51.100.7"}, "198.51.100.7", true},
		{"single address, neighbour", []string{"198.51.100.7"}, "198.51.100.8", false},
		{"host bits in the CIDR are masked", []string{"10.1.2.3/8"}, "10.9.9.9", true},
		{"second entry matches", []string{"10.0.0.0/8", "172.16.0.0/12"}, "172.20.1.1", true},
		{"IPv6 inside", []string{"2001:db8::/32"}, "2001:db8:1::5", true},
		{"IPv6 outside", []string{"2001:db8::/32"}, "2001:db9::1", false},
		{"IPv6 single address", []string{"::1"}, "::1", true},
		{"v4-mapped v6 client matches an IPv4 prefix", []string{"10.0.0.0/8"}, "::ffff:10.1.2.3", true},
		{"v4-mapped v6 client outside an IPv4 prefix", []string{"10.0.0.0/8"}, "::ffff:11.1.2.3", false},
		{"v4-mapped v6 prefix matches an IPv4 client", []string{"::ffff:10.0.0.0/104"}, "10.1.2.3", true},
		{"IPv4 prefix does not match IPv6", []string{"0.0.0.0/0"}, "2001:db8::1", false},
		{"IPv6 prefix does not match IPv4", []string{"::/0"}, "10.0.0.1", false},
		{"unknown address with a list", []string{"0.0.0.0/0"}, "", false},
		{"invalid CIDR allows nothing", []string{"10.0.0.0/33"}, "10.0.0.1", false},
		{"one invalid entry among good ones allows nothing", []string{"10.0.0.0/8", "bogus"}, "10.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			src := newFakeSource()
			secret, k := newKey(t, 1)
			k.IPAllow = tt.allow
			src.put(k)
			c := auth.NewCache(src, auth.CacheOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			mustRefresh(t, c)
			p, err := c.Lookup(secret)
			if err != nil {
				t.Fatalf("Lookup = %v", err)
			}
			var addr netip.Addr
			if tt.addr != "" {
				addr = netip.MustParseAddr(tt.addr)
			}
			if got := p.AllowsIP(addr); got != tt.want {
				t.Errorf("AllowsIP(%s) with %q = %v, want %v", tt.addr, tt.allow, got, tt.want)
			}
			_, parseErr := auth.ParseIPAllow(tt.allow)
			logged := strings.Contains(logs.String(), "malformed IP allow-list") && strings.Contains(logs.String(), k.ID)
			if logged != (parseErr != nil) {
				t.Errorf("logged a malformed allow-list = %v, want %v; log:\n%s", logged, parseErr != nil, logs.String())
			}
		})
	}
}

func TestParseIPAllow(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr bool
	}{
		{"empty", nil, nil, false},
		{"canonical", []string{"10.0.0.0/8", "2001:db8::/32"}, []string{"10.0.0.0/8", "2001:db8::/32"}, false},
		{"masked", []string{"10.1.2.3/8"}, []string{"10.0.0.0/8"}, false},
		{"address becomes a host prefix", []string{"10.1.2.3", "::1"}, []string{"10.1.2.3/32", "::1/128"}, false},
		{"mapped address is unmapped", []string{"::ffff:10.1.2.3"}, []string{"10.1.2.3/32"}, false},
		{"mapped prefix is unmapped", []string{"::ffff:10.0.0.0/104"}, []string{"10.0.0.0/8"}, false},
		{"mapped prefix too short", []string{"::ffff:0.0.0.0/95"}, nil, true},
		{"prefix too long", []string{"10.0.0.0/33"}, nil, true},
		{"garbage", []string{"office"}, nil, true},
		{"zone", []string{"fe80::1%eth0"}, nil, true},
		{"empty entry", []string{""}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.ParseIPAllow(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseIPAllow(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if !slices.Equal(s, tt.want) {
				t.Errorf("ParseIPAllow(%q) = %q, want %q", tt.in, s, tt.want)
			}
		})
	}
}

func TestCacheFillsGovernanceFields(t *testing.T) {
	src := newFakeSource()
	secret, k := newKey(t, 1)
	k.Owner, k.Group, k.Env = "acme", "gold", "live"
	k.IPAllow = []string{"10.0.0.0/8"}
	k.Limits = store.Limits{RPM: 60, TPM: 1000, Concurrency: 2, DailyCost: 5_000_000, MonthlyBudget: 100_000_000}
	src.put(k)
	c := auth.NewCache(src, auth.CacheOptions{})
	mustRefresh(t, c)
	p, err := c.Lookup(secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.Owner != "acme" || p.Group != "gold" || p.Env != "live" || p.Limits != k.Limits {
		t.Errorf("Principal = %+v, want owner, group, env and limits of %+v", p, k)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}; !slices.Equal(p.IPAllow, want) {
		t.Errorf("IPAllow = %v, want %v", p.IPAllow, want)
	}
}
