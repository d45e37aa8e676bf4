package modbus

import (
	"bytes"
	"runtime"
	"testing"
)

// sessionBytes returns the heap bytes allocated per session by n sessions
// that each run feed (nil: none) after NewSession.
func sessionBytes(n int, feed func(s *Session)) float64 {
	a := NewAnalyzer(Config{})
	ss := make([]*Session, n)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range ss {
		ss[i] = a.NewSession(testClient, testServer)
		if feed != nil {
			feed(ss[i])
		}
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ss)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

// TestSessionBytes bounds what one Modbus session costs: the engine keeps
// up to 65,536 of them. A session used to allocate 3712 bytes before its
// first byte (a 64-entry pending table and two 1024-byte partial-ADU
// buffers, about 240 MB for 65,536 sessions); now the pending table is
// allocated on the first request with 4 entries and grows up to
// MaxPendingPerSession, and a partial-ADU buffer is borrowed from the
// Analyzer only while a partial ADU is held: 288 bytes idle, 355 after a
// transaction (go1.26, amd64).
func TestSessionBytes(t *testing.T) { // not parallel: it reads the heap counters
	req, resp := readHolding(1, 1, 0, 2)
	idle := sessionBytes(1000, nil)
	used := sessionBytes(1000, func(s *Session) {
		s.Feed(true, req, testT0)
		s.Feed(false, resp, testT0)
	})
	t.Logf("bytes per session: idle %.0f, after one transaction %.0f", idle, used)
	if idle > 512 {
		t.Errorf("an idle session allocates %.0f bytes, want at most 512", idle)
	}
	if used > 640 {
		t.Errorf("a session after one transaction allocates %.0f bytes, want at most 640", used)
	}
}

// TestSessionPendingGrows: the pending table, allocated small, grows to
// MaxPendingPerSession (here 10) before the oldest request is dropped.
func TestSessionPendingGrows(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{MaxPendingPerSession: 10})
	s := a.NewSession(testClient, testServer)
	var resps [][]byte
	for i := uint16(1); i <= 12; i++ {
		req, resp := readHolding(i, 1, 0, 1)
		s.Feed(true, req, testT0)
		resps = append(resps, resp)
	}
	if len(s.pending) != 10 {
		t.Errorf("pending table holds %d entries, want 10", len(s.pending))
	}
	for _, r := range resps {
		s.Feed(false, r, testT0)
	}
	s.Close(testT0)
	f := a.Flows()
	if len(f) != 1 || f[0].Unanswered != 2 || f[0].Unmatched != 2 || f[0].Responses != 12 {
		t.Errorf("flows = %+v, want 2 unanswered and 2 unmatched (tids 1 and 2 dropped), 12 responses", f)
	}
}

// deviceIDExchange returns a Read Device Identification request and a
// response of unit carrying objects first..first+n-1, each a 200-byte value.
func deviceIDExchange(tid uint16, unit, first uint8, n int) (req, resp []byte) {
	req = mbap(tid, unit, 43, 14, 3, first)
	pdu := []byte{43, 14, 3, 0x83, 0, 0, byte(n)}
	for i := range n {
		pdu = append(pdu, first+uint8(i), 200)
		pdu = append(pdu, bytes.Repeat([]byte{'v'}, 200)...)
	}
	return req, mbap(tid, unit, pdu...)
}

// TestIdentityObjectsBounded: a server answering identification for many
// units and objects (256 × 256 values of up to 255 bytes would be 16 MB per
// server) keeps at most MaxIdentityObjects per server and MaxStatsServers
// for Stats, counting the rest; known objects still take new values.
func TestIdentityObjectsBounded(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{MaxIdentityObjects: 10, MaxStatsServers: 15})
	s := a.NewSession(testClient, testServer)
	tid := uint16(0)
	for unit := uint8(1); unit <= 4; unit++ {
		tid++
		req, resp := deviceIDExchange(tid, unit, 0x80, 4)
		s.Feed(true, req, testT0)
		s.Feed(false, resp, testT0)
	}
	s.Close(testT0)
	devs := a.Devices()
	if len(devs) != 1 {
		t.Fatalf("Devices() = %d servers, want 1", len(devs))
	}
	n := 0
	for _, u := range devs[0].Identification {
		n += len(u.Objects)
	}
	stN := 0
	for _, di := range a.Stats().DeviceIdentification {
		stN += len(di.Objects)
	}
	// 16 objects: 10 kept per server, 15 for Stats; 6 + 1 dropped
	if n != 10 || stN != 15 || a.IdentityObjectsDropped() != 7 {
		t.Errorf("kept %d objects on the server, %d in Stats, dropped %d; want 10, 15, 7", n, stN, a.IdentityObjectsDropped())
	}
}
