//go:build linux

package agent

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/uplink"
	"github.com/edgeward/edgeward/uplink/uplinktest"
)

// The fault soak. `make test` runs TestSoak's short scenarios and asserts
// their guarantees (nothing accepted lost, duplicates within the in-flight
// window, descriptors and goroutines back at their baseline). `make soak`
// (EDGEWARD_SOAK=1) runs every scenario at full length, checks the speed and
// size targets of issue 8 as well, and prints the results table that
// RELIABILITY.md quotes; it fails if any target fails.

// soakLong reports whether this is `make soak`.
var soakLong = os.Getenv("EDGEWARD_SOAK") != ""

// soakRow is one line of the results table.
type soakRow struct {
	scenario, target, measured string
	ok                         bool
}

var soakTable struct {
	mu   sync.Mutex
	rows []soakRow
}

// report adds a row to the table. A missed target fails the test under
// `make soak`, and under `make test` only when enforce is set (the
// guarantees, not the speed figures).
func report(t *testing.T, scenario, target string, ok, enforce bool, format string, args ...any) {
	t.Helper()
	measured := fmt.Sprintf(format, args...)
	soakTable.mu.Lock()
	soakTable.rows = append(soakTable.rows, soakRow{scenario, target, measured, ok})
	soakTable.mu.Unlock()
	if !ok && (enforce || soakLong) {
		t.Errorf("%s: target %q missed: %s", scenario, target, measured)
	}
}

// printSoakTable prints the results, and writes them to $EDGEWARD_SOAK_REPORT
// when set.
func printSoakTable(t *testing.T, started time.Time) {
	soakTable.mu.Lock()
	defer soakTable.mu.Unlock()
	var b bytes.Buffer
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "edgeward soak (%s) %s, host %s, %d CPUs, %s, took %s\n\n", map[bool]string{true: "make soak", false: "short"}[soakLong],
		started.UTC().Format(time.RFC3339), host, runtime.NumCPU(), runtime.Version(), time.Since(started).Round(time.Second))
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "| scenario\t| target\t| measured\t| result\t|")
	fmt.Fprintln(w, "|---\t|---\t|---\t|---\t|")
	for _, r := range soakTable.rows {
		res := "pass"
		if !r.ok {
			res = "FAIL"
		}
		fmt.Fprintf(w, "| %s\t| %s\t| %s\t| %s\t|\n", r.scenario, r.target, r.measured, res)
	}
	w.Flush()
	fmt.Print("\n" + b.String())
	if p := os.Getenv("EDGEWARD_SOAK_REPORT"); p != "" {
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Errorf("write soak report: %v", err)
		}
	}
}

// pick returns long under `make soak` and short otherwise.
func pick[T any](short, long T) T {
	if soakLong {
		return long
	}
	return short
}

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("fault soak skipped in -short mode")
	}
	started := time.Now()
	defer printSoakTable(t, started)
	t.Run("kills", soakKills)
	t.Run("link-flaps", soakLinkFlaps)
	t.Run("puback-drops", soakPubackDrops)
	t.Run("broker-restarts", soakBrokerRestarts)
	t.Run("silent-link", soakSilentLink)
	t.Run("bandwidth-cap", soakBandwidthCap)
	t.Run("drain-rate", soakDrainRate)
	t.Run("store-rate", soakStoreRate)
	t.Run("run-files-once", soakRunFilesOnce)
	if !soakLong {
		return // the rest need root (tmpfs), minutes or the big storm capture: make soak only
	}
	t.Run("disk-full", soakDiskFull)
	t.Run("corrupt-page", soakCorruptPage)
	t.Run("flipped-byte", soakFlippedByte)
	t.Run("flow-storm", soakFlowStorm)
	t.Run("replay-determinism", soakReplayDeterminism)
}

