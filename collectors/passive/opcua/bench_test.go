package opcua_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// BenchmarkSessionFeed measures chunks decoded per second on one core: a
// None session's ReadRequest/ReadResponse pairs (real frame 84 of
// icsnpp-open62541_client-server_mainloop.pcap and a crafted response), one
// chunk per Feed.
func BenchmarkSessionFeed(b *testing.B) {
	req := mustHex(b, frameRead)
	resp := msg('F', 20, readResponse())
	a := opcua.NewAnalyzer(opcua.Config{})
	s := a.NewSession(testClient, testServer)
	for _, st := range noneHandshake() {
		s.Feed(st.toServer, st.b, t0)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(req) + len(resp)))
	start := time.Now()
	for b.Loop() {
		s.Feed(true, req, t0)
		s.Feed(false, resp, t0)
	}
	b.ReportMetric(float64(2*b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkSessionFeedSplit is BenchmarkSessionFeed with every chunk split
// in two Feeds (the buffering path).
func BenchmarkSessionFeedSplit(b *testing.B) {
	req := mustHex(b, frameRead)
	resp := msg('F', 20, readResponse())
	a := opcua.NewAnalyzer(opcua.Config{})
	s := a.NewSession(testClient, testServer)
	for _, st := range noneHandshake() {
		s.Feed(st.toServer, st.b, t0)
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		s.Feed(true, req[:50], t0)
		s.Feed(true, req[50:], t0)
		s.Feed(false, resp[:30], t0)
		s.Feed(false, resp[30:], t0)
	}
	b.ReportMetric(float64(2*b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkReplayShared replays the largest shared OPC UA capture (frame
// decoding by gopacket and the test reassembly included) per iteration.
func BenchmarkReplayShared(b *testing.B) {
	path := filepath.Join(sharedPcaps, "icsnpp-open62541_read_service_test_data_with_history.pcap")
	if _, err := os.Stat(path); err != nil {
		b.Skipf("shared capture absent: %v", err)
	}
	b.ReportAllocs()
	var msgs uint64
	for b.Loop() {
		a := opcua.NewAnalyzer(opcua.Config{})
		if err := replay(a, path, []uint16{4840}); err != nil {
			b.Fatal(err)
		}
		msgs = a.Stats().Messages
	}
	b.ReportMetric(float64(msgs), "msgs/op")
}
