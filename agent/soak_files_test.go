//go:build linux

package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
)

// soakFiles are the captures `run` replays in soakRunFilesOnce: the largest
// of ../shared, so that a kill lands while they are read.
var soakFiles = []string{"iti-ModbusTCP.pcap", "zeek-modbusBig.pcap", "aaronderybel-modbus.pcapng",
	"lemay-characterization_modbus_6RTU_with_operate.pcap", "digitalbond-modbus_test_data_part1.pcap"}

// filesRun is one buffer file that `run` with passive files writes to, run
// after run, and what the test has read out of it.
type filesRun struct {
	t       *testing.T
	a       *agentProc
	bufPath string
	files   int

	// What the runs stored, read and acknowledged after each run (so that
	// no record replaces another across runs): records of the files, the
	// threat records' contents (never coalesced), the last content of each
	// state record's kind and key, and the heartbeats.
	fileRecords uint64
	threats     map[string]int
	states      map[string]string
	heartbeats  int
	accepted    uint64
}

func newFilesRun(t *testing.T, dir, name string, files []string) *filesRun {
	bin := edgewardBinary(t)
	bufPath := filepath.Join(dir, name+".db")
	cfg := filepath.Join(dir, name+".yaml")
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = fmt.Sprintf("%q", f)
	}
	body := fmt.Sprintf("agent: {id: files, enterprise: acme, site: plant-1}\nbuffer: {path: %s}\nuplink: {brokers: [], heartbeat: 1h}\n"+
		"collectors:\n  host: {enabled: false}\n  baseline: {enabled: false}\n  passive: {enabled: true, files: [%s], summary_interval: 1s}\n",
		bufPath, strings.Join(q, ", "))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{t: t, bin: bin, cfg: cfg, logPath: filepath.Join(dir, name+".log")}
	keepLogsOnFailure(t, a.logPath)
	return &filesRun{t: t, a: a, bufPath: bufPath, files: len(files), threats: map[string]int{}, states: map[string]string{}}
}

// finished counts the files the current run finished or found finished.
func (r *filesRun) finished() int {
	log := r.a.current()
	return strings.Count(log, `msg="capture file replayed"`) + strings.Count(log, `msg="capture file already replayed`)
}

// complete runs the agent until every file is replayed, stops it cleanly
// and reads the buffer.
func (r *filesRun) complete() time.Duration {
	start := time.Now()
	r.a.start()
	for deadline := time.Now().Add(3 * time.Minute); r.finished() < r.files; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) || r.a.exited() {
			r.a.kill()
			r.t.Fatalf("the files were not replayed within 3 minutes; log %s", r.a.logPath)
		}
	}
	took := time.Since(start)
	if err := r.a.stop(); err != nil {
		r.t.Fatalf("agent stop: %v; log %s", err, r.a.logPath)
	}
	r.drain()
	return took
}

// drain reads every queued record of the stopped agent's buffer, notes it,
// and acknowledges it.
func (r *filesRun) drain() {
	t := r.t
	buf, err := buffer.Open(r.bufPath, buffer.Options{})
	if err != nil {
		t.Fatalf("open the buffer after a run: %v", err)
	}
	defer buf.Close()
	st := buf.Stats()
	es, err := buf.Next(context.Background(), 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, 0, len(es))
	hb := 0
	for _, e := range es {
		seqs = append(seqs, e.Seq)
		var rec map[string]any
		if err := json.Unmarshal(e.Data, &rec); err != nil {
			t.Fatalf("record %d: %v", e.Seq, err)
		}
		kind, _ := rec["kind"].(string)
		if strings.HasPrefix(kind, "agent.") {
			hb++
			continue
		}
		delete(rec, "id") // new for every record stored
		fp, _ := json.Marshal(rec)
		if rec["class"] == "threat" {
			r.threats[string(fp)]++
		} else {
			r.states[kind+"/"+fmt.Sprint(rec["key"])] = string(fp)
		}
	}
	if err := buf.Ack(context.Background(), seqs...); err != nil {
		t.Fatal(err)
	}
	// Agent records are at most one heartbeat per run, never coalesced
	// within a run: the rest of what was accepted came from the files.
	r.heartbeats += hb
	r.fileRecords += st.Accepted - r.accepted - uint64(hb)
	r.accepted = st.Accepted
}

