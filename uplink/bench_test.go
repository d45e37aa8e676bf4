package uplink_test

import (
	"testing"
	"time"

	"github.com/edgeward/edgeward/uplink"
)

// BenchmarkPublishMosquitto measures how fast Run drains 500-byte records
// through a real mosquitto at QoS 1 (default batching and window). It
// reports records/s; the target is at least 20k records/s.
func BenchmarkPublishMosquitto(b *testing.B) {
	m := startMosquitto(b, plainTLS, nil)
	cfg := baseConfig(m.URL())
	src := newMemSource()
	c, err := uplink.New(cfg)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(b, c, src)
	waitConnected(b, c)

	const pad = 500 - 48 // the id, class and field names take ~48 bytes
	b.SetBytes(500)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		src.Put("activity", "bench", pad)
		_ = i
	}
	for src.Len() > 0 {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	if st := c.Stats(); st.RecordsPublished != uint64(b.N) {
		b.Fatalf("published %d records, want %d", st.RecordsPublished, b.N)
	}
}