// agentConfig writes an agent config with the given uplink settings (YAML
// flow mapping body) and extra top-level YAML, and returns its path.
func agentConfig(t *testing.T, dir, id, bufPath, uplinkBody, extra string) string {
	t.Helper()
	p := filepath.Join(dir, id+".yaml")
	cfg := fmt.Sprintf("agent: {id: %s, enterprise: acme, site: plant-1}\nbuffer: {path: %s}\nuplink: {%s}\n"+
		"collectors: {host: {enabled: false}, baseline: {enabled: false}}\nlog: {level: debug}\n%s", id, bufPath, uplinkBody, extra)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitDelivered waits for every id to arrive at sub and returns the number
// missing and duplicated.
func waitDelivered(sub *uplinktest.Subscriber, want []string, timeout time.Duration) (missing, dups int) {
	deadline := time.Now().Add(timeout)
	for {
		m := sub.Missing(want)
		if len(m) == 0 || time.Now().After(deadline) {
			counts, _ := sub.Counts()
			extra := 0
			for _, id := range want {
				if c := counts[id]; c > 1 {
					extra += c - 1
				}
			}
			return len(m), extra
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitQueued polls the buffer's stats (through the running agent's snapshot)
// until at most n records are queued.
func waitQueued(t *testing.T, bufPath string, n uint64, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if st, err := readStats(bufPath); err == nil && st.Queued <= n {
			return true
		}
	}
	return false
}

// procFDs counts the open descriptors of a process.
func procFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// procStatus returns a field of /proc/PID/status in kB (VmHWM, VmRSS).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return -1
}

// ---- scenarios ----

// soakKills: SIGKILL the real agent at random moments while it drains.
func soakKills(t *testing.T) {
	kills, n := pick(5, 50), pick(20000, 150000)
	bin := edgewardBinary(t)
	broker := uplinktest.StartMosquitto(t, uplinktest.MosquittoOptions{})
	dir := t.TempDir()
	bufPath := filepath.Join(dir, "buffer.db")
	keepLogsOnFailure(t, broker.LogPath, filepath.Join(dir, "agent.log"))
	want := fillCrashBuffer(t, bufPath, n)
	sub := uplinktest.Subscribe(t, broker.URL(), "kills", "edgeward/v1/acme/plant-1/kills/threat")
	const inFlight, batchRecs = 4, 100
	cfg := agentConfig(t, dir, "kills", bufPath, fmt.Sprintf("brokers: [%q], batch_max_records: %d, in_flight: %d, heartbeat: 1h", broker.URL(), batchRecs, inFlight), "")
	a := &agentProc{t: t, bin: bin, cfg: cfg, logPath: filepath.Join(dir, "agent.log")}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	done, mid := 0, 0
	var delivered uint64
	for done < kills {
		a.start()
		if !a.waitLog("connected to broker", time.Minute) {
			a.kill()
			t.Fatalf("agent did not connect; log %s", a.logPath)
		}
		time.Sleep(time.Duration(rng.IntN(120)) * time.Millisecond)
		a.kill()
		done++
		st, err := buffer.ReadStats(bufPath)
		if err != nil {
			t.Fatalf("stats after kill %d: %v", done, err)
		}
		if st.Delivered > delivered && st.Queued > 0 {
			mid++ // it was draining when it died
		}
		delivered = st.Delivered
		if st.Queued == 0 && done < kills {
			// A fast machine drained the backlog before the last kill:
			// more records, so that every kill lands mid-drain.
			want = append(want, fillCrashBufferFrom(t, bufPath, len(want), n)...)
		}
	}
	a.start() // stop() waits for the run to handle SIGINT
	if !waitQueued(t, bufPath, 1, 5*time.Minute) {
		t.Fatalf("not drained after the kills; log %s", a.logPath)
	}
	if err := a.stop(); err != nil {
		t.Fatalf("agent stop: %v", err)
	}
	missing, dups := waitDelivered(sub, want, time.Minute)
	window := inFlight * batchRecs
	report(t, "SIGKILL while draining", fmt.Sprintf("%d kills: 0 lost, dups <= %d/kill", kills, window),
		missing == 0 && dups <= done*window && done == kills, true,
		"%d kills (%d mid-drain), %d accepted, %d delivered, %d lost, %d duplicated (%.0f/kill)",
		done, mid, len(want), len(want)-missing, missing, dups, float64(dups)/float64(done))
}

// soakLinkFlaps: the real agent behind a proxy that resets, refuses,
// blackholes and cuts at PUBACK its link, for minutes; its descriptors and
// goroutines must come back to their baseline, nothing may be lost.
func soakLinkFlaps(t *testing.T) {
	dur, n := pick(20*time.Second, 3*time.Minute), pick(20000, 100000)
	bin := edgewardBinary(t)
	broker := uplinktest.StartMosquitto(t, uplinktest.MosquittoOptions{})
	px := uplinktest.NewProxy(t, broker.Addr())
	dir := t.TempDir()
	bufPath := filepath.Join(dir, "buffer.db")
	keepLogsOnFailure(t, broker.LogPath, filepath.Join(dir, "agent.log"))
	want := fillCrashBuffer(t, bufPath, n)
	sub := uplinktest.Subscribe(t, broker.URL(), "flaps", "edgeward/v1/acme/plant-1/flaps/#")
	metrics := fmt.Sprintf("127.0.0.1:%d", uplinktest.FreePort(t))
	cfg := agentConfig(t, dir, "flaps", bufPath, fmt.Sprintf("brokers: [%q], batch_max_records: 100, in_flight: 4, heartbeat: 1s, keepalive: 2s, bytes_per_second: 256KiB", px.URL()),
		fmt.Sprintf("metrics: {listen: %q}\n", metrics))
	a := &agentProc{t: t, bin: bin, cfg: cfg, logPath: filepath.Join(dir, "agent.log")}
	a.start()
	defer a.kill()
	pid := a.cmd.Process.Pid
	if !a.waitLog("connected to broker", time.Minute) {
		t.Fatalf("agent did not connect; log %s", a.logPath)
	}
	time.Sleep(3 * time.Second)
	g0, fds0 := agentGoroutines(metrics), procFDs(pid)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	flaps := 0
	for end := time.Now().Add(dur); time.Now().Before(end); flaps++ {
		switch rng.IntN(4) {
		case 0:
			px.Reset()
		case 1:
			px.SetDown(true)
			time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
			px.SetDown(false)
		case 2:
			px.Blackhole()
		case 3:
			px.DropAtPuback(1)
		}
		time.Sleep(time.Duration(1000+rng.IntN(2000)) * time.Millisecond)
	}
	px.DropAtPuback(0)
	drained := waitQueued(t, bufPath, 1, 3*time.Minute)
	// Back to the baseline: poll, the last connection's goroutines settle.
	var fds1, g1 int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		g1, fds1 = agentGoroutines(metrics), procFDs(pid)
		if (fds1 <= fds0 && g1 <= g0) || time.Now().After(deadline) {
			break
		}
	}
	rss, anon, file := procStatus(pid, "VmHWM"), procStatus(pid, "RssAnon"), procStatus(pid, "RssFile")
	if err := a.stop(); err != nil {
		t.Errorf("agent stop: %v", err)
	}
	missing, dups := waitDelivered(sub, want, time.Minute)
	// The agent runs with the default limits.memory (64 MiB).
	report(t, "link flaps (reset/refuse/blackhole/cut at PUBACK)", "0 lost; fds and goroutines back to baseline; peak RSS <= 80 MiB",
		drained && missing == 0 && fds1 <= fds0 && g1 <= g0 && rss > 0 && rss <= 80<<10, true,
		"%d flaps in %s, %d connections: %d lost, %d duplicated; fds %d -> %d, goroutines %d -> %d; peak RSS %.0f MiB (at the end: anon %.0f MiB, file-backed incl. the buffer's mmap %.0f MiB)",
		flaps, dur, px.Accepted(), missing, dups, fds0, fds1, g0, g1, float64(rss)/1024, float64(anon)/1024, float64(file)/1024)
}

