package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// helloTimeout bounds how long a child may take to start listening.
const helloTimeout = 30 * time.Second

// child is one server process of the benchmark.
type child struct {
	role   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailBuffer
	hello  hello
	cancel context.CancelFunc
	done   chan struct{} // closed once Wait returned
	err    error         // from Wait; read after done
}

// startChild re-executes this program in role with args and waits for its
// hello line. The child dies with ctx, with the parent (stdin closes, and
// on Linux the kernel sends SIGKILL), at stop, or at kill.
func startChild(ctx context.Context, role string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start the %s: %w", role, err)
	}
	// The child outlives a cancelled ctx until stop closes its stdin, so
	// an interrupted run still shuts it down gracefully.
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd := exec.CommandContext(cctx, exe, append([]string{childArg, role}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = childSysProcAttr()
	hw := &helloWriter{line: make(chan []byte, 1)}
	c := &child{role: role, cmd: cmd, stderr: &tailBuffer{max: 16 << 10}, cancel: cancel, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = hw, c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting the %s: %w", role, err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	timer := time.NewTimer(helloTimeout)
	defer timer.Stop()
	select {
	case line := <-hw.line:
		if err := json.Unmarshal(line, &c.hello); err != nil || c.hello.Addr == "" {
			c.kill()
			return nil, fmt.Errorf("the %s said %q instead of its address", role, line)
		}
		return c, nil
	case <-c.done:
		c.kill()
		return nil, fmt.Errorf("the %s exited before listening (%v): %s", role, c.err, c.stderr)
	case <-timer.C:
		c.kill()
		return nil, fmt.Errorf("the %s did not listen within %s: %s", role, helloTimeout, c.stderr)
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
	}
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop asks the child to finish (its stdin closes), waits up to timeout
// and kills it otherwise. It returns an error if the child failed.
func (c *child) stop(timeout time.Duration) error {
	_ = c.stdin.Close()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		c.kill()
		return fmt.Errorf("the %s did not stop within %s and was killed", c.role, timeout)
	}
	c.cancel()
	if c.err != nil {
		return fmt.Errorf("the %s failed: %w: %s", c.role, c.err, c.stderr)
	}
	return nil
}

// kill ends the child at once and waits for it.
func (c *child) kill() {
	c.cancel()
	_ = c.stdin.Close()
	<-c.done
}

// helloWriter passes the first line written to it on line and discards
// the rest.
type helloWriter struct {
	buf  []byte
	sent bool
	line chan []byte
}

func (h *helloWriter) Write(p []byte) (int, error) {
	if h.sent {
		return len(p), nil
	}
	h.buf = append(h.buf, p...)
	if i := bytes.IndexByte(h.buf, '\n'); i >= 0 {
		h.line <- h.buf[:i]
		h.sent = true
	} else if len(h.buf) > 64<<10 {
		h.line <- h.buf[:256]
		h.sent = true
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// Len returns the number of bytes kept.
func (t *tailBuffer) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buf)
}

// String returns the kept output, or a note that there was none.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(bytes.TrimSpace(t.buf)) == 0 {
		return "(no output)"
	}
	return string(bytes.TrimSpace(t.buf))
}

// stopAll stops children in reverse start order and joins their errors.
// Whatever a child logged goes to logs, prefixed with its role.
func stopAll(children []*child, logs io.Writer) error {
	var errs []error
	for i := len(children) - 1; i >= 0; i-- {
		c := children[i]
		err := c.stop(15 * time.Second)
		errs = append(errs, err)
		if err == nil && c.stderr.Len() > 0 {
			fmt.Fprintf(logs, "the %s logged:\n%s\n", c.role, c.stderr)
		}
	}
	return errors.Join(errs...)
}
