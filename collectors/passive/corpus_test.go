package passive_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// Corpus sizes and seed of TestCorpora (the table in doc.go is theirs).
const (
	corpusSeed          = 11
	corpusBenign        = 20
	corpusAttackVariant = 10
)

// corpusResult is what the engine raised on one scenario.
type corpusResult struct {
	sc    pcapgen.Scenario
	kinds []string // distinct event kinds raised by the attack, sorted
	// fp are the events raised by the plant's own clients (every event of
	// a benign capture).
	fp []passive.Event
}

// byAttacker reports whether ev was raised by the attack of sc: its
// client is the attacker's (pcapgen.AttackerNet), or the engineering
// station's address that a FC 90 download may come from.
func byAttacker(sc pcapgen.Scenario, ev passive.Event) bool {
	if sc.Family == "benign" {
		return false
	}
	return strings.HasPrefix(ev.Client, pcapgen.AttackerNet) ||
		(sc.Family == "fc90_download" && ev.Client == pcapgen.EngineeringStation && ev.Kind == "modbus.program_function")
}

// runCorpus replays each scenario with the engine's defaults and the
// corpus's learning period.
func runCorpus(t *testing.T, scs []pcapgen.Scenario) []corpusResult {
	t.Helper()
	cfg := passive.DefaultConfig()
	cfg.Modbus.LearnPeriod = pcapgen.CorpusBaseline
	dir := t.TempDir()
	var out []corpusResult
	for _, sc := range scs {
		path := filepath.Join(dir, strings.ReplaceAll(sc.Name, "/", "-")+".pcap")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := pcapgen.NewWriter(f, layers.LinkTypeEthernet, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Gen(w); err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		sum, err := passive.Replay(context.Background(), []string{path}, cfg, nil)
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		if sc.Family == "benign" && (sum.Modbus.Malformed != 0 || sum.OPCUA.Malformed != 0) {
			t.Errorf("%s: generated traffic decoded as malformed (modbus %d, opcua %d)", sc.Name, sum.Modbus.Malformed, sum.OPCUA.Malformed)
		}
		r := corpusResult{sc: sc}
		for _, ev := range sum.Events {
			if !byAttacker(sc, ev) {
				r.fp = append(r.fp, ev)
				t.Logf("%s: false positive: %s", sc.Name, ev)
			} else if !slices.Contains(r.kinds, ev.Kind) {
				r.kinds = append(r.kinds, ev.Kind)
			}
		}
		sort.Strings(r.kinds)
		if sc.Want != "" && !slices.Contains(r.kinds, sc.Want) {
			t.Logf("%s: no %s (raised %v)", sc.Name, sc.Want, r.kinds)
		}
		out = append(out, r)
		os.Remove(path)
	}
	return out
}

// corpusTable renders the rate table of the package documentation: per
// attack family, the event kind it must raise, how many of its captures
// raised it, how many captures (benign or attack) had that kind raised by
// the plant's own clients (false positives), and the other kinds the
// attack raised.
func corpusTable(benign, attack []corpusResult) []string {
	type row struct {
		family, want string
		n, hit, fp   int
		also         []string
	}
	var rows []*row
	byFamily := map[string]*row{}
	all := append(slices.Clone(benign), attack...)
	for _, r := range attack {
		rw := byFamily[r.sc.Family]
		if rw == nil {
			rw = &row{family: r.sc.Family, want: r.sc.Want}
			for _, b := range all {
				if slices.ContainsFunc(b.fp, func(ev passive.Event) bool { return ev.Kind == r.sc.Want }) {
					rw.fp++
				}
			}
			byFamily[r.sc.Family] = rw
			rows = append(rows, rw)
		}
		rw.n++
		if slices.Contains(r.kinds, r.sc.Want) {
			rw.hit++
		}
		for _, k := range r.kinds {
			if k != r.sc.Want && !slices.Contains(rw.also, k) {
				rw.also = append(rw.also, k)
			}
		}
	}
	pct := func(a, b int) string { return fmt.Sprintf("%d/%d %d%%", a, b, 100*a/max(b, 1)) }
	out := []string{fmt.Sprintf("%-21s %-28s %-11s %-10s %s", "attack family", "event kind", "detected", "FP", "also raised by the attack")}
	for _, rw := range rows {
		sort.Strings(rw.also)
		also := strings.Join(rw.also, ", ")
		if also == "" {
			also = "-"
		}
		out = append(out, fmt.Sprintf("%-21s %-28s %-11s %-10s %s", rw.family, rw.want, pct(rw.hit, rw.n), pct(rw.fp, len(all)), also))
	}
	fp := 0
	for _, r := range all {
		fp += len(r.fp)
	}
	out = append(out, fmt.Sprintf("captures: %d benign, %d attack; events from the plant's own clients: %d", len(benign), len(attack), fp))
	return out
}

// docTable returns the lines of the rate table in doc.go (the indented
// block after the line "Corpus rates").
func docTable(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.Contains(line, "Corpus rates"):
			in = true
		case in && strings.HasPrefix(line, "//\t"):
			out = append(out, strings.TrimPrefix(line, "//\t"))
		case in && len(out) > 0:
			return out
		}
	}
	return out
}

// TestCorpora runs the engine on the generated benign and attack corpora
// (pcapgen.BenignCorpus, pcapgen.AttackCorpus): the benign corpus raises
// no event at all, nor do the plant's own clients in the attack captures,
// and the detection and false-positive rates per event kind are those of
// the table in the package documentation.
func TestCorpora(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and replays 100 captures")
	}
	t.Parallel()
	benign := runCorpus(t, pcapgen.BenignCorpus(corpusSeed, corpusBenign))
	attack := runCorpus(t, pcapgen.AttackCorpus(corpusSeed, corpusAttackVariant))
	for _, r := range append(slices.Clone(benign), attack...) {
		if len(r.fp) != 0 {
			t.Errorf("%s: %d events from the plant's own clients (false positives)", r.sc.Name, len(r.fp))
		}
	}
	got := corpusTable(benign, attack)
	want := docTable(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rate table in doc.go differs from the engine's results; the engine's:\n%s\ndoc.go's:\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
