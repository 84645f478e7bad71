package app_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the
// app's background workers, relayed streams and upstream requests must all
// end when their owner closes them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
