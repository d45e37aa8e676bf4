package psproc

import (
	"context"

	"github.com/shirou/gopsutil/v3/process"
)

// exists asks gopsutil, whose Windows check opens a process handle with
// OpenProcess and closes it (it does not use os.FindProcess).
func exists(ctx context.Context, pid int32) (bool, error) {
	return process.PidExistsWithContext(ctx, pid)
}
