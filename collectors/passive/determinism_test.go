package passive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// writeStorm writes a pcapgen.Storm of conns connections and returns its
// path.
func writeStorm(t testing.TB, conns int) string {
	t.Helper()
	return writeCaptureLink(t, layers.LinkTypeEthernet, 0, nil, func(w *pcapgen.Writer) error {
		return pcapgen.WriteStorm(w, pcapgen.Storm{Conns: conns, Seed: 7})
	})
}

// replayJSON replays files and returns the Summary as JSON.
func replayJSON(t *testing.T, cfg passive.Config, files ...string) []byte {
	t.Helper()
	sum, err := passive.Replay(context.Background(), files, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReplayDeterministic replays the same captures several times and
// requires byte-identical JSON, all of it: a flow storm with more event
// sources than the rate limiter holds (its least recently used keys are
// evicted) and more connections, MACs and table entries than the smallest
// memory budget holds, then every shared real capture when ../shared is
// there.
func TestReplayDeterministic(t *testing.T) {
	t.Parallel()
	cfg := passive.DefaultConfig()
	cfg.MemoryBudget = passive.MinMemoryBudget
	files := []string{writeStorm(t, 4000), writeManyMasters(t, 4500)}
	first := replayJSON(t, cfg, files...)
	var sum passive.Summary
	if err := json.Unmarshal(first, &sum); err != nil {
		t.Fatal(err)
	}
	st := sum.Stats
	if st.Flows.Evicted == 0 || st.MACsEvicted == 0 || sum.EventsOmitted == 0 || len(sum.Events) < 100 {
		t.Fatalf("the captures do not push the bounds: %d connections evicted, %d MACs, %d events (%d omitted)",
			st.Flows.Evicted, st.MACsEvicted, len(sum.Events), sum.EventsOmitted)
	}
	for run := 2; run <= 3; run++ {
		if again := replayJSON(t, cfg, files...); !bytes.Equal(first, again) {
			t.Fatalf("run %d differs from run 1:\n%s", run, firstDiff(first, again))
		}
	}

	dir := filepath.Join("..", "..", "..", "shared", "testdata", "pcaps")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared captures absent (%s): only the generated captures were checked", dir)
	}
	all, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if err != nil {
		t.Fatal(err)
	}
	var caps []string
	for _, f := range all {
		if !strings.HasSuffix(f, ".json") {
			caps = append(caps, f)
		}
	}
	first = replayJSON(t, passive.DefaultConfig(), caps...)
	if again := replayJSON(t, passive.DefaultConfig(), caps...); !bytes.Equal(first, again) {
		t.Fatalf("the shared captures replay differently:\n%s", firstDiff(first, again))
	}
}

// firstDiff shows where a and b first differ.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-200)
	return "run 1: ..." + string(a[from:min(len(a), i+200)]) + "\nrun 2: ..." + string(b[from:min(len(b), i+200)])
}
