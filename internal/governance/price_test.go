package governance

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/tollgate/tollgate/internal/store"
)

// exactCost is the reference: the whole sum in arbitrary precision, scaled
// by the multiplier and rounded down once.
func exactCost(p Price, prompt, cached, completion int64) store.Money {
	cached = min(cached, prompt)
	cp := p.CachedInputPerM
	if cp == 0 {
		cp = p.InputPerM
	}
	mult := p.MultiplierPPM
	if mult <= 0 {
		mult = 1_000_000
	}
	sum := new(big.Int).Mul(big.NewInt(int64(p.InputPerM)), big.NewInt(prompt-cached))
	sum.Add(sum, new(big.Int).Mul(big.NewInt(int64(cp)), big.NewInt(cached)))
	sum.Add(sum, new(big.Int).Mul(big.NewInt(int64(p.OutputPerM)), big.NewInt(completion)))
	sum.Mul(sum, big.NewInt(mult))
	sum.Quo(sum, big.NewInt(1_000_000_000_000))
	return store.Money(sum.Int64())
}

func TestPriceCost(t *testing.T) {
	const dollar = 1_000_000 // Money units per currency unit
	tests := []struct {
		name                       string
		price                      Price
		prompt, cached, completion int64
		want                       store.Money
	}{
		{"free model", Price{}, 1000, 0, 1000, 0},
		{"input and output", Price{Price: store.Price{InputPerM: 3 * dollar, OutputPerM: 15 * dollar}},
			1000, 0, 500, 3000 + 7500},
		{"cached tokens at the cached price", Price{Price: store.Price{InputPerM: 1 * dollar, CachedInputPerM: dollar / 2}},
			1000, 400, 0, 600 + 200},
		{"cached price unset charges the input price", Price{Price: store.Price{InputPerM: 1 * dollar}},
			1000, 400, 0, 1000},
		{"more cached than prompt counts the prompt once", Price{Price: store.Price{InputPerM: 2 * dollar, CachedInputPerM: 1 * dollar}},
			100, 500, 0, 100},
		{"multiplier 0.8", Price{Price: store.Price{InputPerM: 1 * dollar, OutputPerM: 2 * dollar}, MultiplierPPM: 800_000},
			1000, 0, 1000, 2400},
		{"multiplier 0.8 rounds the fraction down", Price{Price: store.Price{InputPerM: 1 * dollar}, MultiplierPPM: 800_000},
			1001, 0, 0, 800}, // 800.8
		{"multiplier 1.0 is the list price", Price{Price: store.Price{InputPerM: 1 * dollar}, MultiplierPPM: 1_000_000},
			7, 0, 0, 7},
		{"zero multiplier means 1.0", Price{Price: store.Price{InputPerM: 1 * dollar}}, 7, 0, 0, 7},
		// Rounding each part down on its own would give 0 + 0; the sum
		// rounds once: (999999 + 999999) / 10^6 = 1.999998 -> 1.
		{"parts are not rounded one by one", Price{Price: store.Price{InputPerM: 1, OutputPerM: 1}},
			999_999, 0, 999_999, 1},
		// Rounding before the multiplier gives floor(1)*0.8 = 0; once at
		// the end: 1.999998 * 0.8 = 1.5999984 -> 1.
		{"multiplier applied before rounding", Price{Price: store.Price{InputPerM: 1, OutputPerM: 1}, MultiplierPPM: 800_000},
			999_999, 0, 999_999, 1},
		{"no minimum charge", Price{Price: store.Price{InputPerM: 150_000}}, 6, 0, 0, 0}, // 0.9 micro-units
		{"one micro-unit exactly", Price{Price: store.Price{InputPerM: 1 * dollar}}, 1, 0, 0, 1},
		// 2*10^9 tokens at 1000 per million: 2*10^18 before dividing,
		// close to int64's limit, and times a multiplier of 1.5.
		{"large counts do not overflow", Price{Price: store.Price{InputPerM: 1000 * dollar}, MultiplierPPM: 1_500_000},
			2_000_000_000, 0, 0, 3_000_000 * dollar},
		{"large counts with a remainder", Price{Price: store.Price{InputPerM: 1000*dollar + 7, OutputPerM: 999_999}, MultiplierPPM: 999_999},
			1_000_000_123, 3, 999_999_999, 1_000_999_127_998},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if ref := exactCost(tt.price, tt.prompt, tt.cached, tt.completion); ref != want {
				t.Fatalf("table error: reference cost %d, table says %d", ref, want)
			}
			if got := tt.price.Cost(tt.prompt, tt.cached, tt.completion); got != want {
				t.Errorf("Cost(%d, %d, %d) = %d, want %d", tt.prompt, tt.cached, tt.completion, got, want)
			}
		})
	}
}

// TestPriceCostMatchesExactArithmetic compares Cost with arbitrary
// precision over random prices, counts and multipliers in the documented
// range (prices up to 1000 per million tokens, up to 10^9 tokens).
func TestPriceCostMatchesExactArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p := Price{
			Price: store.Price{
				InputPerM:       store.Money(r.Int64N(1_000_000_001)),
				OutputPerM:      store.Money(r.Int64N(1_000_000_001)),
				CachedInputPerM: store.Money(r.Int64N(1_000_000_001)),
			},
			MultiplierPPM: r.Int64N(3_000_001),
		}
		prompt, completion := r.Int64N(300_000_001), r.Int64N(300_000_001)
		cached := r.Int64N(prompt + 1)
		if got, want := p.Cost(prompt, cached, completion), exactCost(p, prompt, cached, completion); got != want {
			t.Fatalf("%+v Cost(%d, %d, %d) = %d, want %d", p, prompt, cached, completion, got, want)
		}
	}
}

func TestPriceTable(t *testing.T) {
	var nilTable *PriceTable
	if p := nilTable.Price("m", 800_000); p.Cost(1e6, 0, 1e6) != 0 || p.MultiplierPPM != 800_000 {
		t.Errorf("nil table price = %+v, want free with the multiplier", p)
	}
	var tab PriceTable
	tab.Set(map[string]store.Price{"a": {Model: "a", InputPerM: 5}})
	tab.Put(store.Price{Model: "b", OutputPerM: 7})
	if got := tab.Price("a", 0).InputPerM; got != 5 {
		t.Errorf("a input = %d, want 5 (kept by Put)", got)
	}
	if got := tab.Price("b", 0).OutputPerM; got != 7 {
		t.Errorf("b output = %d, want 7", got)
	}
	if got := tab.Price("unknown", 0); got.Cost(1e6, 0, 1e6) != 0 {
		t.Errorf("unknown model costs %d, want 0", got.Cost(1e6, 0, 1e6))
	}
}
