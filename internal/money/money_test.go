package money_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/tollgate/tollgate/internal/money"
	"github.com/tollgate/tollgate/internal/store"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    store.Money
		wantErr error
	}{
		{"whole", "12", 12_000_000, nil},
		{"cents", "12.50", 12_500_000, nil},
		{"one decimal", "12.5", 12_500_000, nil},
		{"price per million", "0.075", 75_000, nil},
		{"smallest unit", "0.000001", 1, nil},
		{"six places", "1.234567", 1_234_567, nil},
		{"trailing zeros past six places", "1.50000000", 1_500_000, nil},
		{"leading point", ".5", 500_000, nil},
		{"leading zeros", "007.00", 7_000_000, nil},
		{"zero", "0", 0, nil},
		{"negative zero", "-0.0", 0, nil},
		{"plus sign", "+3", 3_000_000, nil},
		{"negative", "-0.75", -750_000, nil},
		{"largest", "9223372036854.775807", math.MaxInt64, nil},
		{"most negative", "-9223372036854.775808", math.MinInt64, nil},
		{"just too large", "9223372036854.775808", 0, money.ErrRange},
		{"far too large", "99999999999999999999", 0, money.ErrRange},
		{"too negative", "-9223372036854.775809", 0, money.ErrRange},
		{"seventh place would round", "0.0000001", 0, money.ErrRange},
		{"float artefact", "0.1000000000000000055", 0, money.ErrRange},
		{"empty", "", 0, money.ErrSyntax},
		{"sign only", "-", 0, money.ErrSyntax},
		{"point only", ".", 0, money.ErrSyntax},
		{"trailing point", "5.", 0, money.ErrSyntax},
		{"two points", "1.2.3", 0, money.ErrSyntax},
		{"exponent", "1e3", 0, money.ErrSyntax},
		{"space", " 1", 0, money.ErrSyntax},
		{"thousands separator", "1,000", 0, money.ErrSyntax},
		{"currency sign", "$5", 0, money.ErrSyntax},
		{"double sign", "--1", 0, money.ErrSyntax},
		{"comma decimal", "0,5", 0, money.ErrSyntax},
		{"hex", "0x10", 0, money.ErrSyntax},
		{"unicode digit", "١", 0, money.ErrSyntax},
		{"too long", "0.00000000000000000000000000000000000000000", 0, money.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := money.Parse(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		in   store.Money
		want string
	}{
		{"zero", 0, "0.00"},
		{"whole", 12_000_000, "12.00"},
		{"cents", 12_500_000, "12.50"},
		{"three places", 75_000, "0.075"},
		{"smallest unit", 1, "0.000001"},
		{"negative", -750_000, "-0.75"},
		{"negative smallest", -1, "-0.000001"},
		{"largest", math.MaxInt64, "9223372036854.775807"},
		{"most negative", math.MinInt64, "-9223372036854.775808"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := money.Format(tt.in)
			if got != tt.want {
				t.Fatalf("Format(%d) = %q, want %q", tt.in, got, tt.want)
			}
			back, err := money.Parse(got)
			if err != nil || back != tt.in {
				t.Errorf("Parse(Format(%d)) = %d, %v", tt.in, back, err)
			}
		})
	}
}

func TestAmountJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    money.Amount
		wantErr bool
	}{
		{"string", `"12.50"`, 12_500_000, false},
		{"number literal is read exactly", `0.1`, 100_000, false},
		{"null leaves the value", `null`, 7, false},
		{"bad string", `"twelve"`, 7, true},
		{"exponent number", `1e2`, 7, true},
		{"too precise", `"0.0000001"`, 7, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := money.Amount(7)
			err := json.Unmarshal([]byte(tt.in), &a)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if a != tt.want {
				t.Errorf("Unmarshal(%s) = %d, want %d", tt.in, a, tt.want)
			}
		})
	}
	b, err := json.Marshal(struct{ A money.Amount }{12_500_000})
	if err != nil || string(b) != `{"A":"12.50"}` {
		t.Errorf("Marshal = %s, %v", b, err)
	}
}

// FuzzParse checks that Parse never panics, and that whatever it accepts
// formats back to text it reads as the same value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"12.50", "0.000001", "-0.75", ".5", "5.", "1e3", "9223372036854.775807",
		"-9223372036854.775808", "9223372036854.775808", "0.10000000", "+", "", "١"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := money.Parse(s)
		if err != nil {
			if !errors.Is(err, money.ErrSyntax) && !errors.Is(err, money.ErrRange) {
				t.Fatalf("Parse(%q) error %v is neither ErrSyntax nor ErrRange", s, err)
			}
			return
		}
		text := money.Format(m)
		back, err := money.Parse(text)
		if err != nil || back != m {
			t.Fatalf("Parse(%q) = %d; Format = %q; Parse again = %d, %v", s, m, text, back, err)
		}
	})
}
