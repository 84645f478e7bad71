package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// slowConnect is a TCP connect time worth a warning.
const slowConnect = time.Second

// target returns the host:port the client dials first and whether that is
// a proxy.
func (env *Env) target() (hostport string, proxy *url.URL) {
	if p, err := env.client.proxy(&http.Request{URL: env.base}); err == nil && p != nil {
		return hostPort(p), p
	}
	return hostPort(env.base), nil
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func checkDNS(ctx context.Context, env *Env) Result {
	hp, proxy := env.target()
	env.Network.Host = hp
	via := ""
	if proxy != nil {
		env.Network.ViaProxy = redactURL(proxy)
		via = " (the proxy " + env.Network.ViaProxy + ")"
	}
	host, _, _ := net.SplitHostPort(hp)
	if ip := net.ParseIP(host); ip != nil {
		env.Network.Addresses = []string{ip.String()}
		return ok("%s%s is an IP address; nothing to resolve", host, via)
	}
	ctx, cancel := context.WithTimeout(ctx, env.opts.ConnectTimeout)
	defer cancel()
	start := env.now()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	d := env.now().Sub(start)
	env.Network.DNSMs = ms(d)
	if err != nil {
		return fail(fmt.Sprintf("check the host name in the base URL%s for typos, then your DNS settings or VPN (try `nslookup %s`)", via, host),
			"cannot resolve %s%s after %v: %v", host, via, d.Round(time.Millisecond), err)
	}
	for _, a := range addrs {
		env.Network.Addresses = append(env.Network.Addresses, a.IP.String())
	}
	return ok("%s%s resolves to %s in %v", host, via, strings.Join(env.Network.Addresses, ", "), msDur(ms(d)))
}

func checkTCP(ctx context.Context, env *Env) Result {
	hp := env.Network.Host
	d := net.Dialer{Timeout: env.opts.ConnectTimeout}
	start := env.now()
	conn, err := d.DialContext(ctx, "tcp", hp)
	took := env.now().Sub(start)
	env.Network.ConnectMs = ms(took)
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return fail("check the port in the base URL and that the server is running and listening on that address",
				"connection to %s refused: nothing listens there", hp)
		case errors.As(err, &ne) && ne.Timeout():
			return fail("a firewall drops the packets or the host is down: check firewalls, security groups and VPN; if your network needs a proxy, pass --proxy",
				"no answer from %s within %v (connect timeout)", hp, env.opts.ConnectTimeout)
		}
		return fail("check the network path to the host (routing, firewall, VPN)", "cannot connect to %s: %v", hp, err)
	}
	_ = conn.Close()
	if took > slowConnect {
		return warn("the network path is slow or far away; every request pays this on a new connection, so keep connections alive or pick a closer endpoint",
			"TCP connect to %s took %v", hp, took.Round(time.Millisecond))
	}
	return ok("TCP connect to %s in %v", hp, msDur(ms(took)))
}

func checkTLS(ctx context.Context, env *Env) Result {
	if env.base.Scheme != "https" {
		return skipped("plain http: no TLS to check")
	}
	if env.Network.ViaProxy != "" {
		return skipped("TLS to the endpoint runs inside the proxy tunnel; its time is in each exchange's timings")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if env.opts.TLSConfig != nil {
		cfg = env.opts.TLSConfig.Clone()
	}
	cfg.ServerName = env.base.Hostname()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: env.opts.ConnectTimeout}, Config: cfg}
	ctx, cancel := context.WithTimeout(ctx, env.opts.ConnectTimeout)
	defer cancel()
	start := env.now()
	conn, err := d.DialContext(ctx, "tcp", env.Network.Host)
	took := env.now().Sub(start)
	if err != nil {
		var unknown x509.UnknownAuthorityError
		var host x509.HostnameError
		var inv x509.CertificateInvalidError
		switch {
		case errors.As(err, &unknown):
			return fail("the certificate is not signed by a CA this machine trusts: if a corporate proxy inspects TLS, add its CA (SSL_CERT_FILE); otherwise the server's certificate chain is incomplete",
				"TLS handshake with %s failed: untrusted certificate (%v)", env.Network.Host, err)
		case errors.As(err, &host):
			return fail("the certificate does not name this host: use the host name the certificate was issued for in --base-url",
				"TLS handshake with %s failed: %v", env.Network.Host, err)
		case errors.As(err, &inv):
			return fail("the certificate is expired or not yet valid: the server operator must renew it (or fix this machine's clock)",
				"TLS handshake with %s failed: %v", env.Network.Host, err)
		}
		return fail("check that the port speaks TLS (an http:// server on this port would fail like this) and the network path",
			"TLS handshake with %s failed after %v: %v", env.Network.Host, took.Round(time.Millisecond), err)
	}
	defer func() { _ = conn.Close() }()
	// The TCP connect was measured on its own; the rest is the handshake.
	hs := took - time.Duration(env.Network.ConnectMs*float64(time.Millisecond))
	hs = max(hs, 0)
	env.Network.TLSMs = ms(hs)
	st := conn.(*tls.Conn).ConnectionState()
	env.Network.TLS = strings.TrimSpace(tls.VersionName(st.Version) + " " + st.NegotiatedProtocol)
	if len(st.PeerCertificates) > 0 {
		exp := st.PeerCertificates[0].NotAfter
		if left := exp.Sub(env.now()); left < 14*24*time.Hour {
			return warn("the server operator should renew the certificate now",
				"%s handshake in %v; the certificate expires on %s", env.Network.TLS, hs.Round(time.Millisecond), exp.UTC().Format(time.DateOnly))
		}
	}
	return ok("%s handshake in %v", env.Network.TLS, msDur(ms(hs)))
}
