package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/modbus"
)

// flowRecords returns n net.flow records as the passive collector builds
// them (about 450 bytes of JSON each). With distinct, every record has its
// own key; otherwise the keys repeat every 500 records, as flows of the same
// connections do from one summary interval to the next (the buffer then
// replaces the queued older state).
func flowRecords(n, offset int, distinct bool) []collectors.Record {
	recs := make([]collectors.Record, n)
	now := time.Now()
	for i := range recs {
		id := offset + i
		if !distinct {
			id %= 500
		}
		client, server := fmt.Sprintf("10.0.%d.%d:%d", id/250%250, id%250, 40000+id%20000), "10.0.0.10:502"
		recs[i] = collectors.Record{Class: collectors.ClassActivity, Kind: passive.KindFlow, Key: client + "-" + server,
			Body: passive.Flow{Protocol: "modbus", Client: client, Server: server,
				FunctionCodes: map[string]passive.FunctionCount{"3": {Requests: 120, Responses: 120}, "16": {Requests: 4, Responses: 4}},
				UnitIDs:       []int{1},
				Read:          modbus.AddressRanges{HoldingRegisters: []modbus.Range{{Start: 0, End: 99}}},
				Requests:      124, Responses: 124, FirstSeen: now.Add(-time.Minute), LastSeen: now}}
	}
	return recs
}

// BenchmarkRecorderEmit measures storing from collectors through the real
// recorder (stamping, JSON encoding) into a real bbolt buffer: one collector
// emitting batches of batch records, or several collectors at once (their
// Emits share buffer transactions). b.N counts records; reports records/s.
// Run under `strace -f -c -e trace=fdatasync,fsync,pwrite64` to count disk
// syncs per record.
func BenchmarkRecorderEmit(b *testing.B) {
	for _, bc := range []struct {
		collectors, batch int
		distinct          bool
	}{
		{1, 100, true}, {1, 1000, true}, {1, 5000, true}, {1, 1000, false}, {4, 100, true}, {16, 10, true},
	} {
		keys := "repeating"
		if bc.distinct {
			keys = "distinct"
		}
		b.Run(fmt.Sprintf("collectors=%d/batch=%d/keys=%s", bc.collectors, bc.batch, keys), func(b *testing.B) {
			buf, err := buffer.Open(filepath.Join(b.TempDir(), "b.db"), buffer.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer buf.Close()
			r := &recorder{buf: buf, agent: collectors.Agent{ID: "gw", Enterprise: "e", Site: "s", Version: "v"}, now: time.Now}
			batches := make([][]collectors.Record, 20)
			for i := range batches {
				batches[i] = flowRecords(bc.batch, i*bc.batch, bc.distinct)
			}
			ctx := context.Background()
			per := (b.N + bc.collectors - 1) / bc.collectors
			b.ResetTimer()
			var wg sync.WaitGroup
			for c := range bc.collectors {
				wg.Go(func() {
					for i, done := c, 0; done < per; i, done = i+1, done+bc.batch {
						if err := r.Emit(ctx, batches[i%len(batches)][:min(bc.batch, per-done)]...); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(per*bc.collectors)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
