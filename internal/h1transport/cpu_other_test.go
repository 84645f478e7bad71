//go:build !unix

package h1transport

import "time"

// processCPU is not measured on this platform.
func processCPU() time.Duration { return 0 }
