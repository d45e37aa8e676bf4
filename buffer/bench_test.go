package buffer_test

import (
	"context"
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

// BenchmarkDrain measures the uplink side: Next(100) then Ack of the batch.
// b.N counts records.
func BenchmarkDrain(b *testing.B) {
	buf := openTemp(b, buffer.Options{})
	ctx := context.Background()
	items := benchItems(1000)
	for i := 0; i < b.N; i += len(items) {
		if err := buf.Put(ctx, items[:min(len(items), b.N-i)]...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var after uint64
	done := 0
	for done < b.N {
		es, err := buf.Next(ctx, after, 100, 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(es) == 0 {
			b.Fatalf("queue empty after %d of %d", done, b.N)
		}
		seqs := make([]uint64, len(es))
		for i, e := range es {
			seqs[i] = e.Seq
		}
		if err := buf.Ack(ctx, seqs...); err != nil {
			b.Fatal(err)
		}
		after = seqs[len(seqs)-1]
		done += len(es)
	}
	b.StopTimer()
	reportRate(b, done)
}
