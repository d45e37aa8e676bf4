package passive

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseTCPTable parses TCP tables laid out as GetExtendedTcpTable
// (TCP_TABLE_OWNER_PID_ALL) returns them, and answers queries from them:
// the exact 4-tuple, the listener for a server end, nothing for a client
// end without a row.
func TestParseTCPTable(t *testing.T) {
	t.Parallel()
	le := binary.LittleEndian
	port := func(b []byte, p uint16) { binary.BigEndian.PutUint16(b, p) } // network order in the DWORD's low bytes
	row4 := func(state uint32, l, r netip.AddrPort, pid uint32) []byte {
		b := make([]byte, tcpRow4Len)
		le.PutUint32(b[0:], state)
		copy(b[4:8], l.Addr().AsSlice())
		port(b[8:], l.Port())
		copy(b[12:16], r.Addr().AsSlice())
		port(b[16:], r.Port())
		le.PutUint32(b[20:], pid)
		return b
	}
	row6 := func(state uint32, l, r netip.AddrPort, pid uint32) []byte {
		b := make([]byte, tcpRow6Len)
		a := l.Addr().As16()
		copy(b[0:16], a[:])
		port(b[20:], l.Port())
		a = r.Addr().As16()
		copy(b[24:40], a[:])
		port(b[44:], r.Port())
		le.PutUint32(b[48:], state)
		le.PutUint32(b[52:], pid)
		return b
	}
	table := func(rows ...[]byte) []byte {
		b := le.AppendUint32(nil, uint32(len(rows)))
		for _, r := range rows {
			b = append(b, r...)
		}
		return append(b, 0, 0, 0) // slack after the rows, as a larger buffer leaves
	}
	ap := netip.MustParseAddrPort
	const established = 5
	t4 := table(
		row4(mibTCPStateListen, ap("0.0.0.0:502"), ap("0.0.0.0:0"), 700),
		row4(established, ap("10.0.0.1:50000"), ap("10.0.0.9:4840"), 4242),
		row4(established, ap("10.0.0.1:502"), ap("10.0.0.7:40000"), 700),
		row4(11, ap("10.0.0.1:50001"), ap("10.0.0.9:4840"), 0), // TIME_WAIT: System Idle
	)
	rows, err := parseTCPTable(t4, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []tcpRow{
		{local: ap("0.0.0.0:502"), remote: ap("0.0.0.0:0"), state: mibTCPStateListen, pid: 700},
		{local: ap("10.0.0.1:50000"), remote: ap("10.0.0.9:4840"), state: established, pid: 4242},
		{local: ap("10.0.0.1:502"), remote: ap("10.0.0.7:40000"), state: established, pid: 700},
		{local: ap("10.0.0.1:50001"), remote: ap("10.0.0.9:4840"), state: 11},
	}
	if diff := cmp.Diff(want, rows, cmp.AllowUnexported(tcpRow{}), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("IPv4 rows (-want +got):\n%s", diff)
	}
	t6 := table(
		row6(established, ap("[fe80::1]:50000"), ap("[fe80::9]:4840"), 17),
		row6(established, ap("[::ffff:10.0.0.1]:50002"), ap("[::ffff:10.0.0.9]:4840"), 18), // dual-stack socket
	)
	rows6, err := parseTCPTable(t6, true)
	if err != nil {
		t.Fatal(err)
	}
	rows = append(rows, rows6...)
	qs := []ownerQuery{
		{k: sockKey{ap("10.0.0.1:50000"), ap("10.0.0.9:4840")}, client: true},
		{k: sockKey{ap("10.0.0.1:502"), ap("10.0.0.7:40000")}},
		{k: sockKey{ap("10.0.0.1:502"), ap("10.0.0.8:40000")}}, // not accepted yet: the listener
		{k: sockKey{ap("10.0.0.1:50001"), ap("10.0.0.9:4840")}, client: true},
		{k: sockKey{ap("10.0.0.1:50009"), ap("10.0.0.9:4840")}, client: true},
		{k: sockKey{ap("[fe80::1]:50000"), ap("[fe80::9]:4840")}, client: true},
		{k: sockKey{ap("10.0.0.1:50002"), ap("10.0.0.9:4840")}, client: true},
	}
	if diff := cmp.Diff([]uint32{4242, 700, 700, 0, 0, 17, 18}, ownersFromRows(rows, qs)); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
	for _, bad := range [][]byte{nil, {1, 0, 0}, le.AppendUint32(nil, 2)} {
		if _, err := parseTCPTable(bad, false); err == nil {
			t.Errorf("parseTCPTable(% x) = nil error", bad)
		}
	}
}
