// Package money converts store.Money amounts to and from decimal text
// such as "12.50" exactly, with integer arithmetic only: one currency
// unit is 1,000,000 micro-units, so six decimal places are representable
// and nothing is ever rounded.
package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/internal/store"
)

// Unit is one whole currency unit in store.Money micro-units.
const Unit store.Money = 1_000_000

// scale is the number of decimal places a store.Money can hold.
const scale = 6

// maxInputLen bounds the text Parse looks at, so hostile input cannot make
// it work hard; 40 characters hold any int64 amount with room to spare.
const maxInputLen = 40

// ErrSyntax is returned (wrapped) when the text is not a decimal amount.
var ErrSyntax = errors.New("money: not a decimal amount")

// ErrRange is returned (wrapped) when the amount does not fit in a
// store.Money, or has non-zero digits beyond the sixth decimal place
// (which would need rounding).
var ErrRange = errors.New("money: amount out of range")

// Parse converts decimal text into micro-units exactly. It accepts an
// optional sign, digits, and optionally a point followed by digits:
// "12", "12.5", "-0.75", "+3", ".5". Digits beyond the sixth decimal
// place must be zeros. It rejects empty text, exponents, spaces, thousands
// separators, "5." and anything that would overflow.
func Parse(s string) (store.Money, error) {
	if len(s) > maxInputLen {
		return 0, fmt.Errorf("%w: %d characters is too long", ErrSyntax, len(s))
	}
	text := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" && frac == "" || hasPoint && frac == "" || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%w: %q (want e.g. 12.50)", ErrSyntax, text)
	}
	if len(frac) > scale {
		if strings.Trim(frac[scale:], "0") != "" {
			return 0, fmt.Errorf("%w: %q has more than %d decimal places", ErrRange, text, scale)
		}
		frac = frac[:scale]
	}
	frac += strings.Repeat("0", scale-len(frac))
	// Accumulate as a negative number so that the most negative int64 is
	// reachable; -(-2^63) is not.
	var n int64
	for _, c := range []byte(whole + frac) {
		d := int64(c - '0')
		if n < (math.MinInt64+d)/10 {
			return 0, fmt.Errorf("%w: %q", ErrRange, text)
		}
		n = n*10 - d
	}
	if !neg {
		if n == math.MinInt64 {
			return 0, fmt.Errorf("%w: %q", ErrRange, text)
		}
		n = -n
	}
	return store.Money(n), nil
}

// digits reports whether s is all ASCII digits (true for "").
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Format renders m as decimal text that Parse reads back to the same
// value: at least two and at most six decimal places, trailing zeros past
// the second trimmed, e.g. "12.50", "0.075", "0.000001", "-3.00".
func Format(m store.Money) string {
	u := uint64(m)
	sign := ""
	if m < 0 {
		u = -u // two's complement: correct even for the most negative value
		sign = "-"
	}
	whole := strconv.FormatUint(u/uint64(Unit), 10)
	frac := strconv.FormatUint(u%uint64(Unit), 10)
	frac = strings.Repeat("0", scale-len(frac)) + frac
	frac = strings.TrimRight(frac, "0")
	if len(frac) < 2 {
		frac += strings.Repeat("0", 2-len(frac))
	}
	return sign + whole + "." + frac
}

// Amount is a store.Money that travels in JSON as a decimal string, such
// as "12.50", so that no client has to pass it through a float. It also
// reads a bare JSON number, taking its literal text exactly.
type Amount store.Money

// MarshalJSON implements json.Marshaler.
func (a Amount) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, Format(store.Money(a))), nil
}

// UnmarshalJSON implements json.Unmarshaler. It accepts a JSON string or
// number holding text Parse accepts; null leaves a unchanged.
func (a *Amount) UnmarshalJSON(b []byte) error {
	text := string(b)
	if text == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var err error
		if text, err = strconv.Unquote(text); err != nil {
			return fmt.Errorf("%w: %s", ErrSyntax, b)
		}
	}
	m, err := Parse(text)
	if err != nil {
		return err
	}
	*a = Amount(m)
	return nil
}
