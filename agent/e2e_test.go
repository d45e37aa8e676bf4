package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/edgeward/edgeward/collectors/schematest"
	"github.com/edgeward/edgeward/uplink/uplinktest"
)

// TestMain removes the binary that the end-to-end tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.path != "" {
		os.RemoveAll(filepath.Dir(buildOnce.path))
	}
	os.Exit(code)
}

// buildOnce holds edgeward built once per test binary run into a temp dir
// that other users can enter (the scan test runs it as nobody).
var buildOnce struct {
	sync.Once
	path string
	err  error
	out  []byte
}

func edgewardBinary(t testing.TB) string {
	t.Helper()
	needGoTool(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edgeward-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "edgeward")
		if err := os.Chmod(dir, 0o755); err != nil {
			buildOnce.err = err
			return
		}
		cmd := exec.Command("go", "build", "-o", buildOnce.path, "./cmd/edgeward")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOnce.out, buildOnce.err = cmd.CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("build edgeward: %v\n%s", buildOnce.err, buildOnce.out)
	}
	return buildOnce.path
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int { return uplinktest.FreePort(t) }

// startMosquitto starts a real mosquitto broker on a free loopback port and
// returns its URL; it is stopped when the test ends.
func startMosquitto(t testing.TB) string {
	return uplinktest.StartMosquitto(t, uplinktest.MosquittoOptions{}).URL()
}

// syncBuffer is a bytes.Buffer safe for a child process's output copier and
// the test reading it at the same time.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// subscribe collects every record published under topic filter.
type collected struct {
	mu      sync.Mutex
	records []map[string]any
	raw     [][]byte
	topics  []string
}

func (c *collected) find(kind string) (map[string]any, []byte, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range c.records {
		if r["kind"] == kind {
			return r, c.raw[i], c.topics[i]
		}
	}
	return nil, nil, ""
}

func subscribeAll(t *testing.T, broker, filter string) *collected {
	t.Helper()
	got := &collected{}
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("e2e-sub-%d", time.Now().UnixNano()))
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
		var batch []json.RawMessage
		if json.Unmarshal(m.Payload(), &batch) != nil {
			return // status "online"/"offline"
		}
		got.mu.Lock()
		defer got.mu.Unlock()
		for _, raw := range batch {
			var r map[string]any
			if json.Unmarshal(raw, &r) == nil {
				got.records = append(got.records, r)
				got.raw = append(got.raw, raw)
				got.topics = append(got.topics, m.Topic())
			}
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return got
}

