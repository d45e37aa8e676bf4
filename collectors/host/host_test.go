package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/host"
	"github.com/santhosh-tekuri/jsonschema/v6"
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

// compileSchema compiles the embedded record schema, asserting formats.
func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(collectors.SchemaJSON))
	if err != nil {
		t.Fatalf("unmarshal schema: %v", err)
	}
	const url = "https://edgeward.invalid/schema/v1.json"
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("add schema: %v", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return s
}

// envelope fills in what the agent adds to a collector's record.
func envelope(r collectors.Record) collectors.Record {
	r.ID = "01JD0000000000000000000000"
	r.Schema = collectors.SchemaV1
	r.Agent = collectors.Agent{ID: "agent-01", Enterprise: "acme", Site: "plant-1", Version: "0.0.0-test"}
	return r
}

// validate marshals rec and validates it against the schema.
func validate(t *testing.T, s *jsonschema.Schema, rec collectors.Record) {
	t.Helper()
	if err := rec.Validate(); err != nil {
		t.Fatalf("Record.Validate: %v", err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("unmarshal record: %v", err)
	}
	if err := s.Validate(inst); err != nil {
		t.Fatalf("record does not match schema: %v\n%s", err, b)
	}
}

func TestRecordMatchesSchema(t *testing.T) {
	t.Parallel()
	s := compileSchema(t)
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
			validate(t, s, envelope(rec))
		})
	}
}

// TestSchemaRejectsBadBody makes sure the body schema is actually applied.
func TestSchemaRejectsBadBody(t *testing.T) {
	t.Parallel()
	s := compileSchema(t)
	c := newCollector(t, host.Config{Root: fixtureRoot})
	for name, body := range map[string]any{
		"no hostname":    map[string]any{"os": map[string]any{"family": "linux"}},
		"unknown field":  map[string]any{"hostname": "h", "os": map[string]any{"family": "linux"}, "extra": 1},
		"bad socket":     map[string]any{"hostname": "h", "os": map[string]any{"family": "linux"}, "listening": []any{map[string]any{"protocol": "sctp", "address": "x", "port": 1}}},
		"negative count": map[string]any{"hostname": "h", "os": map[string]any{"family": "linux"}, "truncated": map[string]any{"software": -1}},
	} {
		rec := envelope(c.Record(&host.Inventory{}))
		rec.Body = body
		b, _ := json.Marshal(rec)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(inst); err == nil {
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

func (r *recorder) Emit(_ context.Context, rec collectors.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
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
			s := compileSchema(t)
			for i, r := range rec.recs {
				if inv, ok := r.Body.(*host.Inventory); !ok || inv.Hostname == "" {
					t.Errorf("record %d body = %#v", i, r.Body)
				}
				validate(t, s, envelope(r))
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
