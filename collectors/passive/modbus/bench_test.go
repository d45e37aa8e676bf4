package modbus

import (
	"path/filepath"
	"testing"
	"time"
)

func TestDecodeDoesNotAllocate(t *testing.T) {
	// not parallel: AllocsPerRun counts process-wide allocations
	req, resp := readHolding(1, 1, 100, 10)
	var a ADU
	if n := testing.AllocsPerRun(1000, func() {
		_ = a.DecodeFromBytes(req)
		_, _ = a.Exception()
		_ = a.CheckPDU(true)
		_, _ = a.RequestAccesses()
		_, _ = FrameLength(resp)
	}); n != 0 {
		t.Errorf("ADU decode allocates %v times per run", n)
	}

	an := NewAnalyzer(Config{})
	s := an.NewSession(testClient, testServer)
	w := mbap(1, 1, 16, 0, 10, 0, 2, 4, 0, 1, 0, 2)
	wr := mbap(1, 1, 16, 0, 10, 0, 2)
	exc := mbap(2, 1, 0x83, 0x02)
	both := concat(req, req) // two ADUs in one segment
	ts := testT0
	step := func() {
		ts = ts.Add(100 * time.Millisecond) // crosses detection windows
		s.Feed(true, req, ts)
		s.Feed(false, resp[:5], ts) // split response
		s.Feed(false, resp[5:], ts)
		s.Feed(true, w, ts)
		s.Feed(false, wr, ts)
		s.Feed(true, both, ts)
		s.Feed(false, resp, ts)
		s.Feed(false, exc, ts)
	}
	for i := 0; i < 100; i++ { // warm-up: tables, learned writer, windows
		step()
	}
	an.TakeAlerts()
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("Session.Feed of a steady poll allocates %v times per run", n)
	}
}

func BenchmarkDecode(b *testing.B) {
	req, _ := readHolding(1, 1, 100, 10)
	var a ADU
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		if err := a.DecodeFromBytes(req); err != nil {
			b.Fatal(err)
		}
		_ = a.CheckPDU(true)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ADUs/s")
}

func BenchmarkSessionFeed(b *testing.B) {
	an := NewAnalyzer(Config{})
	s := an.NewSession(testClient, testServer)
	req, resp := readHolding(1, 1, 100, 10)
	ts := testT0
	b.ReportAllocs()
	b.SetBytes(int64(len(req) + len(resp)))
	for b.Loop() {
		s.Feed(true, req, ts)
		s.Feed(false, resp, ts)
	}
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "ADUs/s")
}

// BenchmarkReplaySharedCapture runs a real capture (iti-ModbusTCP.pcap,
// 15,387 frames, up to 6 ADUs per segment) through the minimal test reader
// and the analyzer; skipped without ../shared.
func BenchmarkReplaySharedCapture(b *testing.B) {
	pkts, err := readCapture(filepath.Join(sharedPcaps, "iti-ModbusTCP.pcap"))
	if err != nil {
		b.Skipf("shared capture not available: %v", err)
	}
	var adus uint64
	b.ReportAllocs()
	for b.Loop() {
		a := NewAnalyzer(Config{})
		replayCapture(a, pkts)
		adus += a.Stats().ADUs
	}
	b.ReportMetric(float64(len(pkts))*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(adus)/b.Elapsed().Seconds(), "ADUs/s")
}
