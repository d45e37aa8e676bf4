package uplink

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSplitBatches(t *testing.T) {
	t.Parallel()
	msg := func(seq uint64, class, data string) Message {
		return Message{Seq: seq, Class: class, Data: []byte(data)}
	}
	type out struct {
		Class   string
		Seqs    []uint64
		Payload string
	}
	for _, tc := range []struct {
		name       string
		msgs       []Message
		maxRecords int
		maxBytes   int
		want       []out
		wantBad    []uint64
	}{
		{
			name:       "one class",
			msgs:       []Message{msg(1, "asset", `{"a":1}`), msg(2, "asset", `{"a":2}`)},
			maxRecords: 10, maxBytes: 1000,
			want: []out{{"asset", []uint64{1, 2}, `[{"a":1},{"a":2}]`}},
		},
		{
			name:       "classes interleaved keep their own order",
			msgs:       []Message{msg(1, "asset", `1`), msg(2, "threat", `2`), msg(3, "asset", `3`), msg(4, "threat", `4`)},
			maxRecords: 10, maxBytes: 1000,
			want: []out{{"asset", []uint64{1, 3}, `[1,3]`}, {"threat", []uint64{2, 4}, `[2,4]`}},
		},
		{
			name:       "record cap",
			msgs:       []Message{msg(1, "a", `1`), msg(2, "a", `2`), msg(3, "a", `3`)},
			maxRecords: 2, maxBytes: 1000,
			want: []out{{"a", []uint64{1, 2}, `[1,2]`}, {"a", []uint64{3}, `[3]`}},
		},
		{
			name:       "byte cap counts brackets and commas",
			msgs:       []Message{msg(1, "a", `"xx"`), msg(2, "a", `"yy"`), msg(3, "a", `"zz"`)},
			maxRecords: 10, maxBytes: len(`["xx","yy"]`),
			want: []out{{"a", []uint64{1, 2}, `["xx","yy"]`}, {"a", []uint64{3}, `["zz"]`}},
		},
		{
			name:       "oversized record goes alone",
			msgs:       []Message{msg(1, "a", `"small"`), msg(2, "a", `"this one is far too big"`), msg(3, "a", `1`)},
			maxRecords: 10, maxBytes: 12,
			want: []out{{"a", []uint64{1}, `["small"]`}, {"a", []uint64{2}, `["this one is far too big"]`}, {"a", []uint64{3}, `[1]`}},
		},
		{
			name:       "invalid classes are set aside",
			msgs:       []Message{msg(1, "", `1`), msg(2, "a/b", `2`), msg(3, "a", `3`), msg(4, "#", `4`), msg(5, "+", `5`)},
			maxRecords: 10, maxBytes: 100,
			want:    []out{{"a", []uint64{3}, `[3]`}},
			wantBad: []uint64{1, 2, 4, 5},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			batches, bad := splitBatches(tc.msgs, tc.maxRecords, tc.maxBytes)
			var got []out
			for _, b := range batches {
				got = append(got, out{b.class, b.seqs, string(b.payload)})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("batches (-want +got):\n%s", diff)
			}
			var gotBad []uint64
			for _, m := range bad {
				gotBad = append(gotBad, m.Seq)
			}
			if diff := cmp.Diff(tc.wantBad, gotBad); diff != "" {
				t.Errorf("bad (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	type step struct {
		at   time.Duration // since t0
		n    int
		wait time.Duration // delay before n may be sent; 0 means charged now
	}
	for _, tc := range []struct {
		name  string
		rate  int64
		steps []step
	}{
		{"unlimited", 0, []step{{0, 1 << 20, 0}, {0, 1 << 20, 0}}},
		// rate 1000 B/s: the bucket holds 250 bytes.
		{"bucket then rate", 1000, []step{{0, 250, 0}, {0, 250, 250 * time.Millisecond}, {250 * time.Millisecond, 250, 0}, {250 * time.Millisecond, 100, 100 * time.Millisecond}}},
		{"idle time fills the bucket only", 1000, []step{{0, 250, 0}, {10 * time.Second, 250, 0}, {10 * time.Second, 1, time.Millisecond}}},
		{"oversized waits for a full bucket", 1000, []step{{0, 100, 0}, {0, 1000, 100 * time.Millisecond}, {100 * time.Millisecond, 1000, 0}, {100 * time.Millisecond, 1, 751 * time.Millisecond}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := limiter{rate: tc.rate}
			var got, want []time.Duration
			for _, s := range tc.steps {
				now := t0.Add(s.at)
				d := l.delay(now, s.n)
				if d == 0 {
					l.charge(now, s.n)
				}
				got = append(got, d)
				want = append(want, s.wait)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLimiterWindows drives the limiter with a greedy sender of random
// message sizes up to the bucket and checks every 5-second window (at 10 ms
// steps) against the cap plus the bucket: at most 105% of the cap.
func TestLimiterWindows(t *testing.T) {
	t.Parallel()
	const rate = 64 << 10
	l := limiter{rate: rate}
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Unix(1000, 0)
	type send struct {
		at time.Duration
		n  int
	}
	var sends []send
	now := t0
	for now.Sub(t0) < 60*time.Second {
		n := 1 + rng.IntN(l.burstBytes())
		if rng.IntN(50) == 0 {
			now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond) // idle now and then
		}
		now = now.Add(l.delay(now, n))
		l.charge(now, n)
		sends = append(sends, send{now.Sub(t0), n})
	}
	limit := int64(rate * (5*time.Second + capBurst) / time.Second)
	for start := time.Duration(0); start < 55*time.Second; start += 10 * time.Millisecond {
		var sum int64
		for _, s := range sends {
			if s.at >= start && s.at < start+5*time.Second {
				sum += int64(s.n)
			}
		}
		if sum > limit {
			t.Fatalf("window at %s carried %d bytes, limit %d (%.1f%% of the cap)", start, sum, limit, 100*float64(sum)/float64(rate*5))
		}
	}
}

func TestPublishSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ topic, payload, want int }{
		{5, 0, 2 + 2 + 5 + 2},
		{5, 118, 2 + 2 + 5 + 2 + 118},     // remaining length 127: one byte
		{5, 119, 3 + 2 + 5 + 2 + 119},     // 128: two bytes
		{5, 16374, 3 + 2 + 5 + 2 + 16374}, // 16383: two bytes
		{5, 16375, 4 + 2 + 5 + 2 + 16375}, // 16384: three bytes
	} {
		if got := publishSize(strings.Repeat("t", tc.topic), tc.payload); got != tc.want {
			t.Errorf("publishSize(%d-byte topic, %d) = %d, want %d", tc.topic, tc.payload, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	lo, hi := time.Second, 30*time.Second
	for attempt, ceiling := range []time.Duration{1, 2, 4, 8, 16, 30, 30, 30} {
		ceiling *= time.Second
		if attempt >= 5 {
			ceiling = hi
		}
		for range 50 {
			d := backoff(attempt, lo, hi)
			if d < ceiling/2 || d > ceiling {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", attempt, d, ceiling/2, ceiling)
			}
		}
	}
	if d := backoff(1000, lo, hi); d > hi {
		t.Errorf("backoff(1000) = %s, want <= %s", d, hi)
	}
}

func TestTopics(t *testing.T) {
	t.Parallel()
	cfg := Config{Enterprise: "acme", Site: "plant1", AgentID: "a1"}
	got := []string{cfg.Topic("asset"), cfg.StatusTopic()}
	cfg.TopicPrefix = "corp/sec"
	got = append(got, cfg.Topic("threat"))
	want := []string{"edgeward/v1/acme/plant1/a1/asset", "edgeward/v1/acme/plant1/a1/status", "corp/sec/acme/plant1/a1/threat"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("topics (-want +got):\n%s", diff)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	got := Config{AgentID: "a1"}.withDefaults()
	got.Logger = nil
	want := Config{
		AgentID: "a1", ClientID: "edgeward-a1", TopicPrefix: DefaultTopicPrefix,
		KeepAlive: DefaultKeepAlive, PingTimeout: DefaultPingTimeout, ConnectTimeout: DefaultConnectTimeout, PublishTimeout: DefaultPublishTimeout,
		FlushTimeout: DefaultFlushTimeout, MinBackoff: DefaultMinBackoff, MaxBackoff: DefaultMaxBackoff,
		BatchMaxRecords: DefaultBatchMaxRecords, BatchMaxBytes: DefaultBatchMaxBytes, InFlight: DefaultInFlight,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("withDefaults (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := Config{Brokers: []string{"tcp://h:1883", "mqtts://h:8883"}, Enterprise: "e", Site: "s", AgentID: "a"}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		errHas string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"ssl and tls schemes", func(c *Config) { c.Brokers = []string{"ssl://h:1", "tls://h:2", "mqtt://h:3"} }, ""},
		{"ws scheme", func(c *Config) { c.Brokers = []string{"ws://h:1"} }, "scheme"},
		{"missing agent id", func(c *Config) { c.AgentID = "" }, "agent_id: required"},
		{"hash in enterprise", func(c *Config) { c.Enterprise = "#" }, "enterprise"},
		{"prefix with wildcard", func(c *Config) { c.TopicPrefix = "a/+/b" }, "topic_prefix"},
		{"prefix trailing slash", func(c *Config) { c.TopicPrefix = "a/" }, "topic_prefix"},
		{"negative timeout", func(c *Config) { c.PublishTimeout = -time.Second }, "publish_timeout"},
		{"backoff inverted", func(c *Config) { c.MinBackoff, c.MaxBackoff = time.Minute, time.Second }, "min_backoff"},
		{"negative rate", func(c *Config) { c.BytesPerSecond = -1 }, "bytes_per_second"},
		{"sub-second keepalive", func(c *Config) { c.KeepAlive = 500 * time.Millisecond }, "keep_alive"},
		{"huge window", func(c *Config) { c.InFlight = 5000 }, "in_flight"},
		{"password not echoed", func(c *Config) { c.Brokers = []string{"http://user:hunter2@h:1"} }, "scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.errHas == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, tc.errHas)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

func TestLogValueRedacts(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	cfg := Config{Brokers: []string{"tcp://bob:pw1@h:1"}, Username: "bob", Password: "hunter2"}
	log.Info("config", "uplink", cfg)
	if s := buf.String(); strings.Contains(s, "hunter2") || strings.Contains(s, "pw1") || !strings.Contains(s, "password_set=true") {
		t.Errorf("log line %q leaks a password or lacks password_set", s)
	}
}

func TestGzipRoundTrip(t *testing.T) {
	t.Parallel()
	in := []byte(`[{"id":"1"},{"id":"2"}]`)
	z := gzipBytes(in)
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatalf("gzip reader: %v", err)
	}
	std, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	ours, err := gunzip(z)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if diff := cmp.Diff(string(in), string(std)); diff != "" {
		t.Errorf("stdlib gunzip (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(string(in), string(ours)); diff != "" {
		t.Errorf("gunzip (-want +got):\n%s", diff)
	}
	if _, err := gunzip([]byte("not gzip")); err == nil {
		t.Errorf("gunzip of garbage succeeded")
	}
}

// FuzzGunzip: the subscriber decompresses untrusted payloads; it must never
// panic and must respect its size bound.
func FuzzGunzip(f *testing.F) {
	f.Add(gzipBytes([]byte(`[{"id":"1"}]`)))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := gunzip(b)
		if err == nil && len(out) > maxGunzip {
			t.Fatalf("gunzip returned %d bytes, bound is %d", len(out), maxGunzip)
		}
	})
}
