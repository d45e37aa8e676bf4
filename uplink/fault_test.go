package uplink_test

import (
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/uplink"
	"github.com/edgeward/edgeward/uplink/uplinktest"
)

// TestSilentLinkDetected: a link that goes silent (data dropped, or not read
// at all, with no error) is given up through the MQTT keep-alive and ping,
// not the publish timeout, which is set far beyond the test's deadline; the
// records queued meanwhile arrive over a new connection.
func TestSilentLinkDetected(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{"blackhole", "stall"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			broker := uplinktest.StartMochi(t)
			px := uplinktest.NewProxy(t, broker.Addr())
			cfg := baseConfig(px.URL())
			cfg.KeepAlive = 2 * time.Second
			cfg.PingTimeout = time.Second
			cfg.PublishTimeout = time.Hour
			got := newCollector()
			subscribe(t, broker.URL(), cfg.Topic("#"), false, got) // direct, never silent

			src := newMemSource()
			c, err := uplink.New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer c.Close()
			runClient(t, c, src)
			putRecords(src, "before", 30, 10)
			got.waitDistinct(t, 30)
			if fault == "blackhole" {
				px.Blackhole()
			} else {
				px.Stall()
			}
			for i := range 30 {
				src.Put(classes[i%3], fmt.Sprintf("after-%05d", i), 10)
			}
			got.waitDistinct(t, 60)
			waitEmpty(t, src)
			if st := c.Stats(); st.Reconnects == 0 {
				t.Errorf("stats = %+v, want a reconnect", st)
			}
		})
	}
}

// logBuffer collects a logger's output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBackoffResetAfterLiveConnection: failed connection attempts grow the
// backoff; once a connection has been up for a keep-alive period, its loss
// is followed by a retry at the shortest backoff, not the grown one.
func TestBackoffResetAfterLiveConnection(t *testing.T) {
	t.Parallel()
	broker := uplinktest.StartMochi(t)
	px := uplinktest.NewProxy(t, broker.Addr())
	px.SetDown(true)
	var logs logBuffer
	cfg := baseConfig(px.URL())
	cfg.MinBackoff, cfg.MaxBackoff = 100*time.Millisecond, time.Minute
	// 2 s, not 1: mochi allows keepalive+keepalive/2 in whole seconds, which
	// for 1 s is 1 s, the moment the client's first PINGREQ is due, so a
	// slow scheduler (Wine under load) loses every connection after 1 s.
	cfg.KeepAlive = 2 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, newMemSource())
	deadline := time.Now().Add(waitFor)
	for strings.Count(logs.String(), "no broker reachable") < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempts logged:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	px.SetDown(false)
	for { // a connection that stays up for a keep-alive period
		waitConnected(t, c)
		r := c.Stats().Reconnects
		time.Sleep(cfg.KeepAlive + 200*time.Millisecond)
		if st := c.Stats(); st.Connected && st.Reconnects == r {
			break
		}
	}
	mark := len(logs.String())
	px.Reset()
	re := regexp.MustCompile(`broker connection ended, reconnecting.* retry_in=(\S+)`)
	var m []string
	for m = re.FindStringSubmatch(logs.String()[mark:]); m == nil; m = re.FindStringSubmatch(logs.String()[mark:]) {
		if time.Now().After(deadline) {
			t.Fatalf("connection loss not logged:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("parse retry_in %q: %v", m[1], err)
	}
	if d > cfg.MinBackoff {
		t.Errorf("retry after losing a live connection in %s, want at most MinBackoff %s (the backoff was not reset); log:\n%s", d, cfg.MinBackoff, logs.String())
	}
}

// TestLinkFlapsReleaseResources cuts the link to mosquitto (another process,
// so only the client's descriptors are counted) many times while records
// flow, with the garbage collector off so that no finalizer hides a leak:
// after the last reconnect the open descriptors and goroutines are back at
// their level of the first connection, and after Close at their level
// before the client existed.
func TestLinkFlapsReleaseResources(t *testing.T) {
	broker := uplinktest.StartMosquitto(t, uplinktest.MosquittoOptions{})
	px := uplinktest.NewProxy(t, broker.Addr())
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	fds0, gs0 := uplinktest.OpenFDs(t), runtime.NumGoroutine()

	cfg := baseConfig(px.URL())
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	cfg.ConnectTimeout = 300 * time.Millisecond
	src := newMemSource()
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	stop := runClient(t, c, src)
	waitConnected(t, c)
	putRecords(src, "warm", 10, 10)
	waitEmpty(t, src)
	fds1, gs1 := settle(t, 0, 0)

	const flaps = 40
	for i := range flaps {
		putRecords(src, fmt.Sprintf("f%d", i), 20, 10)
		switch i % 4 {
		case 1: // down: connection attempts are refused for a while
			px.SetDown(true)
			time.Sleep(300 * time.Millisecond)
			px.SetDown(false)
		case 2: // hung: the link swallows everything, connects time out
			px.SetHang(true)
			time.Sleep(2 * cfg.ConnectTimeout)
			px.SetHang(false)
			px.Reset()
		default:
			px.Reset()
		}
		deadline := time.Now().Add(waitFor)
		for c.Stats().Reconnects < uint64(i+1) || src.Len() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("flap %d: no reconnect or not drained: %+v", i, c.Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	fds2, gs2 := settle(t, fds1, gs1)
	t.Logf("after %d flaps: fds %d -> %d, goroutines %d -> %d", flaps, fds1, fds2, gs1, gs2)
	if fds2 > fds1 || gs2 > gs1 {
		t.Errorf("after %d link flaps: fds %d -> %d, goroutines %d -> %d; want them back at the first connection's level", flaps, fds1, fds2, gs1, gs2)
	}
	stop()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	fds3, gs3 := settle(t, fds0, gs0)
	if fds3 > fds0 || gs3 > gs0 {
		t.Errorf("after Close: fds %d -> %d, goroutines %d -> %d; want them back at the level before New", fds0, fds3, gs0, gs3)
	}
}

// settle polls until the open descriptors and goroutines fall to at most
// fds and gs (0 = just let them settle for a moment) and returns them.
func settle(t *testing.T, fds, gs int) (int, int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, g := uplinktest.OpenFDs(t), runtime.NumGoroutine()
		if (fds == 0 && time.Now().After(deadline.Add(-9500*time.Millisecond))) || (fds > 0 && f <= fds && g <= gs) || time.Now().After(deadline) {
			return f, g
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEmbeddedBrokerRestart: the embedded broker stops and starts again on
// the same port while records are queued; the client reconnects on its own
// and the queue drains.
func TestEmbeddedBrokerRestart(t *testing.T) {
	t.Parallel()
	broker := uplinktest.StartMochi(t)
	src := newMemSource()
	c, err := uplink.New(baseConfig(broker.URL()))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, src)
	putRecords(src, "before", 100, 10)
	waitEmpty(t, src)
	broker.Stop()
	for deadline := time.Now().Add(waitFor); c.Stats().Connected; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the client did not notice the broker stopping")
		}
	}
	putRecords(src, "during", 100, 10)
	broker.Start()
	waitEmpty(t, src)
	if st := c.Stats(); st.Reconnects == 0 || st.RecordsPublished != 200 {
		t.Errorf("stats = %+v, want a reconnect and 200 records", st)
	}
}
