package passive

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// TestBudgetsHold replays a flow storm with the smallest memory budget,
// checking after every 1000 frames that each table's counted bytes stay
// within its budget (plus the growth of the entry used last, at most one
// OPC UA message or one event), and that every bound was reached and its
// evictions or drops counted.
func TestBudgetsHold(t *testing.T) {
	t.Parallel()
	path := genFile(t, func(w *pcapgen.Writer) error { return pcapgen.WriteStorm(w, pcapgen.Storm{Conns: 12000, Seed: 3}) })
	cfg := DefaultConfig()
	cfg.MemoryBudget = MinMemoryBudget
	e, err := NewEngine(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := e.Budget()
	src, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	const slack = 64 << 10 // one entry's last growth
	var next time.Time
	for n := 1; ; n++ {
		p, err := src.ReadPacket(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e.Process(p)
		if p.Timestamp.After(next) {
			e.Flush(p.Timestamp)
			next = p.Timestamp.Add(time.Second)
		}
		if n%1000 != 0 {
			continue
		}
		st := e.Stats()
		for _, c := range []struct {
			name        string
			used, limit int64
		}{
			{"connections", st.Flows.Bytes, b.Conns},
			{"reassembly", st.Reassembly.Buffered, b.Reassembly},
			{"modbus tables", int64(st.Tables.ModbusBytes), b.ModbusTables},
			{"opcua tables", int64(st.Tables.OPCUABytes), b.OPCUATables},
			{"opcua buffers", int64(st.Tables.OPCUABufferedBytes), b.OPCUABuffers},
			{"pending events", st.Tables.PendingEventBytes, b.Events},
		} {
			if c.used > c.limit+slack {
				t.Fatalf("frame %d: %s hold %d bytes, budget %d", n, c.name, c.used, c.limit)
			}
		}
		if macs := int64(st.Tables.MACs) * int64(macEntryBytes()); macs > b.MACs+slack {
			t.Fatalf("frame %d: %d MACs, budget %d bytes", n, st.Tables.MACs, b.MACs)
		}
	}
	st := e.Stats()
	ev := st.Tables.Evicted
	if st.Flows.Evicted == 0 || st.MACsEvicted == 0 || ev.ModbusFlows == 0 || ev.ModbusClients == 0 || ev.OPCUAFlows == 0 ||
		ev.OPCUADevices == 0 || st.OPCUADroppedOverBudget == 0 || st.EventsDropped == 0 {
		t.Errorf("a bound was not reached: flows evicted %d, MACs %d, tables %+v, OPC UA over budget %d, events dropped %d",
			st.Flows.Evicted, st.MACsEvicted, ev, st.OPCUADroppedOverBudget, st.EventsDropped)
	}
}
