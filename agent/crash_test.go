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
)

// TestAgentSIGKILLWhileDraining fills a buffer with N accepted threat
// records, then runs the real agent against mosquitto and SIGKILLs it at
// random moments while it drains, restarting it each time. Every accepted
// record must reach the subscriber (duplicates allowed, loss never), and the
// buffer's counters must balance with nothing left queued.
func TestAgentSIGKILLWhileDraining(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crash test skipped in -short mode")
	}
	t.Parallel()
	bin := edgewardBinary(t)
	broker := startMosquitto(t)
	dir := t.TempDir()
	bufPath := filepath.Join(dir, "buffer.db")

	const n = 50000
	buf, err := buffer.Open(bufPath, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]bool, n)
	items := make([]buffer.Item, 0, 500)
	for i := range n {
		id := fmt.Sprintf("crash-%06d", i)
		want[id] = true
		items = append(items, buffer.Item{Stream: "threat", Priority: 4, Time: time.Now(),
			Data: fmt.Appendf(nil, `{"id":%q,"class":"threat","kind":"test.crash","body":{"pad":%q}}`, id, bytes.Repeat([]byte("x"), 300))})
		if len(items) == cap(items) {
			if err := buf.Put(context.Background(), items...); err != nil {
				t.Fatal(err)
			}
			items = items[:0]
		}
	}
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}

	sub := subscribeAll(t, broker, "edgeward/v1/acme/plant-1/crash/threat")
	cfgPath := filepath.Join(dir, "edgeward.yaml")
	cfg := fmt.Sprintf("agent: {id: crash, enterprise: acme, site: plant-1}\nbuffer: {path: %s}\n"+
		"uplink: {brokers: [\"%s\"], batch_max_records: 50, in_flight: 4, heartbeat: 1h}\n"+
		"collectors: {host: {enabled: false}, baseline: {enabled: false}}\n", bufPath, broker)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var logs syncBuffer
	start := func() (*exec.Cmd, chan error) {
		logs.Reset()
		cmd := exec.Command(bin, "run", "-c", cfgPath)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return cmd, done
	}
	// SIGKILL the agent at random moments while it drains; count the kills
	// that landed with part of the queue delivered and part still queued.
	kills, midDrain := 0, 0
	for kills < 20 {
		cmd, done := start()
		time.Sleep(time.Duration(30+rng.IntN(250)) * time.Millisecond)
		_ = cmd.Process.Kill()
		<-done
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
	cmd, done := start()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := readStats(bufPath)
		if err == nil && st.Queued <= 1 && strings.Contains(logs.String(), "edgeward starting") {
			break // at most the agent's own heartbeat is queued
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("not drained in time; log:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	if err := <-done; err != nil {
		t.Fatalf("agent exited with %v; log:\n%s", err, logs.String())
	}

	// Every accepted record arrives; wait briefly for the last batches.
	var missing int
	for wait := time.Now().Add(10 * time.Second); ; {
		got := map[string]int{}
		sub.mu.Lock()
		for _, r := range sub.records {
			if id, ok := r["id"].(string); ok {
				got[id]++
			}
		}
		total := len(sub.records)
		sub.mu.Unlock()
		missing = 0
		for id := range want {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			t.Logf("%d kills (%d mid-drain); %d records received for %d accepted (%d duplicates)", kills, midDrain, total, n, total-n)
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("%d of %d accepted records never arrived after %d SIGKILLs", missing, n, kills)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := exec.Command(bin, "buffer", "stats", "--format", "json", "-c", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("buffer stats: %v\n%s", err, out)
	}
	if q := assertBalanced(t, out); q.Queued > 1 {
		t.Errorf("%d records still queued after the drain", q.Queued)
	}
}
