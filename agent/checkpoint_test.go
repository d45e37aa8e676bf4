package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/schematest"
)

func testRecorder(t *testing.T, path string) (*recorder, *buffer.Buffer) {
	t.Helper()
	buf, err := buffer.Open(path, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &recorder{buf: buf, agent: collectors.Agent{ID: "gw", Enterprise: "e", Site: "s", Version: "v"}, now: time.Now}, buf
}

func TestRecorderCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.db")
	r, buf := testRecorder(t, path)
	body := map[string]any{"n": 1}
	ev := collectors.Record{Class: collectors.ClassThreat, Kind: "test.event", Severity: collectors.SeverityLow, Body: body}

	if st, err := r.Checkpoint(ctx, "capture.pcap"); st != nil || err != nil {
		t.Fatalf("Checkpoint before any = %q, %v; want nil, nil", st, err)
	}
	if err := r.EmitCheckpoint(ctx, "capture.pcap", []byte(`{"offset":100}`), ev, ev); err != nil {
		t.Fatal(err)
	}
	// An invalid record is refused; the valid one and the state are kept.
	err := r.EmitCheckpoint(ctx, "capture.pcap", []byte(`{"offset":200}`), ev,
		collectors.Record{Class: collectors.ClassAsset, Kind: "test.asset", Body: body})
	if !errors.Is(err, collectors.ErrInvalidRecord) {
		t.Fatalf("EmitCheckpoint with an invalid record: %v, want ErrInvalidRecord", err)
	}
	if err := r.EmitCheckpoint(ctx, "other.pcapng", []byte{}); err != nil {
		t.Fatal(err)
	}
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}

	r, buf = testRecorder(t, path) // survives a restart
	defer buf.Close()
	if st, err := r.Checkpoint(ctx, "capture.pcap"); string(st) != `{"offset":200}` || err != nil {
		t.Fatalf("Checkpoint = %q, %v", st, err)
	}
	if st, err := r.Checkpoint(ctx, "other.pcapng"); st == nil || len(st) != 0 || err != nil {
		t.Fatalf("empty state = %q (nil %v), %v; want empty, not nil", st, st == nil, err)
	}
	if st := buf.Stats(); st.Accepted != 3 || st.Queued != 3 {
		t.Fatalf("stats %+v, want the 3 valid records", st)
	}
	if err := r.EmitCheckpoint(ctx, "capture.pcap", nil); err != nil {
		t.Fatal(err)
	}
	if st, err := r.Checkpoint(ctx, "capture.pcap"); st != nil || err != nil {
		t.Fatalf("deleted checkpoint = %q, %v", st, err)
	}
}

const ckptEnvPath = "EDGEWARD_CHECKPOINT_CRASH_PATH"

// TestEmitCheckpointAtomicAcrossSIGKILL re-executes the test binary as a
// collector that reads "input steps" from its checkpoint on, emits each
// step's records with the next checkpoint in one EmitCheckpoint (while
// another goroutine emits unrelated records, so transactions are shared),
// and prints "C step" after each returned. The parent SIGKILLs it at random
// moments, restarts it, and finally checks: the checkpoint is at least the
// last confirmed step, every step up to it has all its records exactly once,
// and no record of a later step exists.
func TestEmitCheckpointAtomicAcrossSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the binary")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.db")
	seed := uint64(time.Now().UnixNano())
	rnd := rand.New(rand.NewPCG(seed, 3))
	t.Logf("seed %d", seed)
	confirmed := 0
	const kills = 12
	for run := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), ckptEnvPath+"="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		first := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var once sync.Once
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if step, ok := strings.CutPrefix(sc.Text(), "C "); ok {
					n, _ := strconv.Atoi(step)
					confirmed = max(confirmed, n)
					once.Do(func() { close(first) })
				}
			}
		}()
		select {
		case <-first:
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("run %d: helper confirmed nothing for 30s", run)
		}
		time.Sleep(time.Duration(rnd.IntN(150)) * time.Millisecond)
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
		if strings.Contains(stderr.String(), "helper ") {
			t.Fatalf("run %d: %s", run, stderr.String())
		}
	}

	r, buf := testRecorder(t, path)
	defer buf.Close()
	state, err := r.Checkpoint(context.Background(), "input")
	if err != nil {
		t.Fatal(err)
	}
	ckpt, _ := strconv.Atoi(string(state))
	if ckpt < confirmed {
		t.Fatalf("checkpoint %d is behind the last confirmed step %d", ckpt, confirmed)
	}
	es, err := buf.Next(context.Background(), 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[2]int]int{}
	for _, e := range es {
		var rec struct {
			Kind string `json:"kind"`
			Body struct{ Step, J int }
		}
		if err := json.Unmarshal(e.Data, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Kind == "test.step" {
			seen[[2]int{rec.Body.Step, rec.Body.J}]++
		}
	}
	for k, n := range seen {
		if k[0] > ckpt {
			t.Errorf("record %v of step %d stored, but the checkpoint says %d", k, k[0], ckpt)
		}
		if n != 1 {
			t.Errorf("record %v stored %d times", k, n)
		}
	}
	for step := 1; step <= ckpt; step++ {
		for j := range stepRecords(step) {
			if seen[[2]int{step, j}] == 0 {
				t.Errorf("record %d of step %d missing although the checkpoint passed it", j, step)
			}
		}
	}
	t.Logf("%d kills: checkpoint at step %d (last confirmed %d), %d step records, all exactly once", kills, ckpt, confirmed, len(seen))
}