// agentGoroutines reads go_goroutines from the agent's metrics endpoint
// (without keeping the connection, which would hold a goroutine).
func agentGoroutines(addr string) int {
	cli := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := cli.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "go_goroutines "); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				return n
			}
		}
	}
	return -1
}

// inProcess drains buf through an uplink client with cfg until it is
// empty and returns the client's stats and the records per second.
func inProcess(t *testing.T, buf *buffer.Buffer, cfg uplink.Config, during func(c *uplink.Client)) (uplink.Stats, float64) {
	t.Helper()
	cfg.Enterprise, cfg.Site = "acme", "plant-1"
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	up, err := uplink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	n := buf.Stats().Queued
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- up.Run(ctx, bufferSource{buf}) }()
	if during != nil {
		during(up)
	}
	for deadline := time.Now().Add(10 * time.Minute); buf.Stats().Queued > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not drained: %d left, %+v", buf.Stats().Queued, up.Stats())
		}
	}
	elapsed := time.Since(start)
	cancel()
	<-done
	return up.Stats(), float64(n) / elapsed.Seconds()
}

// openFilled opens a new buffer holding n threat records and returns it
// with their ids.
func openFilled(t *testing.T, n int) (*buffer.Buffer, []string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "buffer.db")
	ids := fillCrashBuffer(t, p, n)
	buf, err := buffer.Open(p, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close() })
	return buf, ids
}

