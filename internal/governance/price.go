package governance

import (
	"sync/atomic"

	"github.com/tollgate/tollgate/internal/store"
)

// perMillion is the token count prices are quoted for.
const perMillion = 1_000_000

// Price is a model's effective price per million tokens for one request,
// the group's multiplier applied.
type Price struct {
	store.Price
	// MultiplierPPM scales the price, in parts per million (1000000 = 1.0).
	MultiplierPPM int64
}

// Cost returns the cost of a request in Money micro-units, exactly:
// prompt tokens (of which cached are charged at the cached price), and
// completion tokens, times the prices per million, times the multiplier,
// rounded down once at the end (never up to a minimum).
func (p Price) Cost(prompt, cached, completion int64) store.Money {
	if cached > prompt {
		cached = prompt
	}
	cachedPrice := p.CachedInputPerM
	if cachedPrice == 0 {
		cachedPrice = p.InputPerM
	}
	// Money per million tokens times tokens: exact in int64 for any
	// realistic price and count (a $1000/M price and 10^9 tokens fit).
	sum := int64(p.InputPerM)*(prompt-cached) + int64(cachedPrice)*cached + int64(p.OutputPerM)*completion
	mult := p.MultiplierPPM
	if mult <= 0 {
		mult = perMillion
	}
	if mult == perMillion {
		return store.Money(sum / perMillion)
	}
	// sum*mult may overflow int64 for large counts: divide in two steps
	// keeping the remainder, so the result is still exact.
	q, r := sum/perMillion, sum%perMillion
	return store.Money((q*mult + r*mult/perMillion) / perMillion)
}

// PriceTable holds the price of each model. Reads are lock-free; Set
// replaces the whole table. The zero value and a nil table price
// everything at zero.
type PriceTable struct {
	table atomic.Pointer[map[string]store.Price]
}

// Set replaces the table.
func (t *PriceTable) Set(prices map[string]store.Price) {
	m := make(map[string]store.Price, len(prices))
	for k, v := range prices {
		m[k] = v
	}
	t.table.Store(&m)
}

// Put sets one model's price.
func (t *PriceTable) Put(p store.Price) {
	for {
		old := t.table.Load()
		m := map[string]store.Price{}
		if old != nil {
			for k, v := range *old {
				m[k] = v
			}
		}
		m[p.Model] = p
		if t.table.CompareAndSwap(old, &m) {
			return
		}
	}
}

// Price returns model's price with a multiplier.
func (t *PriceTable) Price(model string, multiplierPPM int64) Price {
	p := Price{MultiplierPPM: multiplierPPM}
	if t == nil {
		return p
	}
	if m := t.table.Load(); m != nil {
		p.Price = (*m)[model]
	}
	return p
}
