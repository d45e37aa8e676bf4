package agent

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/uplink"
)

// BenchmarkDrainToMosquitto measures the whole drain path: records of 500
// bytes already accepted in a real bbolt buffer, published by the uplink to
// a real mosquitto at QoS 1 and acknowledged back to the buffer, until the
// queue is empty. Reports records/s.
func BenchmarkDrainToMosquitto(b *testing.B) {
	broker := startMosquitto(b)
	ctx := context.Background()
	buf, err := buffer.Open(filepath.Join(b.TempDir(), "b.db"), buffer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	payload := `{"id":"01JD0000000000000000000000","body":"` + strings.Repeat("x", 450) + `"}`
	items := make([]buffer.Item, 0, 1000)
	for len(items) < cap(items) {
		items = append(items, buffer.Item{Stream: "threat", Priority: 4, Data: []byte(payload)})
	}
	b.ResetTimer()
	b.StopTimer()
	total := 0
	for range b.N {
		if err := buf.Put(ctx, items...); err != nil {
			b.Fatal(err)
		}
		total += len(items)
	}
	up, err := uplink.New(uplink.Config{Brokers: []string{broker}, ClientID: "bench", Enterprise: "e", Site: "s", AgentID: "a",
		BatchMaxRecords: 500, BatchMaxBytes: 512 << 10, InFlight: 16, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer up.Close()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	b.StartTimer()
	start := time.Now()
	go func() { done <- up.Run(runCtx, bufferSource{buf}) }()
	for buf.Stats().Queued > 0 {
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
}