// TestEndToEndRun runs the real binary against a real mosquitto: a subscriber
// receives host.inventory on the asset topic, the record validates against
// the embedded schema, the agent stops cleanly on SIGTERM, and `buffer stats`
// balances afterwards.
func TestEndToEndRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	bin := edgewardBinary(t)
	broker := startMosquitto(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeward.yaml")
	cfg := fmt.Sprintf(`agent: {id: e2e-gw, enterprise: acme, site: plant-1}
buffer: {path: %s}
uplink: {brokers: ["%s"], heartbeat: 1s}
collectors:
  host: {enabled: true, interval: 1h}
  baseline: {enabled: false}
log: {level: debug}
`, filepath.Join(dir, "buffer.db"), broker)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := subscribeAll(t, broker, "edgeward/v1/acme/plant-1/e2e-gw/#")

	var logs syncBuffer
	cmd := exec.Command(bin, "run", "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
	}()

	var inv map[string]any
	var raw []byte
	var topic string
	deadline := time.Now().Add(60 * time.Second)
	for inv == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no host.inventory received in 60s; agent log:\n%s", logs.String())
		}
		select {
		case err := <-done:
			t.Fatalf("agent exited early (%v); log:\n%s", err, logs.String())
		default:
		}
		time.Sleep(100 * time.Millisecond)
		inv, raw, topic = sub.find("host.inventory")
	}
	if topic != "edgeward/v1/acme/plant-1/e2e-gw/asset" {
		t.Errorf("host.inventory topic = %q, want edgeward/v1/acme/plant-1/e2e-gw/asset", topic)
	}
	if err := schematest.ValidateJSON(raw); err != nil {
		t.Errorf("host.inventory does not validate against schema v1: %v\n%s", err, raw)
	}
	if inv["key"] != "e2e-gw" {
		t.Errorf("host.inventory key = %v, want the agent id e2e-gw", inv["key"])
	}
	for inv, _, _ := sub.find("agent.heartbeat"); inv == nil; inv, _, _ = sub.find("agent.heartbeat") {
		if time.Now().After(deadline) {
			t.Fatalf("no agent.heartbeat received; agent log:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, hbRaw, _ := sub.find("agent.heartbeat")
	if err := schematest.ValidateJSON(hbRaw); err != nil {
		t.Errorf("agent.heartbeat does not validate: %v\n%s", err, hbRaw)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exited with %v after SIGTERM; log:\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not stop within 30s of SIGTERM; log:\n%s", logs.String())
	}

	out, err := exec.Command(bin, "buffer", "stats", "--format", "json", "-c", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("buffer stats: %v\n%s", err, out)
	}
	assertBalanced(t, out)
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("agent log mentions a panic:\n%s", logs.String())
	}
}

// TestRunWithoutBroker: with no broker configured, run keeps collecting into
// the buffer, says so once, and exits 0 on SIGTERM; the records are queued.
func TestRunWithoutBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	bin := edgewardBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeward.yaml")
	cfg := fmt.Sprintf("agent: {id: lonely}\nbuffer: {path: %s}\nuplink: {brokers: []}\ncollectors: {baseline: {enabled: false}}\n",
		filepath.Join(dir, "buffer.db"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logs syncBuffer
	cmd := exec.CommandContext(ctx, bin, "run", "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var st queueBody
	for st.Queued < 2 { // host.inventory and a heartbeat
		if ctx.Err() != nil {
			t.Fatalf("records were not buffered; log:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
		out, err := exec.Command(bin, "buffer", "stats", "--format", "json", "-c", cfgPath).Output()
		if err == nil {
			_ = json.Unmarshal(out, &st)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("agent exited with %v; log:\n%s", err, logs.String())
	}
	if n := strings.Count(logs.String(), "no uplink configured"); n != 1 {
		t.Errorf("'no uplink configured' logged %d times, want once; log:\n%s", n, logs.String())
	}
	out, err := exec.Command(bin, "buffer", "stats", "--format", "json", "-c", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("buffer stats: %v\n%s", err, out)
	}
	if q := assertBalanced(t, out); q.Queued < 2 || q.Delivered != 0 {
		t.Errorf("want >= 2 queued and 0 delivered with no broker, got %+v", q)
	}
}

// assertBalanced checks accepted == delivered + coalesced + sum(dropped) + queued.
func assertBalanced(t *testing.T, statsJSON []byte) queueBody {
	t.Helper()
	var q queueBody
	if err := json.Unmarshal(statsJSON, &q); err != nil {
		t.Fatalf("buffer stats is not JSON: %v\n%s", err, statsJSON)
	}
	for _, k := range []string{`"queued"`, `"accepted"`, `"delivered"`, `"coalesced"`, `"dropped"`, `"bytes"`} {
		if !bytes.Contains(statsJSON, []byte(k)) {
			t.Errorf("buffer stats lacks %s: %s", k, statsJSON)
		}
	}
	var dropped uint64
	for _, v := range q.Dropped {
		dropped += v
	}
	if q.Accepted != q.Delivered+q.Coalesced+dropped+q.Queued {
		t.Errorf("buffer stats do not balance: accepted %d != delivered %d + coalesced %d + dropped %d + queued %d",
			q.Accepted, q.Delivered, q.Coalesced, dropped, q.Queued)
	}
	if q.Accepted == 0 {
		t.Errorf("nothing was accepted: %s", statsJSON)
	}
	return q
}
