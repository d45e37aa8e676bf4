//go:build linux || windows

package passive

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/edgeward/edgeward/collectors/internal/psproc"
)

// interfaceAddrs returns this host's interface addresses, IPv4 unmapped.
func interfaceAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list interface addresses: %w", err)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// maxDescribed bounds procCache: at most 256 processes of about 600 bytes.
const maxDescribed = 256

// procCache describes processes through gopsutil and remembers the
// description of each pid with the process's start time, so that a tool
// opening many connections is described once and a reused pid is not
// mistaken for the old process. Not safe for concurrent use.
type procCache struct {
	m map[int32]describedProc
}

type describedProc struct {
	started uint64 // processStart's value
	p       LocalProcess
}

// describe returns the description of process pid. Each detail is best
// effort: another user's executable path or command line may be
// unreadable. It fails only when the process is gone.
func (c *procCache) describe(ctx context.Context, pid int32) (LocalProcess, bool) {
	started, err := processStart(ctx, pid)
	if err != nil {
		return LocalProcess{}, false // exited since its socket was found
	}
	if d, ok := c.m[pid]; ok && d.started == started {
		return d.p, true
	}
	proc, err := psproc.Open(ctx, pid)
	if err != nil {
		return LocalProcess{}, false
	}
	p := LocalProcess{PID: pid}
	p.Name, _ = proc.NameWithContext(ctx)
	p.Exe, _ = proc.ExeWithContext(ctx)
	p.User, _ = proc.UsernameWithContext(ctx)
	if uids, err := proc.UidsWithContext(ctx); p.User == "" && err == nil && len(uids) > 0 {
		p.User = strconv.Itoa(int(uids[0])) // a uid without a name (containers)
	}
	cmd, _ := proc.CmdlineWithContext(ctx)
	p.Cmdline = clip(cmd, MaxCmdline)
	if c.m == nil || len(c.m) >= maxDescribed {
		c.m = make(map[int32]describedProc, maxDescribed)
	}
	c.m[pid] = describedProc{started: started, p: p}
	return p, true
}
