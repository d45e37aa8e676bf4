package host_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/host"
	"github.com/edgeward/edgeward/collectors/schematest"
)

const fixtureRoot = "testdata/root"

func newCollector(t testing.TB, cfg host.Config) *host.Collector {
	t.Helper()
	if cfg.Key == "" {
		cfg.Key = "agent-01"
	}
	c, err := host.New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestNew(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     host.Config
		wantErr error // nil: success; errAny: any error
	}{
		{name: "defaults", cfg: host.Config{Key: "a"}},
		{name: "fixture root", cfg: host.Config{Key: "a", Root: fixtureRoot, Interval: time.Second}},
		{name: "no key", cfg: host.Config{Root: fixtureRoot}, wantErr: host.ErrNoKey},
		{name: "missing root", cfg: host.Config{Key: "a", Root: filepath.Join(t.TempDir(), "nope")}, wantErr: os.ErrNotExist},
		{name: "root is a file", cfg: host.Config{Key: "a", Root: file}, wantErr: errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := host.New(tc.cfg, nil)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("New err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && c.Name() != "host" {
				t.Errorf("Name() = %q", c.Name())
			}
		})
	}
}

var errAny = errors.New("any error")

// validate checks r against the wire schema v1 inside the agent's envelope.
func validate(t testing.TB, r collectors.Record) {
	t.Helper()
	if raw, err := schematest.Validate(r); err != nil {
		t.Errorf("%s %s does not validate: %v\n%s", r.Kind, r.Key, err, raw)
	}
}

func TestRecordMatchesSchema(t *testing.T) {
	t.Parallel()
	for _, root := range []string{"/", fixtureRoot, "testdata/rpmroot"} {
		t.Run(root, func(t *testing.T) {
			t.Parallel()
			c := newCollector(t, host.Config{Root: root})
			inv, err := c.Collect(context.Background())
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			rec := c.Record(inv)
			if rec.Class != collectors.ClassAsset || rec.Kind != "host.inventory" || rec.Key != "agent-01" || rec.Time.IsZero() {
				t.Errorf("Record envelope = %+v", rec)
			}
			validate(t, rec)
		})
	}
}

// TestSchemaRejectsBadBody makes sure the body schema is actually applied.
func TestSchemaRejectsBadBody(t *testing.T) {
	t.Parallel()
	c := newCollector(t, host.Config{Root: fixtureRoot})
	for name, body := range map[string]any{
		"no hostname":    map[string]any{"os": map[string]any{"family": "linux"}},
		"unknown field":  map[string]any{"hostname": "h", "os": map[string]any{"family": "linux"}, "extra": 1},
		"bad socket":     map[string]any{"hostname": "h", "os": map[string]any{"family": "linux"}, "listening": []any{map[string]any{"protocol": "sctp", "address": "x", "port": 1}}},
		"negative count": map[string]any{"hostname": "h", "os": map[string]any{"family": "linux"}, "truncated": map[string]any{"software": -1}},
	} {
		rec := c.Record(&host.Inventory{})
		rec.Body = body
		b, err := schematest.Validate(rec)
		if err == nil {
			t.Errorf("%s: schema accepted %s", name, b)
		}
	}
}

func TestCollectCancelled(t *testing.T) {
	t.Parallel()
	c := newCollector(t, host.Config{Root: fixtureRoot})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	inv, err := c.Collect(ctx)
	if !errors.Is(err, context.Canceled) || inv != nil {
		t.Fatalf("Collect on a cancelled context = %v, %v; want nil, context.Canceled", inv, err)
	}
}

// recorder is an Emitter that keeps records and signals each one.
type recorder struct {
	mu   sync.Mutex
	recs []collectors.Record
	got  chan struct{}
	fail bool
}

func (r *recorder) Emit(_ context.Context, recs ...collectors.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, recs...)
	r.mu.Unlock()
	r.got <- struct{}{}
	if r.fail {
		return errors.New("buffer full")
	}
	return nil
}

func TestRunEmitsOnTickerAndStopsOnCancel(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		t.Run(map[bool]string{false: "emit ok", true: "emit fails"}[fail], func(t *testing.T) {
			t.Parallel()
			c := newCollector(t, host.Config{Root: fixtureRoot, Interval: time.Millisecond})
			rec := &recorder{got: make(chan struct{}), fail: fail}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx, rec) }()
			for range 3 { // the first at once, then on the ticker
				<-rec.got
			}
			cancel()
			// Run may be blocked in a fourth Emit; let it through.
			go func() {
				for range rec.got {
				}
			}()
			if err := <-done; err != nil {
				t.Fatalf("Run returned %v after cancel, want nil", err)
			}
			close(rec.got)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for i, r := range rec.recs {
				if inv, ok := r.Body.(*host.Inventory); !ok || inv.Hostname == "" {
					t.Errorf("record %d body = %#v", i, r.Body)
				}
				validate(t, r)
			}
		})
	}
}

func BenchmarkCollect(b *testing.B) {
	for _, root := range []string{"/", fixtureRoot} {
		b.Run(filepath.Base(root), func(b *testing.B) {
			c := newCollector(b, host.Config{Root: root})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Collect(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
