package buffer_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
)

const (
	helperEnvPath = "EDGEWARD_BUFFER_CRASH_PATH"
	helperEnvRun  = "EDGEWARD_BUFFER_CRASH_RUN"
	crashKills    = 24
)

// crashOpts is shared by the helper and the final check. The small
// compaction threshold makes the helper compact now and then, so some kills
// land during a compaction.
var crashOpts = buffer.Options{Timeout: 10 * time.Second, CompactMinBytes: 1 << 20, CompactBelow: 0.5}

// TestCrashSIGKILL re-executes the test binary as a child that Puts and Acks
// records in a loop, printing "P id" after each Put returned, "T id" before each
// Ack and "A id" after each Ack returned. The parent SIGKILLs it at random moments, over and over
// on the same file, then checks that every record whose Put returned and that
// was not handed to Ack is present exactly once, that nothing acked came back, and
// that the counters balance.
func TestCrashSIGKILL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("crash test re-executes the binary many times")
	}
	path := tempPath(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 7))
	// put: Put returned. acking: Ack was called (it may or may not have
	// committed before the kill). acked: Ack returned.
	put, acking, acked := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var kept, compactions int
	for run := range crashKills {
		var delay time.Duration
		fromStart := run%4 == 3 // some kills land during start-up and Open
		if fromStart {
			delay = time.Duration(rnd.IntN(40)) * time.Millisecond
		} else {
			delay = time.Duration(5+rnd.IntN(200)) * time.Millisecond
		}
		lines, c := runAndKill(t, path, run, delay, fromStart)
		compactions += c
		for _, l := range lines {
			switch {
			case strings.HasPrefix(l, "P "):
				put[l[2:]] = true
				kept++
			case strings.HasPrefix(l, "T "):
				acking[l[2:]] = true
			case strings.HasPrefix(l, "A "):
				acked[l[2:]] = true
			}
		}
		// Check after every kill, not only at the end.
		verifyCrashState(t, path, put, acking, acked, run)
		if t.Failed() {
			t.Fatalf("after run %d (seed %d)", run, seed)
		}
	}
	if kept == 0 {
		t.Fatal("the helper never completed a Put")
	}
	st := verifyCrashState(t, path, put, acking, acked, crashKills)
	t.Logf("%d kills: %d puts confirmed, %d acks confirmed, %d queued at the end, %d delivered, %d compactions, file %d bytes",
		crashKills, len(put), len(acked), st.Queued, st.Delivered, compactions, st.FileBytes)
}

// verifyCrashState reopens the file and checks it against what the helper
// confirmed.
func verifyCrashState(t *testing.T, path string, put, acking, acked map[string]bool, run int) buffer.Stats {
	t.Helper()
	b, err := buffer.Open(path, crashOpts)
	if err != nil {
		t.Fatalf("after run %d: reopen: %v", run, err)
	}
	defer b.Close()
	st := checkBalance(t, b)
	es := mustNext(t, b, 0, 0, 0)
	if uint64(len(es)) != st.Queued {
		t.Fatalf("after run %d: Next returned %d entries, stats say %d queued", run, len(es), st.Queued)
	}
	count := map[string]int{}
	for _, e := range es {
		count[strings.TrimRight(string(e.Data), " ")]++
	}
	var missing, dup, resurrected int
	for id := range put {
		if !acking[id] && count[id] == 0 {
			missing++
			if missing < 5 {
				t.Errorf("record %s: Put returned, never acked, missing after crashes", id)
			}
		}
	}
	for id, n := range count {
		if n > 1 {
			dup++
			t.Errorf("record %s present %d times", id, n)
		}
		if acked[id] {
			resurrected++
			t.Errorf("record %s: Ack returned, but it is back", id)
		}
	}
	if missing+dup+resurrected > 0 {
		t.Errorf("after run %d: %d missing, %d duplicated, %d resurrected", run, missing, dup, resurrected)
	}
	return st
}

// runAndKill starts the helper, waits delay (from start, or from its first
// confirmed Put), kills it with SIGKILL and returns the complete lines it
// printed.
func runAndKill(t *testing.T, path string, run int, delay time.Duration, fromStart bool) (lines []string, compactions int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnvPath+"="+path, helperEnvRun+"="+strconv.Itoa(run))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		first = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		var once sync.Once
		r := bufio.NewReader(out)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return // a partial last line was never confirmed
			}
			mu.Lock()
			lines = append(lines, strings.TrimSuffix(l, "\n"))
			mu.Unlock()
			if strings.HasPrefix(l, "P ") {
				once.Do(func() { close(first) })
			}
		}
	}()
	if !fromStart {
		select {
		case <-first:
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("run %d: helper printed nothing for 20s", run)
		}
	}
	time.Sleep(delay)
	_ = cmd.Process.Kill() // SIGKILL on Unix
	<-done
	_ = cmd.Wait()
	if strings.Contains(stderr.String(), "helper ") {
		t.Errorf("run %d: helper failed: %s", run, stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	return lines, strings.Count(stderr.String(), "buffer compacted")
}

// TestHelperProcess is the child of TestCrashSIGKILL; it does nothing in a
// normal run.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnvPath)
	if path == "" {
		t.Skip("helper for TestCrashSIGKILL")
	}
	run := os.Getenv(helperEnvRun)
	opts := crashOpts
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	b, err := buffer.Open(path, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper open: %v\n", err)
		os.Exit(2)
	}
	var outMu sync.Mutex
	say := func(kind, id string) {
		outMu.Lock()
		defer outMu.Unlock()
		// One write per line: a kill cannot interleave two lines.
		_, _ = os.Stdout.WriteString(kind + " " + id + "\n")
	}
	ctx := context.Background()
	for g := range 4 {
		go func() {
			for i := 0; ; i++ {
				n := 1 + i%3
				items := make([]buffer.Item, n)
				ids := make([]string, n)
				for j := range items {
					ids[j] = fmt.Sprintf("r%s-g%d-%d-%d", run, g, i, j)
					items[j] = buffer.Item{Stream: "threat", Priority: 4, Data: []byte(ids[j] + strings.Repeat(" ", 400))}
				}
				if err := b.Put(ctx, items...); err != nil {
					fmt.Fprintf(os.Stderr, "helper put: %v\n", err)
					os.Exit(2)
				}
				for _, id := range ids {
					say("P", id)
				}
			}
		}()
	}
	go func() {
		// The acker lags behind, like an uplink. In even runs it keeps up
		// (the file compacts), in odd runs the queue grows.
		max, pause := 200, time.Duration(0)
		if n, _ := strconv.Atoi(run); n%2 == 1 {
			max, pause = 5, 10*time.Millisecond
		}
		for {
			es, err := b.Next(ctx, 0, max, 0)
			if err != nil {
				fmt.Fprintf(os.Stderr, "helper next: %v\n", err)
				os.Exit(2)
			}
			if len(es) == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			for _, e := range es {
				say("T", strings.TrimRight(string(e.Data), " "))
			}
			if err := b.Ack(ctx, seqs(es)...); err != nil {
				fmt.Fprintf(os.Stderr, "helper ack: %v\n", err)
				os.Exit(2)
			}
			for _, e := range es {
				say("A", strings.TrimRight(string(e.Data), " "))
			}
			time.Sleep(pause)
		}
	}()
	time.Sleep(30 * time.Second) // the parent kills us long before
	os.Exit(3)
}