func stepRecords(step int) int { return 1 + step%5 }

// TestCheckpointCrashHelper is the child of
// TestEmitCheckpointAtomicAcrossSIGKILL; it does nothing in a normal run.
func TestCheckpointCrashHelper(t *testing.T) {
	path := os.Getenv(ckptEnvPath)
	if path == "" {
		t.Skip("helper for TestEmitCheckpointAtomicAcrossSIGKILL")
	}
	buf, err := buffer.Open(path, buffer.Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper open: %v\n", err)
		os.Exit(2)
	}
	r := &recorder{buf: buf, agent: collectors.Agent{ID: "gw", Enterprise: "e", Site: "s", Version: "v"}, now: time.Now}
	ctx := context.Background()
	go func() { // unrelated records sharing the transactions
		for i := 0; ; i++ {
			_ = r.Emit(ctx, collectors.Record{Class: collectors.ClassStatus, Kind: "test.noise", Key: strconv.Itoa(i % 7), Body: map[string]int{"i": i}})
		}
	}()
	state, err := r.Checkpoint(ctx, "input")
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper checkpoint: %v\n", err)
		os.Exit(2)
	}
	step, _ := strconv.Atoi(string(state))
	for {
		step++
		recs := make([]collectors.Record, stepRecords(step))
		for j := range recs {
			recs[j] = collectors.Record{Class: collectors.ClassThreat, Kind: "test.step", Severity: collectors.SeverityInfo,
				Body: map[string]int{"step": step, "j": j}}
		}
		if err := r.EmitCheckpoint(ctx, "input", []byte(strconv.Itoa(step)), recs...); err != nil {
			fmt.Fprintf(os.Stderr, "helper emit: %v\n", err)
			os.Exit(2)
		}
		_, _ = os.Stdout.WriteString("C " + strconv.Itoa(step) + "\n")
	}
}

// TestBufferRecoveryReported: a damaged buffer file found at start becomes
// one agent.buffer_recovered threat record that validates against schema v1,
// sent once: the report is deleted with it, so a restart sends nothing more.
func TestBufferRecoveryReported(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil { // zero length
		t.Fatal(err)
	}
	for start := range 2 {
		r, buf := testRecorder(t, path)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			reportRecoveries(ctx, buf, r, discardLogger())
		}()
		deadline := time.Now().Add(30 * time.Second)
		for buf.Stats().Queued < 1 && start == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		es, err := buf.Next(context.Background(), 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 1 {
			t.Fatalf("start %d: %d records queued, want the one report", start, len(es))
		}
		if err := schematest.ValidateJSON(es[0].Data); err != nil {
			t.Errorf("report does not validate: %v\n%s", err, es[0].Data)
		}
		var rec collectors.Record
		if err := json.Unmarshal(es[0].Data, &rec); err != nil {
			t.Fatal(err)
		}
		body, _ := rec.Body.(map[string]any)
		if rec.Kind != "agent.buffer_recovered" || rec.Class != collectors.ClassThreat || body["reason"] != buffer.RecoveryZeroLength {
			t.Errorf("report record: %s", es[0].Data)
		}
		if reps, _ := buf.Recoveries(context.Background()); len(reps) != 0 {
			t.Errorf("start %d: reports still pending: %+v", start, reps)
		}
		if err := buf.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
