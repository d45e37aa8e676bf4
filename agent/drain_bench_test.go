package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/uplink"
	"github.com/edgeward/edgeward/uplink/uplinktest"
)

// drainMixes are the class mixes of a backlog: records per class out of 20.
var drainMixes = []struct {
	name string
	mix  map[string]int
}{
	{"threat-only", map[string]int{"threat": 20}},
	{"mixed", map[string]int{"activity": 8, "asset": 6, "threat": 5, "baseline": 1}},
	{"mostly-activity", map[string]int{"activity": 18, "threat": 1, "asset": 1}},
}

// fillMix puts n records of about size bytes in buf, interleaving the
// classes of mix; state classes get distinct keys (nothing coalesces).
func fillMix(tb testing.TB, buf *buffer.Buffer, mix map[string]int, n, size int) {
	tb.Helper()
	var order []string
	for _, class := range []string{"status", "activity", "asset", "baseline", "threat"} {
		for range mix[class] {
			order = append(order, class)
		}
	}
	pad := strings.Repeat("x", max(size-120, 0))
	items := make([]buffer.Item, 0, 1000)
	for i := range n {
		class := order[i%len(order)]
		it := buffer.Item{Stream: class, Priority: priorityOf(class), Time: time.Now(),
			Data: fmt.Appendf(nil, `{"id":"drain-%07d","class":%q,"kind":"bench","body":{"pad":%q}}`, i, class, pad)}
		if class != "threat" {
			it.Key = fmt.Sprintf("k%d", i)
		}
		items = append(items, it)
		if len(items) == cap(items) || i == n-1 {
			if err := buf.Put(context.Background(), items...); err != nil {
				tb.Fatal(err)
			}
			items = items[:0]
		}
	}
}

func priorityOf(class string) int {
	for i, c := range []string{"status", "activity", "asset", "baseline", "threat"} {
		if c == class {
			return i
		}
	}
	return 0
}

// drainRate drains buf through up and returns records per second.
func drainRate(tb testing.TB, buf *buffer.Buffer, up *uplink.Client) float64 {
	tb.Helper()
	n := buf.Stats().Queued
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- up.Run(ctx, bufferSource{buf}) }()
	deadline := start.Add(5 * time.Minute)
	for buf.Stats().Queued > 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("backlog not drained in 5 minutes: %d of %d left", buf.Stats().Queued, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cancel()
	<-done
	return float64(n) / elapsed.Seconds()
}

// BenchmarkDrainMix measures how fast a backlog of 44k records of 400 bytes
// drains to a local mosquitto through the agent's buffer adapter with the
// default uplink settings, for several class mixes. The target is at least
// 20k records/s whatever the mix.
func BenchmarkDrainMix(b *testing.B) {
	broker := uplinktest.StartMosquitto(b, uplinktest.MosquittoOptions{})
	for _, m := range drainMixes {
		b.Run(m.name, func(b *testing.B) {
			for range b.N {
				buf, err := buffer.Open(filepath.Join(b.TempDir(), "b.db"), buffer.Options{})
				if err != nil {
					b.Fatal(err)
				}
				fillMix(b, buf, m.mix, 44000, 400)
				up, err := uplink.New(uplink.Config{Brokers: []string{broker.URL()}, ClientID: "bench-" + m.name,
					Enterprise: "e", Site: "s", AgentID: "a", Logger: discardLogger()})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(drainRate(b, buf, up), "records/s")
				up.Close()
				buf.Close()
			}
		})
	}
}
