package uplink_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/uplink"
	"github.com/edgeward/edgeward/uplink/uplinktest"
)

var classes = []string{"asset", "activity", "threat"}

// putRecords queues n records spread over classes and returns the expected
// id order per class.
func putRecords(src *memSource, prefix string, n, pad int) map[string][]string {
	want := map[string][]string{}
	for i := range n {
		class := classes[i%len(classes)]
		id := fmt.Sprintf("%s-%05d", prefix, i)
		src.Put(class, id, pad)
		want[class] = append(want[class], id)
	}
	return want
}

func TestDeliveryInOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		broker func(t *testing.T) string
	}{
		{"mochi", func(t *testing.T) string { return startMochi(t) }},
		{"mosquitto", func(t *testing.T) string { return startMosquitto(t, plainTLS, nil).URL() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := tc.broker(t)
			cfg := baseConfig(url)
			cfg.BatchMaxRecords = 7 // many batches, several in flight
			cfg.InFlight = 4
			got := newCollector()
			subscribe(t, url, cfg.Topic("#"), false, got)

			src := newMemSource()
			const n = 1500
			want := putRecords(src, "r", n, 100)
			c, err := uplink.New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer c.Close()
			runClient(t, c, src)

			got.waitDistinct(t, n)
			waitEmpty(t, src)
			for _, class := range classes {
				if diff := cmp.Diff(want[class], got.firstOrder(class)); diff != "" {
					t.Errorf("class %s order (-want +got):\n%s", class, diff)
				}
			}
			if src.Acked() != n {
				t.Errorf("acked %d, want %d", src.Acked(), n)
			}
			st := c.Stats()
			if !st.Connected || st.RecordsPublished != n || st.Reconnects != 0 || st.PublishErrors != 0 {
				t.Errorf("stats = %+v, want connected, %d records, no reconnects or errors", st, n)
			}
			if got.bad != nil {
				t.Errorf("undecodable batches: %v", got.bad)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	for _, tc := range []struct {
		name      string
		mode      tlsMode
		tls       uplink.TLSConfig
		delivered bool
		errHas    string // in Stats.LastError when not delivered
	}{
		{"server-tls", serverTLS, uplink.TLSConfig{CAFile: p.CA}, true, ""},
		{"mutual-tls", mutualTLS, uplink.TLSConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}, true, ""},
		{"wrong-ca", serverTLS, uplink.TLSConfig{CAFile: p.OtherCA}, false, "certificate"},
		{"mtls-without-client-cert", mutualTLS, uplink.TLSConfig{CAFile: p.CA}, false, "connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := startMosquitto(t, tc.mode, p)
			cfg := baseConfig(m.URL())
			cfg.TLS = tc.tls
			src := newMemSource()
			const n = 50
			putRecords(src, "tls", n, 10)
			c, err := uplink.New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer c.Close()
			stop := runClient(t, c, src)
			if tc.delivered {
				waitEmpty(t, src)
				stop()
				return
			}
			// Refused: wait for at least one failed attempt to be recorded.
			deadline := time.Now().Add(waitFor)
			for c.Stats().LastError == "" && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			stop()
			st := c.Stats()
			t.Logf("refused as expected: %s", st.LastError)
			if !strings.Contains(st.LastError, tc.errHas) {
				t.Errorf("LastError = %q, want it to mention %q", st.LastError, tc.errHas)
			}
			if st.Connected || st.RecordsPublished != 0 || src.Acked() != 0 || src.Len() != n {
				t.Errorf("refused connection delivered something: stats %+v, acked %d, queued %d", st, src.Acked(), src.Len())
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	for _, tc := range []struct {
		name    string
		mutate  func(*uplink.Config)
		wantErr error
		errHas  string
	}{
		{"no brokers", func(c *uplink.Config) { c.Brokers = nil }, uplink.ErrInvalidConfig, "brokers"},
		{"bad scheme", func(c *uplink.Config) { c.Brokers = []string{"http://u:secret@h:1"} }, uplink.ErrInvalidConfig, "scheme"},
		{"no port", func(c *uplink.Config) { c.Brokers = []string{"tcp://h"} }, uplink.ErrInvalidConfig, "port"},
		{"wildcard site", func(c *uplink.Config) { c.Site = "a/+" }, uplink.ErrInvalidConfig, "site"},
		{"cert without key", func(c *uplink.Config) { c.TLS.CertFile = p.ClientCert }, uplink.ErrInvalidConfig, "key_file"},
		{"missing ca", func(c *uplink.Config) { c.Brokers = []string{"ssl://h:1"}; c.TLS.CAFile = "/nonexistent/ca.pem" }, uplink.ErrTLSFiles, "/nonexistent/ca.pem"},
		{"ca not pem", func(c *uplink.Config) { c.Brokers = []string{"mqtts://h:1"}; c.TLS.CAFile = p.ClientKey }, uplink.ErrTLSFiles, "no PEM certificate"},
		{"key mismatch", func(c *uplink.Config) {
			c.Brokers = []string{"tls://h:1"}
			c.TLS.CertFile, c.TLS.KeyFile = p.ClientCert, p.ServerKey
		}, uplink.ErrTLSFiles, p.ClientCert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig("tcp://127.0.0.1:1")
			tc.mutate(&cfg)
			_, err := uplink.New(cfg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("New error = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("error %q does not mention %q", err, tc.errHas)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

// TestBrokerRestart stops mosquitto while records are being published and
// starts it again: every record must arrive, the source must end empty.
func TestBrokerRestart(t *testing.T) {
	t.Parallel()
	m := startMosquitto(t, plainTLS, nil)
	url := m.URL()
	cfg := baseConfig(url)
	cfg.BatchMaxRecords = 10
	cfg.InFlight = 4
	got := newCollector()
	subscribe(t, url, cfg.Topic("#"), true, got)

	src := newMemSource()
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, src)

	const n = 3000
	want := map[string][]string{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a steady producer that keeps going through the outage
		defer wg.Done()
		for i := range n {
			class := classes[i%len(classes)]
			id := fmt.Sprintf("x-%05d", i)
			src.Put(class, id, 50)
			want[class] = append(want[class], id)
			if i%15 == 0 {
				time.Sleep(10 * time.Millisecond) // ~2 s in all: spans the outage
			}
		}
	}()
	got.waitDistinct(t, 300)
	m.Stop()
	time.Sleep(2 * time.Second)
	m.Start()
	wg.Wait()

	got.waitDistinct(t, n)
	waitEmpty(t, src)
	for _, class := range classes {
		if diff := cmp.Diff(want[class], got.firstOrder(class)); diff != "" {
			t.Errorf("class %s first-arrival order (-want +got):\n%s", class, diff)
		}
	}
	st := c.Stats()
	if st.Reconnects == 0 {
		t.Errorf("stats = %+v, want at least one reconnect", st)
	}
	checkDuplicates(t, got, st, cfg, 20) // 20 = mosquitto's max_inflight_messages towards the subscriber
}

// checkDuplicates fails when the subscriber received more copies than the
// in-flight window can explain: at most InFlight batches are resent per
// reconnect, plus extraBatches redelivered by the broker to the subscriber.
func checkDuplicates(t *testing.T, got *collector, st uplink.Stats, cfg uplink.Config, extraBatches int) {
	t.Helper()
	dups := got.duplicates()
	t.Logf("subscriber duplicates %d; client published %d records, reconnects %d, publish errors %d",
		dups, st.RecordsPublished, st.Reconnects, st.PublishErrors)
	if limit := (int(st.Reconnects)*cfg.InFlight + extraBatches) * cfg.BatchMaxRecords; dups > limit {
		t.Errorf("duplicates = %d, want at most %d (reconnects x window)", dups, limit)
	}
}

// TestLinkCuts cuts the TCP link between client and broker several times
// while records flow: every record arrives, in order of first arrival per
// class, and the source ends empty.
func TestLinkCuts(t *testing.T) {
	t.Parallel()
	url := startMochi(t)
	px := uplinktest.NewProxy(t, strings.TrimPrefix(url, "tcp://"))
	cfg := baseConfig(px.URL())
	cfg.BatchMaxRecords = 5
	cfg.InFlight = 8
	got := newCollector()
	subscribe(t, url, cfg.Topic("#"), false, got) // direct, never cut

	src := newMemSource()
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, src)

	const n, cuts = 3000, 4
	want := map[string][]string{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			class := classes[i%len(classes)]
			id := fmt.Sprintf("c-%05d", i)
			src.Put(class, id, 50)
			want[class] = append(want[class], id)
			if i%50 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	for k := 1; k <= cuts; k++ {
		got.waitDistinct(t, k*n/(cuts+2))
		px.Reset()
	}
	wg.Wait()
	waitEmpty(t, src)
	got.waitDistinct(t, n)
	for _, class := range classes {
		if diff := cmp.Diff(want[class], got.firstOrder(class)); diff != "" {
			t.Errorf("class %s first-arrival order (-want +got):\n%s", class, diff)
		}
	}
	st := c.Stats()
	if st.Reconnects == 0 {
		t.Errorf("stats = %+v, want reconnects", st)
	}
	checkDuplicates(t, got, st, cfg, 0)
}

func TestFailover(t *testing.T) {
	t.Parallel()
	dead := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	alive := startMochi(t)
	cfg := baseConfig(dead, alive)
	src := newMemSource()
	const n = 100
	putRecords(src, "f", n, 10)
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, src)
	waitEmpty(t, src)
	if st := c.Stats(); st.Broker != alive || st.RecordsPublished != n {
		t.Errorf("stats = %+v, want broker %s and %d records", st, alive, n)
	}
}

// TestLastWill: "online" is retained after connect; when the link dies
// without a DISCONNECT the broker publishes the retained "offline" will.
func TestLastWill(t *testing.T) {
	t.Parallel()
	m := startMosquitto(t, plainTLS, nil)
	url := m.URL()
	px := uplinktest.NewProxy(t, strings.TrimPrefix(url, "tcp://"))
	cfg := baseConfig(px.URL())
	cfg.KeepAlive = 2 * time.Second
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, newMemSource())
	waitConnected(t, c)
	waitRetained(t, url, cfg.StatusTopic(), uplink.StatusOnline)
	px.Close()
	waitRetained(t, url, cfg.StatusTopic(), uplink.StatusOffline)
}

// TestCleanCloseOffline: a clean shutdown publishes the retained "offline".
func TestCleanCloseOffline(t *testing.T) {
	t.Parallel()
	url := startMochi(t)
	cfg := baseConfig(url)
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	stop := runClient(t, c, newMemSource())
	waitConnected(t, c)
	waitRetained(t, url, cfg.StatusTopic(), uplink.StatusOnline)
	stop()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := retained(t, url, cfg.StatusTopic()); got != uplink.StatusOffline {
		t.Errorf("retained status after Close = %q, want %q", got, uplink.StatusOffline)
	}
	if st := c.Stats(); st.Connected {
		t.Errorf("stats after Close = %+v, want disconnected", st)
	}
	if err := c.Run(context.Background(), newMemSource()); !errors.Is(err, uplink.ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

// TestGzipSubscribe publishes compressed batches and reads them back through
// Subscribe, which decompresses them.
func TestGzipSubscribe(t *testing.T) {
	t.Parallel()
	url := startMochi(t)
	cfg := baseConfig(url)
	cfg.Gzip = true
	cfg.BatchMaxRecords = 20

	got := newCollector()
	topics := make(chan string, 100)
	ctx, cancel := context.WithCancel(context.Background())
	subDone := make(chan error, 1)
	go func() {
		subDone <- uplink.Subscribe(ctx, cfg, cfg.Topic("+")+"/gz", func(topic string, payload []byte) {
			select {
			case topics <- topic:
			default:
			}
			if !strings.HasSuffix(topic, "/probe") {
				got.add(topic, payload)
			}
		})
	}()
	defer func() {
		cancel()
		if err := <-subDone; err != nil {
			t.Errorf("Subscribe: %v", err)
		}
	}()
	waitSubscribed(t, url, cfg.Topic("probe")+uplink.GzipTopicSuffix, topics)

	src := newMemSource()
	const n = 200
	want := putRecords(src, "g", n, 300)
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, src)
	got.waitDistinct(t, n)
	for _, class := range classes {
		if diff := cmp.Diff(want[class], got.firstOrder(class)); diff != "" {
			t.Errorf("class %s (-want +got):\n%s", class, diff)
		}
	}
	for range len(topics) {
		if tp := <-topics; strings.HasSuffix(tp, "/gz") || !strings.HasPrefix(tp, "edgeward/v1/acme/plant1/agent-1/") {
			t.Errorf("Subscribe handed topic %q, want the class topic without /gz", tp)
		}
	}
}

// waitSubscribed publishes gzip-compressed probes on topic until the
// subscriber reports one on topics (its subscription is then active).
func waitSubscribed(t *testing.T, url, topic string, topics <-chan string) {
	t.Helper()
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write([]byte("[]"))
	_ = zw.Close()
	cli := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("probe-%d", time.Now().UnixNano())))
	if tok := cli.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("probe connect: %v", tok.Error())
	}
	defer cli.Disconnect(50)
	want := strings.TrimSuffix(topic, uplink.GzipTopicSuffix)
	deadline := time.After(waitFor)
	for {
		cli.Publish(topic, 1, false, zb.Bytes()).WaitTimeout(waitFor)
		select {
		case tp := <-topics:
			if tp != want {
				t.Fatalf("probe arrived on %q, want %q", tp, want)
			}
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("subscription never became active")
		}
	}
}

// TestBandwidthCap: with a cap the transfer cannot finish faster than the cap
// allows. Only a lower bound is checked, so a slow machine cannot fail it.
func TestBandwidthCap(t *testing.T) {
	t.Parallel()
	url := startMochi(t)
	cfg := baseConfig(url)
	cfg.BatchMaxRecords = 10
	cfg.BytesPerSecond = 20_000
	src := newMemSource()
	const n = 60
	putRecords(src, "b", n, 500) // ~540 bytes each, ~32 KB in all
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	start := time.Now()
	runClient(t, c, src)
	waitEmpty(t, src)
	elapsed := time.Since(start)
	// Six batches of ~5.4 KB: the first goes at once, the other five wait
	// ~0.27 s each.
	if min := 1200 * time.Millisecond; elapsed < min {
		t.Errorf("drained %d records in %s with a 20 kB/s cap, want at least %s", n, elapsed, min)
	}
}

// TestPublish checks the stand-alone Publish path.
func TestPublish(t *testing.T) {
	t.Parallel()
	url := startMochi(t)
	cfg := baseConfig(url)
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	topic := cfg.Topic("status")
	if err := c.Publish(context.Background(), topic+"/x", []byte("hello"), true); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if got := retained(t, url, topic+"/x"); got != "hello" {
		t.Errorf("retained = %q, want hello", got)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Publish(context.Background(), topic, []byte("x"), false); !errors.Is(err, uplink.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	dead := baseConfig(fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)))
	d, err := uplink.New(dead)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer d.Close()
	if err := d.Publish(context.Background(), topic, []byte("x"), false); !errors.Is(err, uplink.ErrNotConnected) {
		t.Errorf("Publish to a dead broker = %v, want ErrNotConnected", err)
	}
}

// TestInvalidClassAndSourceError: a record whose class cannot be a topic
// level is dropped and counted; a failing Next is retried.
func TestInvalidClassAndSourceError(t *testing.T) {
	t.Parallel()
	url := startMochi(t)
	cfg := baseConfig(url)
	src := newMemSource()
	src.nextErr = errors.New("disk on fire")
	src.Put("asset", "ok-1", 1)
	src.Put("bad/class", "bad-1", 1)
	src.Put("asset", "ok-2", 1)
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, src)
	waitEmpty(t, src)
	st := c.Stats()
	if st.Dropped != 1 || st.RecordsPublished != 2 {
		t.Errorf("stats = %+v, want 1 dropped and 2 published", st)
	}
}

// TestPublishTimeout: a link that silently stops carrying data (no PUBACK,
// no error) is given up after PublishTimeout, and everything unacknowledged
// is sent again on a new connection.
func TestPublishTimeout(t *testing.T) {
	t.Parallel()
	url := startMochi(t)
	px := uplinktest.NewProxy(t, strings.TrimPrefix(url, "tcp://"))
	cfg := baseConfig(px.URL())
	cfg.PublishTimeout = 500 * time.Millisecond
	cfg.BatchMaxRecords = 10
	got := newCollector()
	subscribe(t, url, cfg.Topic("#"), false, got)

	src := newMemSource()
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, src)
	waitConnected(t, c)
	px.Blackhole()
	const n = 300
	want := putRecords(src, "t", n, 20)
	got.waitDistinct(t, n)
	waitEmpty(t, src)
	st := c.Stats()
	if st.Reconnects == 0 || st.PublishErrors == 0 {
		t.Errorf("stats = %+v, want a reconnect after a publish timeout", st)
	}
	for _, class := range classes {
		if diff := cmp.Diff(want[class], got.firstOrder(class)); diff != "" {
			t.Errorf("class %s (-want +got):\n%s", class, diff)
		}
	}
}

// dropSource is a memSource with the optional Drop method.
type dropSource struct {
	*memSource
	mu      sync.Mutex
	dropped map[string][]uint64 // by reason
}

func (s *dropSource) Drop(ctx context.Context, reason string, seqs ...uint64) error {
	s.mu.Lock()
	s.dropped[reason] = append(s.dropped[reason], seqs...)
	s.mu.Unlock()
	// Remove the entries without counting them as acknowledged.
	s.memSource.mu.Lock()
	acked := s.memSource.acked
	s.memSource.mu.Unlock()
	err := s.memSource.Ack(ctx, seqs...)
	s.memSource.mu.Lock()
	s.memSource.acked = acked
	s.memSource.mu.Unlock()
	return err
}

// TestInvalidClassDroppedNotDelivered: a Source with a Drop method gets the
// unpublishable records through Drop, so that it does not count them as
// delivered; only the published ones are acknowledged.
func TestInvalidClassDroppedNotDelivered(t *testing.T) {
	t.Parallel()
	url := startMochi(t)
	src := &dropSource{memSource: newMemSource(), dropped: map[string][]uint64{}}
	src.Put("asset", "ok-1", 1)
	bad := src.Put("bad+class", "bad-1", 1)
	src.Put("asset", "ok-2", 1)
	c, err := uplink.New(baseConfig(url))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, src)
	waitEmpty(t, src.memSource)
	src.mu.Lock()
	defer src.mu.Unlock()
	if diff := cmp.Diff(map[string][]uint64{uplink.ReasonInvalidClass: {bad}}, src.dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if got := src.Acked(); got != 2 {
		t.Errorf("acked %d, want 2 (the invalid record is dropped, not acknowledged)", got)
	}
	if st := c.Stats(); st.Dropped != 1 || st.RecordsPublished != 2 {
		t.Errorf("stats = %+v, want 1 dropped and 2 published", st)
	}
}
