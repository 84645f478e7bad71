//go:build !linux

package main

import (
	"syscall"
	"time"
)

// childSysProcAttr returns nil: only Linux can tie a child's life to its
// parent's; elsewhere children still exit when their stdin closes.
func childSysProcAttr() *syscall.SysProcAttr { return nil }

// readProc reports nothing outside Linux (no /proc).
func readProc(int) (procStat, error) { return procStat{}, nil }

func cpuModel() string { return "" }

func memTotal() string { return "" }

// systemBusy is unknown outside Linux.
func systemBusy() (time.Duration, bool) { return 0, false }
