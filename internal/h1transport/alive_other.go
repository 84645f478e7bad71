//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package h1transport

// peeker is not available on this platform.
type peeker struct{}

func newPeeker(*conn) {}

// alive reports whether a pooled connection can carry a request. Without
// a non-blocking peek on this platform, it only checks that the server
// sent nothing while the connection was idle; a connection the server
// closed fails its request before anything is written, and RoundTrip
// then sends it on a new connection.
func (c *conn) alive() bool { return c.br.Buffered() == 0 }
