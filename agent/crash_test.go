package agent

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/uplink/uplinktest"
)

// TestAgentSIGKILLWhileDraining fills a buffer with N accepted threat
// records, then runs the real agent against mosquitto and SIGKILLs it at
// random moments while it drains, restarting it each time. Every accepted
// record must reach the subscriber (duplicates allowed, loss never), and the
// buffer's counters must balance with nothing left queued.
//
// The subscriber is durable (persistent QoS 1 session, broker queue
// unlimited), so that what it misses while busy is queued by the broker, not
// dropped: with a clean session and mosquitto's default max_queued_messages
// (1000), a subscriber slowed by a loaded machine lost whole 50-record
// batches, which looked like the agent losing records. The broker's packet
// log and every agent run's log are kept when the test fails.
func TestAgentSIGKILLWhileDraining(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crash test skipped in -short mode")
	}
	t.Parallel()
	bin := edgewardBinary(t)
	broker := uplinktest.StartMosquitto(t, uplinktest.MosquittoOptions{Debug: true})
	dir := t.TempDir()
	bufPath := filepath.Join(dir, "buffer.db")
	agentLog := filepath.Join(dir, "agent.log")
	keepLogsOnFailure(t, broker.LogPath, agentLog)

	const n = 50000
	want := fillCrashBuffer(t, bufPath, n)
	sub := uplinktest.Subscribe(t, broker.URL(), "crash", "edgeward/v1/acme/plant-1/crash/threat")
	cfgPath := filepath.Join(dir, "edgeward.yaml")
	cfg := fmt.Sprintf("agent: {id: crash, enterprise: acme, site: plant-1}\nbuffer: {path: %s}\n"+
		"uplink: {brokers: [\"%s\"], batch_max_records: 50, in_flight: 4, heartbeat: 1h}\n"+
		"collectors: {host: {enabled: false}, baseline: {enabled: false}}\nlog: {level: debug}\n", bufPath, broker.URL())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	a := &agentProc{t: t, bin: bin, cfg: cfgPath, logPath: agentLog}
	// SIGKILL the agent at random moments once it is connected and
	// draining; count the kills that landed with part of the queue
	// delivered and part still queued.
	kills, midDrain := 0, 0
	for kills < 20 {
		a.start()
		if !a.waitLog("connected to broker", 60*time.Second) {
			a.kill()
			t.Fatalf("run %d: the agent did not connect in 60 s; log %s", kills+1, agentLog)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		a.kill()
		kills++
		st, err := buffer.ReadStats(bufPath)
		if err != nil {
			t.Fatalf("read stats after kill %d: %v", kills, err)
		}
		if st.Queued == 0 {
			break
		}
		if st.Delivered > 0 && st.Queued < n {
			midDrain++
		}
	}
	if midDrain < 3 {
		t.Fatalf("only %d of %d SIGKILLs landed mid-drain; the test proves nothing (make n larger)", midDrain, kills)
	}

	// Last run: let it drain what is left, then stop it cleanly.
	a.start()
	deadline := time.Now().Add(120 * time.Second)
	for {
		st, err := readStats(bufPath)
		if err == nil && st.Queued <= 1 && a.logHas("edgeward starting") {
			break // at most the agent's own heartbeat is queued
		}
		if time.Now().After(deadline) {
			a.kill()
			t.Fatalf("not drained in time; agent log %s", agentLog)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := a.stop(); err != nil {
		t.Fatalf("agent exited with %v; log %s", err, agentLog)
	}

	// Every accepted record arrives; the broker has them all, so wait
	// generously for the durable subscriber to catch up.
	var missing []string
	for wait := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if missing = sub.Missing(want); len(missing) == 0 || time.Now().After(wait) {
			break
		}
	}
	_, total := sub.Counts()
	if len(missing) > 0 {
		// The broker's packet log tells a loss by the agent (fewer PUBLISHes
		// received than batches) from one on the way to the subscriber.
		t.Fatalf("%d of %d accepted records never arrived after %d SIGKILLs (first %v); broker log: %d PUBLISH received from the agent, %d sent to the subscriber",
			len(missing), n, kills, missing[:min(len(missing), 5)],
			countLines(broker.LogPath, "Received PUBLISH from edgeward-crash"), countLines(broker.LogPath, "Sending PUBLISH to sub-"))
	}
	t.Logf("%d kills (%d mid-drain); %d records received for %d accepted (%d duplicates)", kills, midDrain, total, n, total-n)
	if window := kills * 4 * 50; total-n > window { // in_flight x batch_max_records per kill
		t.Errorf("%d duplicates after %d kills, want at most the in-flight window per kill (%d)", total-n, kills, window)
	}
	out, err := exec.Command(bin, "buffer", "stats", "--format", "json", "-c", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("buffer stats: %v\n%s", err, out)
	}
	if q := assertBalanced(t, out); q.Queued > 1 {
		t.Errorf("%d records still queued after the drain", q.Queued)
	}
}

// fillCrashBuffer accepts n threat records of ~350 bytes into a new buffer
// at path and returns their ids.
func fillCrashBuffer(t *testing.T, path string, n int) []string {
	t.Helper()
	buf, err := buffer.Open(path, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, n)
	items := make([]buffer.Item, 0, 500)
	pad := bytes.Repeat([]byte("x"), 300)
	for i := range n {
		id := fmt.Sprintf("crash-%06d", i)
		ids = append(ids, id)
		items = append(items, buffer.Item{Stream: "threat", Priority: 4, Time: time.Now(),
			Data: fmt.Appendf(nil, `{"id":%q,"class":"threat","kind":"test.crash","body":{"pad":%q}}`, id, pad)})
		if len(items) == cap(items) || i == n-1 {
			if err := buf.Put(context.Background(), items...); err != nil {
				t.Fatal(err)
			}
			items = items[:0]
		}
	}
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// agentProc runs the real agent binary again and again, appending every
// run's output to one log file.
type agentProc struct {
	t        testing.TB
	bin      string
	cfg      string
	logPath  string
	cmd      *exec.Cmd
	done     chan error
	finished bool  // the current run has exited
	exitErr  error // and how
	from     int64 // log offset where the current run starts
}

func (a *agentProc) start() {
	a.t.Helper()
	f, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		a.t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	a.from = fi.Size()
	fmt.Fprintf(f, "=== run at %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(a.bin, "run", "-c", a.cfg)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	a.cmd, a.done, a.finished, a.exitErr = cmd, make(chan error, 1), false, nil
	go func() { a.done <- cmd.Wait() }()
}

// wait waits up to d for the current run to exit and reports whether it did.
func (a *agentProc) wait(d time.Duration) bool {
	if a.finished {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case a.exitErr = <-a.done:
		a.finished = true
	case <-t.C:
	}
	return a.finished
}

// exited reports whether the current run has exited.
func (a *agentProc) exited() bool { return a.wait(0) }

// current returns the current run's log.
func (a *agentProc) current() string {
	b, _ := os.ReadFile(a.logPath)
	if int(a.from) <= len(b) {
		b = b[a.from:]
	}
	return string(b)
}

func (a *agentProc) logHas(s string) bool { return strings.Contains(a.current(), s) }

// waitLog polls the current run's log for s while the agent runs.
func (a *agentProc) waitLog(s string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); !a.logHas(s); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) || a.exited() {
			return false
		}
	}
	return true
}

