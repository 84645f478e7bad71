package traceexport

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The standard OTLP exporter variables this package reads, generic and
// traces-specific.
const (
	envEndpoint          = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint    = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envHeaders           = "OTEL_EXPORTER_OTLP_HEADERS"
	envTracesHeaders     = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	envTimeout           = "OTEL_EXPORTER_OTLP_TIMEOUT"
	envTracesTimeout     = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
	envCompression       = "OTEL_EXPORTER_OTLP_COMPRESSION"
	envTracesCompression = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
)

// DefaultURL is where spans go when neither the caller nor the
// environment names a collector.
const DefaultURL = "http://localhost:4318/v1/traces"

// tracesPath is the OTLP/HTTP path for traces, added to a base endpoint.
const tracesPath = "v1/traces"

// OptionsFromEnv returns Options built from the standard OTLP exporter
// environment variables, read through getenv (os.Getenv in production):
//
//   - URL: tracesURL when it is not empty; else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
//     as it is; else OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces added to
//     its path; else DefaultURL.
//   - Headers: OTEL_EXPORTER_OTLP_HEADERS, then
//     OTEL_EXPORTER_OTLP_TRACES_HEADERS, whose entries win per name. The
//     format is name=value pairs separated by commas, values
//     percent-encoded, spaces around names and values ignored.
//   - Timeout: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else
//     OTEL_EXPORTER_OTLP_TIMEOUT, in milliseconds.
//   - Compression: OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, else
//     OTEL_EXPORTER_OTLP_COMPRESSION: gzip or none.
//
// A malformed variable is an error that names it; header values are never
// quoted in errors, since they usually hold credentials.
func OptionsFromEnv(tracesURL string, getenv func(string) string) (Options, error) {
	var o Options
	var errs []error
	var err error
	if o.URL, err = endpointFromEnv(tracesURL, getenv); err != nil {
		errs = append(errs, err)
	}
	if o.Headers, err = headersFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	for _, name := range []string{envTimeout, envTracesTimeout} {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms <= 0 || ms > int64(time.Duration(1<<62)/time.Millisecond) {
			errs = append(errs, fmt.Errorf("%s: want a whole number of milliseconds above 0, got %q", name, v))
			continue
		}
		o.Timeout = time.Duration(ms) * time.Millisecond
	}
	for _, name := range []string{envCompression, envTracesCompression} {
		v := strings.ToLower(strings.TrimSpace(getenv(name)))
		switch v {
		case "":
		case "gzip", "none":
			o.Compression = v
		default:
			errs = append(errs, fmt.Errorf("%s: want gzip or none, got %q", name, v))
		}
	}
	if len(errs) > 0 {
		return Options{}, fmt.Errorf("traceexport: %w", errors.Join(errs...))
	}
	return o, nil
}

// endpointFromEnv returns the traces URL: explicit, else from the
// environment, else DefaultURL.
func endpointFromEnv(explicit string, getenv func(string) string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if v := strings.TrimSpace(getenv(envTracesEndpoint)); v != "" {
		if _, err := parseHTTPURL(v); err != nil {
			return "", fmt.Errorf("%s: %w", envTracesEndpoint, err)
		}
		return v, nil
	}
	if v := strings.TrimSpace(getenv(envEndpoint)); v != "" {
		u, err := parseHTTPURL(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", envEndpoint, err)
		}
		return u.JoinPath(tracesPath).String(), nil
	}
	return DefaultURL, nil
}

// parseHTTPURL parses an http:// or https:// URL with a host. Its error
// does not quote the URL, which may hold a password.
func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("want an http:// or https:// URL with a host, such as http://otel-collector:4318")
	}
	return u, nil
}

// headersFromEnv merges the generic and the traces headers variables.
func headersFromEnv(getenv func(string) string) (map[string]string, error) {
	var h map[string]string
	var errs []error
	for _, name := range []string{envHeaders, envTracesHeaders} {
		if err := parseHeaders(name, getenv(name), &h); err != nil {
			errs = append(errs, err)
		}
	}
	return h, errors.Join(errs...)
}

// parseHeaders adds the name=value,... pairs of the variable name, whose
// value is v, to *h (allocated when needed), names in canonical form so
// that a later variable's entry replaces an earlier one whatever its case.
// Empty entries are skipped. Errors name the variable and the entry's
// position, and the header name when it is valid, never a value.
func parseHeaders(name, v string, h *map[string]string) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var errs []error
	for i, entry := range strings.Split(v, ",") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		k, val, ok := strings.Cut(entry, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: entry %d is not name=value", name, i+1))
			continue
		case !validHeaderName(k):
			// The name is not shown: a malformed entry may have a value in it.
			errs = append(errs, fmt.Errorf("%s: entry %d does not start with a valid header name", name, i+1))
			continue
		}
		dec, err := url.PathUnescape(val)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: the value of header %s is not valid percent-encoding", name, k))
			continue
		}
		dec = strings.TrimSpace(dec)
		if !validHeaderValue(dec) {
			errs = append(errs, fmt.Errorf("%s: the value of header %s holds a control character", name, k))
			continue
		}
		if *h == nil {
			*h = make(map[string]string)
		}
		(*h)[http.CanonicalHeaderKey(k)] = dec
	}
	return errors.Join(errs...)
}
