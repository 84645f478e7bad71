package app_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the
// app's background workers, relayed streams and upstream requests must all
// end when their owner closes them. Started with instanceEnv set, the test
// binary is instead one tollgate instance of the multi-instance test.
func TestMain(m *testing.M) {
	if path := os.Getenv(instanceEnv); path != "" {
		os.Exit(runInstance(path))
	}
	goleak.VerifyTestMain(m)
}
