package h1transport

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
)

// requestError is a request this transport refuses to send as it is.
type requestError struct{ msg string }

func (e *requestError) Error() string { return "h1transport: " + e.msg }

// framing headers are written by the transport from the request's fields,
// never copied from its Header.
var framing = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Trailer": true, "Te": true, "Keep-Alive": true, "Proxy-Connection": true,
}

// writeRequest writes req's request line, header and body to w, as
// HTTP/1.1 with a Content-Length. Header fields go out sorted by name.
func writeRequest(w *bufio.Writer, req *http.Request, body io.Reader) error {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return &requestError{msg: fmt.Sprintf("invalid method %q", method)}
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !validValue(host) || strings.ContainsAny(host, " \t") {
		return &requestError{msg: fmt.Sprintf("invalid Host %q", host)}
	}
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	if err := writeHeader(w, req.Header); err != nil {
		return err
	}
	if req.ContentLength > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		w.WriteString("Content-Length: ")
		w.WriteString(strconv.FormatInt(max(req.ContentLength, 0), 10))
		w.WriteString("\r\n")
	}
	if req.Close || headerHasToken(req.Header, "Connection", "close") {
		w.WriteString("Connection: close\r\n")
	}
	if _, err := w.WriteString("\r\n"); err != nil {
		return err
	}
	if req.ContentLength <= 0 || body == nil {
		return nil
	}
	n, err := io.Copy(w, io.LimitReader(body, req.ContentLength))
	if err != nil {
		return err
	}
	if n != req.ContentLength {
		return &requestError{msg: fmt.Sprintf("ContentLength=%d with Body length %d", req.ContentLength, n)}
	}
	return nil
}

// writeHeader writes h's fields but the framing ones, sorted by name.
func writeHeader(w *bufio.Writer, h http.Header) error {
	var buf [24]string
	keys := buf[:0]
	for k := range h {
		if !framing[textproto.CanonicalMIMEHeaderKey(k)] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validToken(k) {
			return &requestError{msg: fmt.Sprintf("invalid header field name %q", k)}
		}
		for _, v := range h[k] {
			if !validValue(v) {
				return &requestError{msg: fmt.Sprintf("invalid header field value for %q", k)}
			}
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(strings.TrimSpace(v))
			w.WriteString("\r\n")
		}
	}
	return nil
}

// headerHasToken reports whether a comma-separated field of h lists token.
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h[key] {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// validToken reports whether s is an RFC 9110 token: a method or a field name.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validValue reports whether s may be sent as a field value: no control
// characters but horizontal tab, so it cannot end the field or the header.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
