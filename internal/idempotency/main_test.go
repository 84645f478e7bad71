package idempotency_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the package
// promises to start none of its own.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
