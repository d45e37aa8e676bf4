package buffer_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edgeward/edgeward/buffer"
)

const benchRecord = 500

func benchItems(n int) []buffer.Item {
	items := make([]buffer.Item, n)
	for i := range items {
		items[i] = buffer.Item{Stream: "activity", Priority: 1, Data: payload(benchRecord, i)}
	}
	return items
}

func reportRate(b *testing.B, records int) {
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.SetBytes(benchRecord)
}

// BenchmarkPutSingle is one goroutine putting one record at a time: every Put
// waits for its own fsync.
func BenchmarkPutSingle(b *testing.B) {
	buf := openTemp(b, buffer.Options{})
	it := benchItems(1)
	ctx := context.Background()
	n := 0
	for b.Loop() {
		if err := buf.Put(ctx, it...); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRate(b, n)
}

// BenchmarkPutBatched measures group commit: many goroutines putting one
// record each, and one goroutine putting batches of 100. b.N counts records.
func BenchmarkPutBatched(b *testing.B) {
	b.Run("goroutines=64/batch=1", func(b *testing.B) { benchConcurrent(b, 64, 1) })
	b.Run("goroutines=256/batch=1", func(b *testing.B) { benchConcurrent(b, 256, 1) })
	b.Run("goroutines=8/batch=100", func(b *testing.B) { benchConcurrent(b, 8, 100) })
	b.Run("goroutines=1/batch=100", func(b *testing.B) { benchConcurrent(b, 1, 100) })
	b.Run("goroutines=1/batch=1000", func(b *testing.B) { benchConcurrent(b, 1, 1000) })
}

func benchConcurrent(b *testing.B, goroutines, batch int) {
	buf := openTemp(b, buffer.Options{})
	items := benchItems(batch)
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range goroutines {
		wg.Go(func() {
			for next.Add(int64(batch)) <= int64(b.N)+int64(batch)-1 {
				if err := buf.Put(ctx, items...); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportRate(b, int(min(next.Load(), int64(b.N)+int64(batch)-1)))
}

// BenchmarkDrain measures the uplink side: Next(500), then Ack, until the
// queue is empty. b.N counts records. With classes=5 the queue holds five
// interleaved classes (state records with keys, as agents queue them after
// an outage) and each Next is acked as the uplink publishes it: one Ack per
// class batch, either one after the other (the uplink's settle) or all at
// once, so that the writer commits them together.
func BenchmarkDrain(b *testing.B) {
	b.Run("classes=1/acks=1", func(b *testing.B) { benchDrain(b, 1, false) })
	b.Run("classes=5/acks=5-sequential", func(b *testing.B) { benchDrain(b, 5, false) })
	b.Run("classes=5/acks=5-concurrent", func(b *testing.B) { benchDrain(b, 5, true) })
}

func benchDrain(b *testing.B, classes int, concurrent bool) {
	buf := openTemp(b, buffer.Options{})
	ctx := context.Background()
	items := make([]buffer.Item, 0, 1000)
	for i := 0; i < b.N; i++ {
		it := buffer.Item{Stream: "threat", Priority: 4, Data: payload(benchRecord, i)}
		if c := i % classes; c > 0 {
			it = buffer.Item{Stream: fmt.Sprintf("class%d", c), Key: fmt.Sprintf("k%d", i), Priority: c, Data: payload(benchRecord, i)}
		}
		items = append(items, it)
		if len(items) == cap(items) || i == b.N-1 {
			if err := buf.Put(ctx, items...); err != nil {
				b.Fatal(err)
			}
			items = items[:0]
		}
	}
	b.ResetTimer()
	var after uint64
	done := 0
	for done < b.N {
		es, err := buf.Next(ctx, after, 500, 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(es) == 0 {
			b.Fatalf("queue empty after %d of %d", done, b.N)
		}
		byClass := map[string][]uint64{}
		for _, e := range es {
			byClass[e.Stream] = append(byClass[e.Stream], e.Seq)
		}
		var wg sync.WaitGroup
		for _, seqs := range byClass {
			ack := func() {
				if err := buf.Ack(ctx, seqs...); err != nil {
					b.Error(err)
				}
			}
			if concurrent {
				wg.Go(ack)
			} else {
				ack()
			}
		}
		wg.Wait()
		after = es[len(es)-1].Seq
		done += len(es)
	}
	b.StopTimer()
	reportRate(b, done)
}
