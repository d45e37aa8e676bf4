//go:build !linux

package host

import (
	"context"
	"fmt"
	"os"

	gohost "github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/mem"

	"github.com/edgeward/edgeward/collectors/internal/psproc"
)

// mountPath is the mount point itself: Root applies to Linux only.
func (c *Collector) mountPath(mp string) string { return mp }

// processName is the name of pid as gopsutil reports it, "" if unknown.
func (c *Collector) processName(ctx context.Context, pid int) string {
	p, err := psproc.Open(ctx, int32(pid))
	if err != nil {
		return ""
	}
	n, err := p.NameWithContext(ctx)
	if err != nil {
		return ""
	}
	return n
}

func (c *Collector) readHostname(_ context.Context, inv *Inventory) error {
	h, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("read hostname: %w", err)
	}
	inv.Hostname = h
	return nil
}

// swapMemory asks gopsutil for the swap (page file) totals.
func swapMemory(ctx context.Context, _ *mem.VirtualMemoryStat) (total, free uint64, err error) {
	sw, err := mem.SwapMemoryWithContext(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read swap: %w", err)
	}
	return sw.Total, sw.Free, nil
}

// kernelVersion asks gopsutil.
func (c *Collector) kernelVersion(ctx context.Context) (string, error) {
	return gohost.KernelVersionWithContext(ctx)
}

// bootTime asks gopsutil, in seconds since the epoch.
func (c *Collector) bootTime(ctx context.Context) (uint64, error) {
	return gohost.BootTimeWithContext(ctx)
}
