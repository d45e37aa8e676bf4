//go:build windows

package passive

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/edgeward/edgeward/collectors/internal/psproc"
)

var (
	iphlpapi                = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable = iphlpapi.NewProc("GetExtendedTcpTable")
)

// tcpTableOwnerPIDAll is TCP_TABLE_OWNER_PID_ALL.
const tcpTableOwnerPIDAll = 5

// tableOwners is the Windows socketOwners: one GetExtendedTcpTable read
// (TCP_TABLE_OWNER_PID_ALL, per address family in use) answers a whole
// batch of queries by exact 4-tuple; Windows has no per-socket query.
type tableOwners struct {
	buf  []byte // reused between reads; grows to the table's size
	desc procCache
}

var _ socketOwners = (*tableOwners)(nil)

// newSocketOwners returns the Windows socket owner lookup.
func newSocketOwners() socketOwners { return &tableOwners{} }

func (o *tableOwners) localAddrs() ([]netip.Addr, error) { return interfaceAddrs() }

func (o *tableOwners) lookup(ctx context.Context, qs []ownerQuery) error {
	var rows []tcpRow
	for _, v6 := range []bool{false, true} {
		need := false
		for _, q := range qs {
			need = need || q.k.local.Addr().Unmap().Is4() != v6
		}
		if !need {
			continue
		}
		r, err := o.table(v6)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	for i, pid := range ownersFromRows(rows, qs) {
		if pid == 0 {
			continue
		}
		if p, ok := o.desc.describe(ctx, int32(pid)); ok {
			qs[i].proc, qs[i].found = p, true
		}
	}
	return nil
}

// processStart returns the creation time of process pid (ms since the
// epoch): with the pid, it names one process.
func processStart(ctx context.Context, pid int32) (uint64, error) {
	p, err := psproc.Open(ctx, pid)
	if err != nil {
		return 0, err
	}
	t, err := p.CreateTimeWithContext(ctx)
	return uint64(t), err
}

// table reads the IPv4 (or IPv6) TCP table with owning pids.
func (o *tableOwners) table(v6 bool) ([]tcpRow, error) {
	af := uintptr(windows.AF_INET)
	if v6 {
		af = windows.AF_INET6
	}
	for range 8 { // the table may grow between the size query and the read
		size := uint32(len(o.buf))
		var p uintptr
		if len(o.buf) > 0 {
			p = uintptr(unsafe.Pointer(&o.buf[0]))
		}
		r, _, _ := procGetExtendedTcpTable.Call(p, uintptr(unsafe.Pointer(&size)), 0, af, tcpTableOwnerPIDAll, 0)
		switch err := windows.Errno(r); {
		case r == 0:
			return parseTCPTable(o.buf, v6)
		case errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER):
			o.buf = make([]byte, size+size/4)
		default:
			return nil, fmt.Errorf("GetExtendedTcpTable: %w", err)
		}
	}
	return nil, errors.New("GetExtendedTcpTable: the table keeps growing")
}
