package modbus

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// mbap builds one ADU: MBAP header (protocol id 0, length from the PDU)
// followed by the PDU (function code first).
func mbap(tid uint16, unit uint8, pdu ...byte) []byte {
	b := make([]byte, 7, 7+len(pdu))
	binary.BigEndian.PutUint16(b[0:], tid)
	binary.BigEndian.PutUint16(b[4:], uint16(len(pdu)+1))
	b[6] = unit
	return append(b, pdu...)
}

// unhex decodes a hex dump with optional spaces.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

var (
	testClient  = netip.MustParseAddrPort("192.0.2.10:40000")
	testClient2 = netip.MustParseAddrPort("192.0.2.11:40001")
	testServer  = netip.MustParseAddrPort("192.0.2.1:502")
	testT0      = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// readHolding returns an FC 3 request and its response for n registers.
func readHolding(tid uint16, unit uint8, addr, n uint16) (req, resp []byte) {
	req = mbap(tid, unit, 3, byte(addr>>8), byte(addr), byte(n>>8), byte(n))
	pdu := []byte{3, byte(2 * n)}
	for i := uint16(0); i < n; i++ {
		pdu = append(pdu, 0, byte(i))
	}
	return req, mbap(tid, unit, pdu...)
}

// netipOpts lets go-cmp compare netip values (unexported fields).
func netipOpts() cmp.Options {
	return cmp.Options{
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
	}
}
