package passive

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Windows' TCP tables with owning pids (GetExtendedTcpTable with
// TCP_TABLE_OWNER_PID_ALL), parsed here without build tags so that the
// parser is tested on every system.

// Row sizes of MIB_TCPROW_OWNER_PID and MIB_TCP6ROW_OWNER_PID.
const (
	tcpRow4Len = 24
	tcpRow6Len = 56
	// mibTCPStateListen is MIB_TCP_STATE_LISTEN.
	mibTCPStateListen = 2
)

// tcpRow is one row of a TCP table.
type tcpRow struct {
	local, remote netip.AddrPort
	state         uint32
	pid           uint32
}

// parseTCPTable parses a MIB_TCPTABLE_OWNER_PID (v6 false) or a
// MIB_TCP6TABLE_OWNER_PID (v6 true): a DWORD row count, then the rows.
// Ports are in network byte order in the low bytes of their DWORD;
// addresses are in network byte order; IPv4-mapped IPv6 addresses are
// unmapped.
func parseTCPTable(b []byte, v6 bool) ([]tcpRow, error) {
	size := tcpRow4Len
	if v6 {
		size = tcpRow6Len
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("TCP table of %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if n > len(b)/size {
		return nil, fmt.Errorf("TCP table of %d rows in %d bytes", n, len(b))
	}
	port := func(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
	le := binary.LittleEndian.Uint32
	rows := make([]tcpRow, n)
	for i := range rows {
		r := b[i*size : (i+1)*size]
		if !v6 {
			rows[i] = tcpRow{
				state:  le(r[0:]),
				local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[4:8])), port(r[8:])),
				remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[12:16])), port(r[16:])),
				pid:    le(r[20:]),
			}
			continue
		}
		rows[i] = tcpRow{
			local:  netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[0:16])).Unmap(), port(r[20:])),
			remote: netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[24:40])).Unmap(), port(r[44:])),
			state:  le(r[48:]),
			pid:    le(r[52:]),
		}
	}
	return rows, nil
}

// ownersFromRows answers qs from the rows of a TCP table: the row of the
// exact 4-tuple, else, for a server end, the listener of its local address
// and port (or of the unspecified address). It returns the pid per query,
// 0 when none.
func ownersFromRows(rows []tcpRow, qs []ownerQuery) []uint32 {
	conns := make(map[sockKey]uint32, len(rows))
	listen := map[netip.AddrPort]uint32{}
	for _, r := range rows {
		if r.pid == 0 {
			continue // System Idle (TIME_WAIT), or not ours to see
		}
		if r.state == mibTCPStateListen {
			listen[r.local] = r.pid
			continue
		}
		conns[sockKey{local: r.local, remote: r.remote}] = r.pid
	}
	pids := make([]uint32, len(qs))
	for i, q := range qs {
		k := sockKey{local: netip.AddrPortFrom(q.k.local.Addr().Unmap(), q.k.local.Port()),
			remote: netip.AddrPortFrom(q.k.remote.Addr().Unmap(), q.k.remote.Port())}
		if pid, ok := conns[k]; ok {
			pids[i] = pid
			continue
		}
		if q.client {
			continue
		}
		if pid, ok := listen[k.local]; ok {
			pids[i] = pid
		} else if pid, ok := listen[netip.AddrPortFrom(zeroLike(k.local.Addr()), k.local.Port())]; ok {
			pids[i] = pid
		}
	}
	return pids
}

// zeroLike returns the unspecified address of a's family.
func zeroLike(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}
