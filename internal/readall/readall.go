// Package readall reads a whole stream into a buffer the caller sized, as
// io.ReadAll does into a buffer of its own that starts small and grows by
// copying: a caller that knows the length (a Content-Length) allocates
// once.
package readall

import (
	"errors"
	"io"
)

// Into appends everything r yields until io.EOF to buf and returns it;
// buf grows only if its capacity is too small. A read error other than
// io.EOF is returned with what was read before it.
func Into(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			return buf, err
		}
	}
}
