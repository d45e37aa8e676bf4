//go:build !windows

package psproc

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// exists sends signal 0 to pid: delivered or refused for lack of
// permission means the process exists. kill(2) takes the pid itself, so no
// descriptor is opened.
func exists(_ context.Context, pid int32) (bool, error) {
	if pid <= 0 {
		return false, fmt.Errorf("invalid pid %d", pid)
	}
	switch err := syscall.Kill(int(pid), 0); {
	case err == nil, errors.Is(err, syscall.EPERM):
		return true, nil
	case errors.Is(err, syscall.ESRCH):
		return false, nil
	default:
		return false, err
	}
}