// kill SIGKILLs the current run, if it still runs, and reaps it.
func (a *agentProc) kill() {
	if !a.finished {
		_ = a.cmd.Process.Kill()
		a.wait(time.Hour)
	}
}

// stop sends SIGINT and waits up to a minute for the exit status. It first
// waits for the run to log its start: the handler of SIGINT is installed
// before that line, and a SIGINT that came earlier would kill the process
// the way Go's default handler does, which is not the stop under test.
func (a *agentProc) stop() error {
	if a.finished {
		return a.exitErr
	}
	a.waitLog("edgeward starting", time.Minute)
	_ = a.cmd.Process.Signal(os.Interrupt)
	if a.wait(time.Minute) {
		return a.exitErr
	}
	a.kill()
	return fmt.Errorf("no exit within a minute of SIGINT")
}

// keepLogsOnFailure copies the files to a directory that outlives the test
// when it fails, and prints where they are and their last lines.
func keepLogsOnFailure(t *testing.T, paths ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dir, err := os.MkdirTemp("", "edgeward-failed-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
		if err != nil {
			t.Logf("keep logs: %v", err)
			return
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Logf("keep %s: %v", p, err)
				continue
			}
			kept := filepath.Join(dir, filepath.Base(p))
			if err := os.WriteFile(kept, b, 0o600); err != nil {
				t.Logf("keep %s: %v", p, err)
				continue
			}
			t.Logf("kept %s; its last lines:\n%s", kept, uplinktest.Tail(kept, 15))
		}
	})
}

// countLines counts the lines of the file at path that contain s.
func countLines(path, s string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte(s))
}
