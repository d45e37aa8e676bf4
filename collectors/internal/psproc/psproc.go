// Package psproc opens gopsutil processes without holding a descriptor.
//
// gopsutil's process.NewProcess checks that the process exists with
// os.FindProcess, which on Linux (Go 1.23 and later) opens a pidfd that
// gopsutil never releases: it is closed only when the garbage collector
// happens to run the os.Process cleanup, so every call leaks a descriptor
// until then (issue 8: 150 pidfds after 130 s of 1 s heartbeats). Open
// checks existence without opening anything, and every method of the
// Process it returns (Name, Exe, Cmdline, CreateTime, ...) opens and closes
// what it reads on each call.
package psproc

import (
	"context"
	"fmt"

	"github.com/shirou/gopsutil/v3/process"
)

// Open returns the gopsutil Process of pid, or an error when no process
// with that pid runs (it may have exited since it was listed).
func Open(ctx context.Context, pid int32) (*process.Process, error) {
	ok, err := exists(ctx, pid)
	if err != nil {
		return nil, fmt.Errorf("look up process %d: %w", pid, err)
	}
	if !ok {
		return nil, fmt.Errorf("process %d: %w", pid, process.ErrorProcessNotRunning)
	}
	return &process.Process{Pid: pid}, nil
}
