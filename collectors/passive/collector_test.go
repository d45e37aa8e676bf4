package passive_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// TestCollectorFiles runs the collector over a file and checks the records
// it emits and the stats it reports.
func TestCollectorFiles(t *testing.T) {
	t.Parallel()
	hmi := ep(hmiMAC, "192.168.5.10:40001")
	plc := ep(plcMAC, "192.168.5.20:502")
	path := writeCapture(t, func(w *pcapgen.Writer) error {
		return transact(w, hmi, plc, pair(pcapgen.ReadHolding(1, 1, 0, 4)), pair(pcapgen.WriteSingle(2, 1, 3, 9)))
	})
	cfg := passive.DefaultConfig()
	cfg.Enabled = true
	cfg.Files = []string{path}
	c, err := passive.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "passive" {
		t.Errorf("Name() = %q", c.Name())
	}
	var mu sync.Mutex
	kinds := map[string]int{}
	emit := collectors.RecordFunc(func(_ context.Context, r collectors.Record) error {
		if err := r.Validate(); err != nil {
			return err
		}
		mu.Lock()
		kinds[r.Kind]++
		mu.Unlock()
		return nil
	})
	if err := c.Run(context.Background(), emit); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"net.asset": 2, "net.flow": 1, "modbus.write_new_master": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s records, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	if st := c.Stats(); st.Packets != 10 || st.Flows.Closed != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestCollectorErrors(t *testing.T) {
	t.Parallel()
	c, err := passive.New(passive.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	nop := collectors.RecordFunc(func(context.Context, collectors.Record) error { return nil })
	if err := c.Run(context.Background(), nop); !errors.Is(err, passive.ErrNoSources) {
		t.Errorf("Run without sources = %v, want ErrNoSources", err)
	}
	cfg := passive.DefaultConfig()
	cfg.Files = []string{t.TempDir() + "/missing.pcap"}
	c, err = passive.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background(), nop); err == nil {
		t.Error("Run with a missing file succeeded")
	}
	// An interface that cannot be opened: one context, naming it once.
	cfg = passive.DefaultConfig()
	cfg.Interfaces = []string{"edgeward-no-such-if0"}
	c, err = passive.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(context.Background(), nop)
	if err == nil || strings.Count(err.Error(), `"edgeward-no-such-if0"`) != 1 || strings.Count(err.Error(), "capture on") != 1 {
		t.Errorf("Run on a missing interface = %v, want one context naming the interface once", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(c *passive.Config)
		ok   bool
	}{
		{"defaults", func(*passive.Config) {}, true},
		{"zero value", func(c *passive.Config) { *c = passive.Config{} }, true},
		{"snap length too small", func(c *passive.Config) { c.SnapLen = 10 }, false},
		{"negative max flows", func(c *passive.Config) { c.MaxFlows = -1 }, false},
		{"idle timeout too short", func(c *passive.Config) { c.FlowIdleTimeout = time.Millisecond }, false},
		{"summary interval too short", func(c *passive.Config) { c.SummaryInterval = time.Millisecond }, false},
		{"reassembly budget too small", func(c *passive.Config) { c.MaxReassemblyBytes = 100 }, false},
		{"port zero", func(c *passive.Config) { c.Ports.Modbus = []uint16{0} }, false},

		{"attribution off", func(c *passive.Config) { c.AttributeLocal = false }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := passive.DefaultConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, passive.ErrInvalidConfig) {
				t.Errorf("error %v is not ErrInvalidConfig", err)
			}
			if _, err := passive.NewEngine(cfg, nil); (err == nil) != tc.ok {
				t.Errorf("NewEngine() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
