//go:build linux || windows

package passive

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	gnet "github.com/shirou/gopsutil/v3/net"
	"github.com/shirou/gopsutil/v3/process"
)

// psOwners reads the socket table through gopsutil: /proc/net/tcp{,6} and
// every readable /proc/<pid>/fd on Linux, GetExtendedTcpTable on Windows.
// Sockets of processes the agent may not inspect (another user's, when it
// runs unprivileged) have no pid and so no owner.
type psOwners struct {
	table map[sockKey]int32      // pid by connection, from the last refresh
	procs map[int32]LocalProcess // processes described since the last refresh
}

var _ socketOwners = (*psOwners)(nil)

// newSocketOwners returns the operating system's socket table reader.
func newSocketOwners() socketOwners { return &psOwners{} }

func (o *psOwners) localAddrs() ([]netip.Addr, error) {
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

func (o *psOwners) refresh(ctx context.Context) error {
	conns, err := gnet.ConnectionsWithContext(ctx, "tcp")
	if err != nil {
		return fmt.Errorf("read tcp socket table: %w", err)
	}
	o.table = make(map[sockKey]int32, len(conns))
	o.procs = map[int32]LocalProcess{}
	for _, c := range conns {
		if c.Pid <= 0 {
			continue // not ours to see, or no process (TIME_WAIT)
		}
		l, okL := addrPortOf(c.Laddr)
		r, okR := addrPortOf(c.Raddr)
		if okL && okR {
			o.table[sockKey{local: l, remote: r}] = c.Pid
		}
	}
	return nil
}

func (o *psOwners) owner(ctx context.Context, local, remote netip.AddrPort) (LocalProcess, bool) {
	pid, ok := o.table[sockKey{local: local, remote: remote}]
	if !ok {
		return LocalProcess{}, false
	}
	if p, ok := o.procs[pid]; ok {
		return p, true
	}
	proc, err := process.NewProcessWithContext(ctx, pid)
	if err != nil {
		return LocalProcess{}, false // exited since the table was read
	}
	// Each detail is best effort: another user's executable path or
	// command line may be unreadable.
	p := LocalProcess{PID: pid}
	p.Name, _ = proc.NameWithContext(ctx)
	p.Exe, _ = proc.ExeWithContext(ctx)
	p.User, _ = proc.UsernameWithContext(ctx)
	if uids, err := proc.UidsWithContext(ctx); p.User == "" && err == nil && len(uids) > 0 {
		p.User = strconv.Itoa(int(uids[0])) // a uid without a name (containers)
	}
	cmd, _ := proc.CmdlineWithContext(ctx)
	p.Cmdline = clip(cmd, MaxCmdline)
	o.procs[pid] = p
	return p, true
}

// addrPortOf converts a gopsutil address (unmapping IPv4 in IPv6); a
// listening socket's empty remote address is not valid.
func addrPortOf(a gnet.Addr) (netip.AddrPort, bool) {
	ip, err := netip.ParseAddr(a.IP)
	if err != nil || a.Port == 0 || a.Port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port)), true
}