// soakPubackDrops: the link is cut just before the broker's PUBACK reaches
// the client, again and again: the broker has the batch, the client does
// not know; it must resend (a duplicate), never lose.
func soakPubackDrops(t *testing.T) {
	cuts, n := pick(10, 100), pick(10000, 50000)
	broker := uplinktest.StartMosquitto(t, uplinktest.MosquittoOptions{})
	px := uplinktest.NewProxy(t, broker.Addr())
	sub := uplinktest.Subscribe(t, broker.URL(), "puback", "edgeward/v1/acme/plant-1/puback/#")
	buf, want := openFilled(t, n)
	cfg := uplink.Config{Brokers: []string{px.URL()}, AgentID: "puback", BatchMaxRecords: 100, InFlight: 4,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, BytesPerSecond: 1 << 20}
	done := 0
	st, _ := inProcess(t, buf, cfg, func(c *uplink.Client) {
		// One cut at a time, armed while connected and publishing, so that
		// it hits a data batch and not the "online" status of a connect.
		for done < cuts && buf.Stats().Queued > 0 {
			if !c.Stats().Connected {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			px.DropAtPuback(1)
			for px.PubacksLeft() > 0 && buf.Stats().Queued > 0 {
				time.Sleep(5 * time.Millisecond)
			}
			if px.PubacksLeft() == 0 {
				done++
			}
		}
		px.DropAtPuback(0)
	})
	missing, dups := waitDelivered(sub, want, time.Minute)
	report(t, "link cut before PUBACK", "0 lost; dups <= in-flight window per cut", missing == 0 && dups <= done*400, true,
		"%d cuts, %d reconnects: %d lost, %d duplicated (%.0f/cut)", done, st.Reconnects, missing, dups, float64(dups)/float64(max(done, 1)))
}

// soakBrokerRestarts: mosquitto (with persistence) is stopped and started
// while the backlog drains.
func soakBrokerRestarts(t *testing.T) {
	restarts, n := pick(2, 10), pick(20000, 100000)
	broker := uplinktest.StartMosquitto(t, uplinktest.MosquittoOptions{Persistence: true})
	sub := uplinktest.Subscribe(t, broker.URL(), "restart", "edgeward/v1/acme/plant-1/restart/#")
	buf, want := openFilled(t, n)
	cfg := uplink.Config{Brokers: []string{broker.URL()}, AgentID: "restart", BatchMaxRecords: 50, InFlight: 4,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, BytesPerSecond: 2 << 20}
	st, _ := inProcess(t, buf, cfg, func(c *uplink.Client) {
		for i := range restarts {
			time.Sleep(time.Duration(300+100*i) * time.Millisecond)
			broker.Stop()
			time.Sleep(time.Second)
			broker.Start()
		}
	})
	missing, dups := waitDelivered(sub, want, 2*time.Minute)
	report(t, "broker stop/start while draining", "0 lost", missing == 0, true,
		"%d restarts, %d reconnects: %d lost, %d duplicated", restarts, st.Reconnects, missing, dups)
}

// soakSilentLink: the link goes silent (blackholed) with the default
// keep-alive and ping timeout; how long until the client reconnects.
func soakSilentLink(t *testing.T) {
	broker := uplinktest.StartMochi(t)
	px := uplinktest.NewProxy(t, broker.Addr())
	cfg := uplink.Config{Brokers: []string{px.URL()}, Enterprise: "acme", Site: "plant-1", AgentID: "silent",
		MinBackoff: 100 * time.Millisecond, Logger: soakLogger()}
	up, err := uplink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	buf, _ := openFilled(t, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = up.Run(ctx, bufferSource{buf}) }()
	for buf.Stats().Queued > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	px.Blackhole()
	start := time.Now()
	for up.Stats().Reconnects == 0 {
		if time.Since(start) > 2*time.Minute {
			t.Fatal("silent link never detected")
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	limit := uplink.DefaultKeepAlive + uplink.DefaultPingTimeout + uplink.DefaultKeepAlive/4 + 2*uplink.DefaultMinBackoff
	report(t, "silent dead link (defaults)", fmt.Sprintf("reconnected within %s", limit), took <= limit, false,
		"reconnected %.1f s after the link went silent (keepalive %s, ping timeout %s)", took.Seconds(), uplink.DefaultKeepAlive, uplink.DefaultPingTimeout)
}

// soakBandwidthCap: a backlog drains under a 64 KiB/s cap; the proxy counts
// the bytes the client sends in every 5-second window.
func soakBandwidthCap(t *testing.T) {
	dur := pick(15*time.Second, 90*time.Second)
	const capBytes = 64 << 10
	broker := uplinktest.StartMosquitto(t, uplinktest.MosquittoOptions{})
	px := uplinktest.NewProxy(t, broker.Addr())
	buf, _ := openFilled(t, int(dur.Seconds()*capBytes/400)+2000)
	up, err := uplink.New(uplink.Config{Brokers: []string{px.URL()}, Enterprise: "acme", Site: "plant-1", AgentID: "cap",
		BytesPerSecond: capBytes, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	go func() { _ = up.Run(ctx, bufferSource{buf}) }()
	time.Sleep(dur)
	end := time.Now()
	cancel()
	wins := px.Windows(5*time.Second, start, end)
	var peak, sum int64
	for _, w := range wins {
		peak = max(peak, w)
	}
	for _, w := range px.Windows(uplinktest.Bucket, start, end) {
		sum += w
	}
	pct := 100 * float64(peak) / float64(5*capBytes)
	avg := 100 * float64(sum) / (end.Sub(start).Seconds() * capBytes)
	report(t, "bandwidth cap 64 KiB/s", "<= 110% of the cap in every 5-s window", pct <= 110 && len(wins) > 0, false,
		"%d sliding 5-s windows over %s: peak %.1f%%, mean %.1f%% of the cap (bytes on the wire, proxy-side)", len(wins), dur, pct, avg)
}

// soakDrainRate: a backlog of 44k records of each class mix drains to a local
// mosquitto with the default settings.
func soakDrainRate(t *testing.T) {
	broker := uplinktest.StartMosquitto(t, uplinktest.MosquittoOptions{})
	var parts []string
	worst := 1e12
	n := pick(10000, 44000)
	for _, m := range drainMixes {
		best := 0.0
		for range pick(1, 3) { // best of 3: the machine is shared
			buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{})
			if err != nil {
				t.Fatal(err)
			}
			fillMix(t, buf, m.mix, n, 400)
			st, rate := inProcess(t, buf, uplink.Config{Brokers: []string{broker.URL()}, AgentID: "drain-" + m.name}, nil)
			buf.Close()
			if st.RecordsPublished < uint64(n) {
				t.Errorf("%s: published %d of %d", m.name, st.RecordsPublished, n)
			}
			best = max(best, rate)
		}
		worst = min(worst, best)
		parts = append(parts, fmt.Sprintf("%s %.1fk", m.name, best/1000))
	}
	report(t, fmt.Sprintf("backlog drain %dk x 400 B", n/1000), ">= 20k records/s whatever the mix", worst >= 20000, false,
		"records/s: %s", strings.Join(parts, ", "))
}

// soakStoreRate: one collector emits batches of 1000 records through the
// recorder into the buffer.
func soakStoreRate(t *testing.T) {
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	rec := &recorder{buf: buf, agent: collectors.Agent{ID: "store", Enterprise: "acme", Site: "plant-1"}, now: time.Now}
	n := pick(50000, 200000)
	batch := make([]collectors.Record, 1000)
	for i := range batch {
		batch[i] = collectors.Record{Class: collectors.ClassActivity, Kind: "net.flow", Key: fmt.Sprintf("flow-%d", i),
			Body: map[string]any{"client": "10.0.0.1:50000", "server": "10.0.0.2:502", "packets": i}}
	}
	start := time.Now()
	for i := 0; i < n; i += len(batch) {
		for j := range batch {
			batch[j].Key = fmt.Sprintf("flow-%d", i+j)
		}
		if err := rec.Emit(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
	}
	rate := float64(n) / time.Since(start).Seconds()
	report(t, "store from one collector (batches of 1000)", ">= 50k records/s", rate >= 50000, false, "%.1fk records/s", rate/1000)
}

// soakDiskFull: the buffer lives on a small tmpfs; activity records fill it
// (ENOSPC makes room by dropping the oldest activity records, counted as
// disk_full: Put keeps succeeding), then threat records arrive and must all
// be accepted, then more activity records must not push any threat record
// out. The counters balance and the file opens again undamaged. Needs root
// for the mount.
func soakDiskFull(t *testing.T) {
	const scenario, target = "disk full (4 MiB tmpfs)", "ENOSPC drops counted (disk_full), threat kept last, file intact"
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		report(t, scenario, target, false, false, "skipped: cannot mount a tmpfs here: %v", err)
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	path := filepath.Join(dir, "buffer.db")
	buf, err := buffer.Open(path, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("a", 1000)
	item := func(class string, prio, i int) buffer.Item {
		return buffer.Item{Stream: class, Priority: prio, Data: fmt.Appendf(nil, `{"id":"%s-%d","pad":%q}`, class, i, pad)}
	}
	put := func(class string, prio, from, n int) (failed int, first error) {
		for i := from; i < from+n; i++ {
			if err := buf.Put(context.Background(), item(class, prio, i)); err != nil {
				failed++
				first = cmp.Or(first, err)
			}
		}
		return failed, first
	}
	actFailed, actErr := put("activity", 1, 0, 20000) // 20 MB into 4 MiB
	threatFailed, threatErr := put("threat", 4, 0, 50)
	afterDrops := buf.Stats().Dropped["disk_full"]
	moreFailed, moreErr := put("activity", 1, 20000, 5000)
	threats := func(b *buffer.Buffer) int {
		es, err := b.Next(context.Background(), 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if e.Stream == "threat" {
				n++
			}
		}
		return n
	}
	kept := threats(buf)
	st := buf.Stats()
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	balanced := st.Accepted == st.Delivered+st.Coalesced+dropped+st.Queued
	if err := buf.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	// The file opens again as it was: not moved aside, the threats queued.
	reopened, intact := 0, false
	if b, err := buffer.Open(path, buffer.Options{}); err != nil {
		t.Errorf("reopen after disk full: %v", err)
	} else {
		reps, _ := b.Recoveries(context.Background())
		reopened, intact = threats(b), len(reps) == 0
		b.Close()
	}
	if err := cmp.Or(actErr, threatErr, moreErr); err != nil {
		t.Logf("first Put error: %v", err)
	}
	ok := actFailed+threatFailed+moreFailed == 0 && afterDrops > 0 && st.Dropped["disk_full"] > afterDrops &&
		kept == 50 && reopened == 50 && intact && balanced
	report(t, scenario, target, ok, true,
		"25050 puts of 1 KiB, %d refused; %d activity dropped as disk_full (%d after the threats); 50 threats accepted, %d queued at the end, %d after reopening (file intact: %v); counters balance: %v; drops %v",
		actFailed+threatFailed+moreFailed, st.Dropped["disk_full"], st.Dropped["disk_full"]-afterDrops, kept, reopened, intact, balanced, st.Dropped)
}

// damagedBuffer fills a buffer with n threat records and closes it.
func damagedBuffer(t *testing.T, dir string, n int) (string, []string) {
	p := filepath.Join(dir, "buffer.db")
	return p, fillCrashBuffer(t, p, n)
}

// runAgainst starts the real agent on bufPath against a new mosquitto and
// returns the subscriber and the agent process (running).
func runAgainst(t *testing.T, dir, id, bufPath string) (*uplinktest.Subscriber, *agentProc) {
	bin := edgewardBinary(t)
	broker := uplinktest.StartMosquitto(t, uplinktest.MosquittoOptions{})
	sub := uplinktest.Subscribe(t, broker.URL(), id, "edgeward/v1/acme/plant-1/"+id+"/threat")
	cfg := agentConfig(t, dir, id, bufPath, fmt.Sprintf("brokers: [%q], heartbeat: 1h", broker.URL()), "")
	a := &agentProc{t: t, bin: bin, cfg: cfg, logPath: filepath.Join(dir, "agent.log")}
	keepLogsOnFailure(t, a.logPath)
	a.start()
	return sub, a
}

// soakCorruptPage overwrites a page in the middle of the buffer file: the
// agent must stay up and deliver every record of the undamaged pages.
func soakCorruptPage(t *testing.T) {
	dir := t.TempDir()
	const n = 20000
	bufPath, want := damagedBuffer(t, dir, n)
	fi, err := os.Stat(bufPath)
	if err != nil {
		t.Fatal(err)
	}
	page := int64(os.Getpagesize())
	off := (fi.Size() / 2 / page) * page
	f, err := os.OpenFile(bufPath, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, page)
	for i := range junk {
		junk[i] = byte(rand.IntN(256))
	}
	_, err = f.WriteAt(junk, off)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	sub, a := runAgainst(t, dir, "corrupt", bufPath)
	defer a.kill()
	time.Sleep(10 * time.Second)
	// Up: still running, and no Go runtime panic printed (the buffer's log
	// line about the damage quotes bbolt's own panic message by design).
	up := !a.exited() && !crashed(a.current())
	missing, _ := waitDelivered(sub, want, 30*time.Second)
	// One 4 KiB page holds about ten of these records.
	ok := up && missing <= 20 && sub.Bad() == 0
	report(t, "damaged page in buffer.db", "agent up; every record of undamaged pages delivered", ok, false,
		"agent up: %v; %d of %d records missing (one page holds ~10); %d undecodable batches", up, missing, n, sub.Bad())
}

// crashed reports whether an agent's output holds a Go runtime panic or
// fatal error (printed at the start of a line, unlike a logged message).
func crashed(log string) bool {
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return true
		}
	}
	return false
}

// soakFlippedByte flips one byte inside a stored record: it must not be
// published as it is.
func soakFlippedByte(t *testing.T) {
	dir := t.TempDir()
	bufPath, want := damagedBuffer(t, dir, 2000)
	b, err := os.ReadFile(bufPath)
	if err != nil {
		t.Fatal(err)
	}
	target := want[1000]
	i := bytes.Index(b, []byte(target))
	if i < 0 {
		t.Fatal("record not found in the file")
	}
	b[i+len(target)+40] ^= 0x01 // inside the padding: 'x' becomes 'y'
	if err := os.WriteFile(bufPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sub, a := runAgainst(t, dir, "flip", bufPath)
	defer a.kill()
	missing, _ := waitDelivered(sub, want, 30*time.Second)
	counts, _ := sub.Counts()
	published := counts[target] > 0
	report(t, "flipped byte in a stored record", "0 corrupted records published", !published && missing == 1, false,
		"corrupted record published: %v; %d of %d others missing", published, max(missing-1, 0), len(want)-1)
}

// writeStormPcap writes a classic pcap of n distinct TCP connections, each a
// SYN and one segment to port 502 or 4840: garbage, or (one in four) a
// Modbus write from a master never seen before.
func writeStormPcap(t *testing.T, path string, n int) {
	var b bytes.Buffer
	le := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	b.Write([]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	b.Write(le(65535))
	b.Write(le(1)) // Ethernet
	rng := rand.New(rand.NewPCG(7, 7))
	pkt := func(ts int, src, dst [4]byte, sport, dport uint16, seq, flags byte, payload []byte) {
		ip := make([]byte, 20+20+len(payload))
		ip[0], ip[8], ip[9] = 0x45, 64, 6
		ip[2], ip[3] = byte(len(ip)>>8), byte(len(ip))
		copy(ip[12:], src[:])
		copy(ip[16:], dst[:])
		var sum uint32
		for i := 0; i < 20; i += 2 {
			sum += uint32(ip[i])<<8 | uint32(ip[i+1])
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		ip[10], ip[11] = byte(^sum>>8), byte(^sum)
		tcp := ip[20:]
		tcp[0], tcp[1], tcp[2], tcp[3] = byte(sport>>8), byte(sport), byte(dport>>8), byte(dport)
		tcp[7] = seq
		tcp[12], tcp[13] = 5<<4, flags
		tcp[14], tcp[15] = 0xff, 0xff
		copy(tcp[20:], payload)
		frame := append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00}, ip...)
		b.Write(le(uint32(1700000000 + ts/1000)))
		b.Write(le(uint32(ts % 1000 * 1000)))
		b.Write(le(uint32(len(frame))))
		b.Write(le(uint32(len(frame))))
		b.Write(frame)
	}
	junk := make([]byte, 40)
	for i := range n {
		src := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		dst := [4]byte{192, 168, byte(i % 7), 1 + byte(i%200)}
		dport := uint16(502)
		if i%2 == 1 {
			dport = 4840
		}
		sport := uint16(1024 + i%60000)
		payload := junk
		if i%4 == 0 {
			// A valid Modbus/TCP Write Single Register from a new master:
			// the events that the rate limiter must bound.
			payload = []byte{byte(i >> 8), byte(i), 0, 0, 0, 6, 1, 6, 0, byte(i % 100), 0, 1}
		} else {
			for j := range junk {
				junk[j] = byte(rng.IntN(256))
			}
		}
		pkt(i, src, dst, sport, dport, 1, 0x02, nil)     // SYN
		pkt(i, src, dst, sport, dport, 2, 0x18, payload) // PSH ACK
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// maxRSS runs the command and returns its peak RSS in MiB (watchPeakRSS).
func maxRSS(cmd *exec.Cmd) (float64, []byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	peak := watchPeakRSS(cmd)
	err := cmd.Wait()
	return float64(peak()) / 1024, out.Bytes(), err
}

// soakFlowStorm replays 200k distinct connections with garbage on 502/4840
// through `replay` and `run`: peak RSS within limits.memory + 16 MiB.
func soakFlowStorm(t *testing.T) {
	bin := edgewardBinary(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "storm.pcap")
	writeStormPcap(t, pcap, 200000)
	replayRSS, out, err := maxRSS(exec.Command(bin, "replay", "--format", "json", pcap))
	if err != nil {
		t.Logf("replay: %v\n%s", err, uplinktest.Tail(writeTemp(t, dir, "replay.out", out), 10))
	}
	bufPath := filepath.Join(dir, "buffer.db")
	cfg := filepath.Join(dir, "storm.yaml")
	cfgBody := fmt.Sprintf("agent: {id: storm, enterprise: acme, site: plant-1}\nbuffer: {path: %s}\nuplink: {brokers: []}\nlimits: {memory: 64MiB}\n"+
		"collectors:\n  host: {enabled: false}\n  baseline: {enabled: false}\n  passive: {enabled: true, files: [%q]}\n", bufPath, pcap)
	if err := os.WriteFile(cfg, []byte(cfgBody), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{t: t, bin: bin, cfg: cfg, logPath: filepath.Join(dir, "agent.log")}
	a.start()
	time.Sleep(pick(30*time.Second, 60*time.Second))
	runRSS := float64(procStatus(a.cmd.Process.Pid, "VmHWM")) / 1024
	_ = a.stop()
	limit := 64.0 + 16
	report(t, "flow storm 200k connections", fmt.Sprintf("peak RSS <= %.0f MiB (limits.memory + 16)", limit),
		replayRSS > 0 && replayRSS <= limit && runRSS > 0 && runRSS <= limit, false,
		"replay %.0f MiB, run %.0f MiB", replayRSS, runRSS)
}

func writeTemp(t *testing.T, dir, name string, b []byte) string {
	p := filepath.Join(dir, name)
	_ = os.WriteFile(p, b, 0o600)
	return p
}

// soakReplayDeterminism: `replay --format json` of the same capture gives
// the same output every time (the shared captures when present, and a storm
// with enough events to exercise the event rate limiter).
func soakReplayDeterminism(t *testing.T) {
	bin := edgewardBinary(t)
	files, _ := filepath.Glob("../../shared/testdata/pcaps/*.pcap*")
	var caps []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".json") {
			caps = append(caps, f)
		}
	}
	storm := filepath.Join(t.TempDir(), "storm.pcap")
	writeStormPcap(t, storm, 200000) // enough events to fill the rate limiter
	caps = append(caps, storm)
	differ := 0
	for _, c := range caps {
		var first [32]byte
		for i := range 3 {
			out, err := exec.Command(bin, "replay", "--format", "json", c).Output()
			if err != nil {
				t.Logf("replay %s: %v", c, err)
			}
			sum := sha256.Sum256(out)
			if i == 0 {
				first = sum
			} else if sum != first {
				differ++
				t.Logf("replay %s: run %d differs from run 1", filepath.Base(c), i+1)
				break
			}
		}
	}
	report(t, "replay determinism", "identical output on 3 runs", differ == 0, false,
		"%d of %d captures (../shared and a 200k-connection storm) gave different output across 3 runs", differ, len(caps))
}

// soakLogger logs to stderr when EDGEWARD_SOAK_LOG is set.
func soakLogger() *slog.Logger {
	if os.Getenv("EDGEWARD_SOAK_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return discardLogger()
}
