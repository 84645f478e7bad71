package auth_test

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tollgate/tollgate/internal/auth"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for i := range 200 {
		s, err := auth.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if !auth.LooksLikeKey(s) || len(s) != auth.SecretLen {
			t.Fatalf("NewSecret() = %q, not a well-formed key", s)
		}
		if seen[s] {
			t.Fatalf("NewSecret() repeated %q after %d calls", s, i)
		}
		seen[s] = true
	}
}

func TestNewKeyID(t *testing.T) {
	a, err := auth.NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a, b} {
		hexPart, ok := strings.CutPrefix(id, "key_")
		if !ok || len(hexPart) != 16 || strings.Trim(hexPart, "0123456789abcdef") != "" {
			t.Errorf("NewKeyID() = %q, want key_ + 16 lowercase hex", id)
		}
	}
	if a == b {
		t.Errorf("NewKeyID() returned %q twice", a)
	}
}

func TestHashMaskLast4(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"hash known vector", auth.Hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"hash empty", auth.Hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"mask", auth.Mask("abcd"), "sk-tg-...abcd"},
		{"last4", auth.Last4("sk-tg-0123456789wxyz"), "wxyz"},
		{"last4 short", auth.Last4("ab"), "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestLooksLikeKey(t *testing.T) {
	valid := "sk-tg-" + strings.Repeat("aZ09", 10)
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"valid", valid, true},
		{"empty", "", false},
		{"prefix only", "sk-tg-", false},
		{"one short", valid[:len(valid)-1], false},
		{"one long", valid + "a", false},
		{"openai key", "sk-" + strings.Repeat("a", 43), false},
		{"wrong prefix", "sk-tx-" + valid[6:], false},
		{"dash in body", valid[:20] + "-" + valid[21:], false},
		{"underscore in body", valid[:20] + "_" + valid[21:], false},
		{"non-ascii in body", valid[:44] + "é", false},
		{"bearer included", "Bearer " + valid, false},
		{"trailing space", valid[:45] + " ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auth.LooksLikeKey(tt.in); got != tt.want {
				t.Errorf("LooksLikeKey(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzLooksLikeKey(f *testing.F) {
	for _, s := range []string{"", "sk-tg-", "sk-tg-" + strings.Repeat("x", 40), "sk-tg-" + strings.Repeat("é", 20), "Bearer sk-tg-abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !auth.LooksLikeKey(s) {
			return
		}
		if len(s) != auth.SecretLen || !strings.HasPrefix(s, auth.SecretPrefix) {
			t.Fatalf("LooksLikeKey(%q) = true with wrong length or prefix", s)
		}
		const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		if strings.Trim(s[len(auth.SecretPrefix):], alphabet) != "" {
			t.Fatalf("LooksLikeKey(%q) = true with a non-base62 body", s)
		}
	})
}

func TestPrincipalAllows(t *testing.T) {
	tests := []struct {
		name   string
		models []string
		model  string
		want   bool
	}{
		{"empty list allows all", nil, "anything", true},
		{"exact", []string{"gpt-4o"}, "gpt-4o", true},
		{"exact mismatch", []string{"gpt-4o"}, "gpt-4o-mini", false},
		{"glob", []string{"gpt-4o*"}, "gpt-4o-mini", true},
		{"second pattern", []string{"claude-*", "gpt-*"}, "gpt-4.1", true},
		{"star does not cross slash", []string{"openai/*"}, "openai/team/gpt", false},
		{"slash glob", []string{"openai/*"}, "openai/gpt-4o", true},
		{"malformed pattern matches nothing", []string{"gpt-[4"}, "gpt-[4", false},
		{"malformed then valid", []string{"[", "gpt-*"}, "gpt-4", true},
		{"empty model", []string{"gpt-*"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := auth.Principal{Models: tt.models}
			if got := p.Allows(tt.model); got != tt.want {
				t.Errorf("Allows(%q) with %q = %v, want %v", tt.model, tt.models, got, tt.want)
			}
		})
	}
}
