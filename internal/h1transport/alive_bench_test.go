package h1transport

import (
	"net"
	"testing"
)

// BenchmarkAlive measures the check of a pooled connection that every
// reuse pays: one non-blocking peek at the socket.
func BenchmarkAlive(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_, _ = c.Read(make([]byte, 1)) // hold the connection open
			c.Close()
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	c := newConn(nil, "", nc)
	b.ReportAllocs()
	for b.Loop() {
		if !c.alive() {
			b.Fatal("an open, quiet connection is not alive")
		}
	}
}
