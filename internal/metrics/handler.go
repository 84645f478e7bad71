package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// scrapeTimeout bounds one scrape; scrape-time collectors only read
// in-memory state, so this is generous.
const scrapeTimeout = 10 * time.Second

// maxScrapes is how many scrapes may run at once; more get 503.
const maxScrapes = 4

// Handler returns the /metrics handler for g, usually the registry New
// registered on. It serves the Prometheus text format (OpenMetrics when
// the scraper asks for it). A collector that fails is logged to
// slog.Default and the rest of the metrics are still served; nothing
// panics.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:            slogPrinter{},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapes,
		Timeout:             scrapeTimeout,
	})
}

// slogPrinter adapts slog.Default to promhttp.Logger. It looks the logger
// up at each call, so a default set after Handler still applies.
type slogPrinter struct{}

// Println logs v as one warning.
func (slogPrinter) Println(v ...any) {
	slog.Default().Warn("metrics: gathering failed", "error", fmt.Sprint(v...))
}

var _ promhttp.Logger = slogPrinter{}
