package passive_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// TestCollectorFiles runs the collector over a file and checks the records
// it emits and the stats it reports, that it idles (does not return) once
// the file is done, and that a Run started again in the same process (as a
// supervisor would after an error) does not read the file again, even
// without a Checkpointer.
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
	for run := range 2 {
		runUntilFilesDone(t, c, emit)
		if st := c.Stats(); len(st.Files) != 1 || st.Files[0].State != []string{passive.FileDone, passive.FileDone}[run] || st.Files[0].Packets != 10 {
			t.Errorf("run %d: file progress %+v", run, st.Files)
		}
	}
	want := map[string]int{"net.asset": 2, "net.flow": 1, "modbus.write_new_master": 1}
	mu.Lock()
	defer mu.Unlock()
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s records, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	if st := c.Stats(); st.Packets != 10 || st.Flows.Closed != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// runUntilFilesDone runs c until every file is done, failed or skipped,
// checks that Run keeps idling until it is cancelled, then cancels it and
// returns Run's error.
func runUntilFilesDone(t *testing.T, c *passive.Collector, emit collectors.Emitter) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, emit) }()
	deadline := time.Now().Add(time.Minute)
	for {
		settled := true
		for _, f := range c.Stats().Files {
			settled = settled && f.State != passive.FilePending && f.State != passive.FileReading
		}
		if settled {
			break
		}
		select {
		case err := <-done:
			cancel()
			return err // failed before the files were done
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("files not done after a minute: %+v", c.Stats().Files)
		}
	}
	select {
	case err := <-done:
		t.Errorf("Run returned %v once its files were done; want it to idle until cancelled", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
		return err
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after cancel")
	}
	return nil
}

// TestCollectorErrors: no source is ErrNoSources; a missing file, a
// directory and a file that is no capture are each logged once and
// reported as failed (not retried) while the other files are replayed,
// and Run returns why (fs.ErrNotExist, ErrUnknownFormat) once the files are
// settled, every time it is started; an interface that cannot be opened
// fails Run with one context.
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
	dir := t.TempDir()
	junk := dir + "/junk.pcap"
	if err := os.WriteFile(junk, []byte("not a capture at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := writeCapture(t, func(w *pcapgen.Writer) error {
		return transact(w, ep(hmiMAC, "192.168.5.10:40001"), ep(plcMAC, "192.168.5.20:502"), pair(pcapgen.ReadHolding(1, 1, 0, 4)))
	})
	cfg := passive.DefaultConfig()
	cfg.Files = []string{dir + "/missing.pcap", dir, junk, good}
	var logs strings.Builder
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(syncWriter{&logMu, &logs}, nil))
	c, err = passive.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // started again: nothing retried, the same error
		err := c.Run(context.Background(), nop)
		if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, passive.ErrUnknownFormat) || !strings.Contains(err.Error(), "missing.pcap") {
			t.Errorf("Run = %v, want the missing file and the files that are no captures", err)
		}
	}
	files := c.Stats().Files
	for i, want := range []string{passive.FileFailed, passive.FileFailed, passive.FileFailed, passive.FileDone} {
		if files[i].State != want || (want == passive.FileFailed) != (files[i].Error != "") {
			t.Errorf("file %s: %+v, want state %s", cfg.Files[i], files[i], want)
		}
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if n := strings.Count(out, "capture file skipped"); n != 3 {
		t.Errorf("%d skipped-file errors logged, want 3 (once per bad file):\n%s", n, out)
	}
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "missing.pcap") || !strings.Contains(files[0].Error, "missing.pcap") {
		t.Errorf("log does not say the file is missing:\n%s", out)
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

// syncWriter serialises writes to w.
type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
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
