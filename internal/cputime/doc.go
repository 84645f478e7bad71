// Package cputime reads the CPU time the process has used, for benchmarks
// that report CPU per request: steadier than wall time on a shared
// machine.
package cputime
