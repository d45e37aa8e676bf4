package passive_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// ckptStore is a collectors.Checkpointer in memory, atomic per call as the
// agent's buffer is: failAt makes the failAt-th EmitCheckpoint call (from
// 1) fail without storing anything, as a crash before the commit would.
type ckptStore struct {
	mu     sync.Mutex
	recs   []string // each record's class, kind, key, severity, time and body, as JSON
	states map[string][]byte
	log    []fileState // every state stored, in order
	calls  int
	failAt int
}

type fileState struct {
	Packets      uint64          `json:"packets"`
	StatePackets uint64          `json:"state_packets"`
	Partial      json.RawMessage `json:"partial"`
	Done         bool            `json:"done"`
}

var errCrash = errors.New("crash before commit")

func (s *ckptStore) Emit(_ context.Context, recs ...collectors.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(recs)
}

func (s *ckptStore) add(recs []collectors.Record) error {
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			return err
		}
		b, err := json.Marshal([]any{r.Class, r.Kind, r.Key, r.Severity, r.Time, r.Body})
		if err != nil {
			return err
		}
		s.recs = append(s.recs, string(b))
	}
	return nil
}

func (s *ckptStore) Checkpoint(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[name], nil
}

func (s *ckptStore) EmitCheckpoint(_ context.Context, name string, state []byte, recs ...collectors.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls == s.failAt {
		return errCrash
	}
	var st fileState
	if err := json.Unmarshal(state, &st); err != nil {
		return err
	}
	n := len(s.recs)
	if err := s.add(recs); err != nil {
		s.recs = s.recs[:n]
		return err
	}
	if s.states == nil {
		s.states = map[string][]byte{}
	}
	s.states[name] = state
	s.log = append(s.log, st)
	return nil
}

func (s *ckptStore) records() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.recs...)
}

// writeManyMasters writes n connections from n clients (10.1.x.y), each
// writing a register of one of five PLCs once and reading it, 1 ms
// apart: about n×9 ms of capture time, one modbus.write_new_master event
// per client.
func writeManyMasters(t testing.TB, n int) string {
	return writeCapture(t, func(w *pcapgen.Writer) error {
		for i := range n {
			cli := pcapgen.Endpoint{MAC: net.HardwareAddr{0, 0x80, 0xf4, 1, byte(i >> 8), byte(i)},
				Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(1 + i%250)}), uint16(40000+i))}
			srv := pcapgen.Endpoint{MAC: plcMAC, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, 0, byte(1 + i%5)}), 502)}
			if err := transact(w, cli, srv, pair(pcapgen.WriteSingle(1, 1, uint16(i), 1)), pair(pcapgen.ReadHolding(2, 1, 0, 4))); err != nil {
				return err
			}
		}
		return nil
	})
}

// filesConfig is the config of the exactly-once tests: emission cycles
// of five seconds of capture time, and the smallest memory budget, so that
// events also end cycles when half of their budget waits.
func filesConfig(path string) passive.Config {
	cfg := passive.DefaultConfig()
	cfg.Files = []string{path}
	cfg.SummaryInterval = 5 * time.Second
	cfg.MemoryBudget = passive.MinMemoryBudget
	return cfg
}

// TestCollectorFileExactlyOnce replays a file through a Checkpointer once
// without a fault (the reference), then once with a crash at each
// EmitCheckpoint call (a cut of many records takes several), followed by
// a restart (a new Collector, as after an agent restart, or the same one
// started again, as by the supervisor): every time the records stored equal the reference's
// exactly, in order, and a further restart reads nothing.
func TestCollectorFileExactlyOnce(t *testing.T) {
	t.Parallel()
	path := writeManyMasters(t, 1500)
	ref := &ckptStore{}
	c, err := passive.New(filesConfig(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntilFilesDone(t, c, ref); err != nil {
		t.Fatal(err)
	}
	want := ref.records()
	full, events, partial := 0, 0, 0
	for _, st := range ref.log {
		switch {
		case st.Partial != nil:
			partial++ // a cut of more than maxBatchRecords records, stored in several calls
		case st.StatePackets == st.Packets:
			full++
		default:
			events++
		}
	}
	if full < 3 || events < 1 || partial < 1 || !ref.log[len(ref.log)-1].Done {
		t.Fatalf("cuts: %d full, %d events only, %d partly stored, last %+v; want several of each kind", full, events, partial, ref.log[len(ref.log)-1])
	}
	kinds := map[string]int{}
	for _, r := range want {
		var v []any
		_ = json.Unmarshal([]byte(r), &v)
		kinds[v[1].(string)]++
	}
	if kinds["modbus.write_new_master"] != 1500 {
		t.Fatalf("reference: %v, want 1500 modbus.write_new_master", kinds)
	}
	for crash := 1; crash <= ref.calls; crash++ {
		t.Run(fmt.Sprintf("crash at cycle %d", crash), func(t *testing.T) {
			t.Parallel()
			s := &ckptStore{failAt: crash}
			c, err := passive.New(filesConfig(path), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := runUntilFilesDone(t, c, s); !errors.Is(err, errCrash) {
				t.Fatalf("Run = %v, want the crash", err)
			}
			if crash%2 == 1 { // an agent restart: a new Collector
				if c, err = passive.New(filesConfig(path), nil); err != nil {
					t.Fatal(err)
				}
			} // else the supervisor starts the same Collector again
			if err := runUntilFilesDone(t, c, s); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, s.records()); diff != "" {
				t.Fatalf("records after a crash at cycle %d differ from the reference (-want +got):\n%s", crash, diff)
			}
			c, _ = passive.New(filesConfig(path), nil)
			if err := runUntilFilesDone(t, c, s); err != nil {
				t.Fatal(err)
			}
			if n := len(s.records()); n != len(want) {
				t.Errorf("a restart after the file was done stored %d more records", n-len(want))
			}
			if st := c.Stats().Files[0]; st.State != passive.FileSkipped {
				t.Errorf("file after a restart: %+v, want skipped", st)
			}
		})
	}
}

// TestCollectorFileChanged: a file replaced by another (new size, time,
// inode) at the same path is read as a new file; the same file with only
// its path spelled differently is not read again.
func TestCollectorFileChanged(t *testing.T) {
	t.Parallel()
	path := writeManyMasters(t, 20)
	s := &ckptStore{}
	run := func(p string) {
		t.Helper()
		c, err := passive.New(filesConfig(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := runUntilFilesDone(t, c, s); err != nil {
			t.Fatal(err)
		}
	}
	run(path)
	first := len(s.records())
	run(strings.Replace(path, "/gen.pcap", "/./gen.pcap", 1))
	if n := len(s.records()); n != first {
		t.Fatalf("the same file read again: %d records, then %d", first, n)
	}
	other := writeManyMasters(t, 30)
	b, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	run(path)
	if got := len(s.records()) - first; got == 0 {
		t.Error("a replaced file was not read")
	}
}
