//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1transport

import "syscall"

// peeker looks at a connection's socket without blocking or consuming.
type peeker struct {
	raw   syscall.RawConn
	peek  func(fd uintptr) // made once, so a check does not allocate
	buf   [1]byte
	alive bool
}

func newPeeker(c *conn) {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p := &peeker{raw: raw}
	p.peek = func(fd uintptr) {
		_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read is the only healthy state; a read that succeeds
		// finds the server's close or data nobody asked for, and another
		// error is a reset.
		p.alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR
	}
	c.peeker = p
}

// alive reports whether a pooled connection can carry a request: the
// server has not closed it (or reset it) while it sat idle, and sent
// nothing unasked. It peeks at the socket without blocking, so a
// connection the server dropped after its own keep-alive timeout is
// never handed a request it would fail.
func (c *conn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	p := c.peeker
	if p == nil {
		return true
	}
	if p.raw.Control(p.peek) != nil {
		return false
	}
	return p.alive
}