// compare returns how many of ref's file records are missing from r, how
// many r holds more than once (threat contents, state contents, and the
// count of records stored), and every difference found (a missing,
// unexpected or differing record).
func (r *filesRun) compare(ref *filesRun) (missing, dups int, diffs []string) {
	for fp, n := range ref.threats {
		if got := r.threats[fp]; got < n {
			missing += n - got
			diffs = append(diffs, "missing threat "+fp)
		} else if got > n {
			dups += got - n
		}
	}
	for fp, got := range r.threats {
		if _, ok := ref.threats[fp]; !ok {
			dups += got
			diffs = append(diffs, "unexpected threat "+fp)
		}
	}
	for k, fp := range ref.states {
		if got, ok := r.states[k]; !ok {
			missing++
			diffs = append(diffs, "missing state "+k)
		} else if got != fp {
			diffs = append(diffs, fmt.Sprintf("state %s differs:\n got %s\nwant %s", k, got, fp))
		}
	}
	for k := range r.states {
		if _, ok := ref.states[k]; !ok {
			diffs = append(diffs, "unexpected state "+k)
		}
	}
	switch d := int(r.fileRecords) - int(ref.fileRecords); {
	case d > 0:
		dups = max(dups, d)
	case d < 0:
		missing = max(missing, -d)
	}
	slices.Sort(diffs)
	return missing, dups, diffs
}

// soakRunFilesOnce: `run` with passive files stores each file's records
// exactly once, across clean restarts and across SIGKILLs at random moments
// while the files are read: the records of a cut and the file's checkpoint
// share one transaction, so there is no in-flight window for files. A
// reference run reads the files uninterrupted; then series of runs on new
// buffers are killed until the files are done and must have stored exactly
// the reference's records (the same count, the same contents), and a clean
// restart nothing but its heartbeat.
func soakRunFilesOnce(t *testing.T) {
	var files []string
	for _, f := range soakFiles {
		p, err := filepath.Abs(filepath.Join("../../shared/testdata/pcaps", f))
		if err == nil {
			if _, err := os.Stat(p); err == nil {
				files = append(files, p)
			}
		}
	}
	const scenario, target = "run with passive files (SIGKILL and clean restarts)", "each file's records stored once: 0 lost, 0 duplicated"
	if len(files) == 0 {
		report(t, scenario, target, false, false, "skipped: ../shared captures missing")
		t.Skip("../shared/testdata/pcaps missing")
	}
	dir := t.TempDir()
	ref := newFilesRun(t, dir, "reference", files)
	took := ref.complete()
	before := ref.fileRecords
	ref.complete() // a clean restart: every file already replayed
	restartDups := int(ref.fileRecords - before)
	if ref.fileRecords == 0 || len(ref.threats) == 0 {
		t.Fatalf("the reference run stored %d file records, %d threats: nothing to compare", ref.fileRecords, len(ref.threats))
	}

	kills, mid, resumed, series := 0, 0, 0, 0
	missing, dups, differ := 0, restartDups, 0
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	for want := pick(4, 30); kills < want; series++ {
		r := newFilesRun(t, dir, fmt.Sprintf("killed-%d", series), files)
		for n := 0; n < 20; n++ { // killed runs until the files are done
			r.a.start()
			if !r.a.waitLog("edgeward starting", time.Minute) {
				r.a.kill()
				t.Fatalf("agent did not start; log %s", r.a.logPath)
			}
			time.Sleep(time.Duration(rng.Int64N(int64(took))))
			r.a.kill()
			done := r.finished()
			if strings.Contains(r.a.current(), `msg="resuming capture file"`) {
				resumed++
			}
			r.drain()
			kills++
			if done >= r.files {
				break
			}
			mid++
		}
		r.complete()
		after := r.fileRecords
		r.complete() // a clean restart stores nothing of the files
		m, d, diffs := r.compare(ref)
		d += int(r.fileRecords - after)
		missing, dups, differ = missing+m, dups+d, differ+len(diffs)
		for _, s := range diffs[:min(len(diffs), 10)] {
			t.Logf("series %d: %s", series, s)
		}
	}
	report(t, scenario, target, missing == 0 && dups == 0 && differ == 0 && mid > 0, true,
		"%d files, %d records each time; %d SIGKILLs in %d series (%d while a file was read, %d runs resumed a file): %d lost, %d duplicated, %d differing; clean restarts stored 0 file records besides: %v",
		len(files), ref.fileRecords, kills, series, mid, resumed, missing, dups, differ, restartDups == 0)
}
