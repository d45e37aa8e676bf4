//go:build !windows

package host

import (
	"context"

	gonet "github.com/shirou/gopsutil/v3/net"
)

// socketTable lists the inet sockets with their owning process (without
// the uid lookup, which needs a pass over every process's status file).
func socketTable(ctx context.Context) ([]gonet.ConnectionStat, error) {
	return gonet.ConnectionsWithoutUidsWithContext(ctx, "inet")
}
