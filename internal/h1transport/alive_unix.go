//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1transport

import "syscall"

// alive reports whether a pooled connection can carry a request: the
// server has not closed it (or reset it) while it sat idle, and sent
// nothing unasked. It peeks at the socket without blocking, so a
// connection the server dropped after its own keep-alive timeout is
// never handed a request it would fail.
func (c *conn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0: // bytes nobody asked for
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR:
			alive = true
		}
		return true // never wait for readability
	})
	return err == nil && alive
}
