package baseline

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/edgeward/edgeward/collectors"
)

// compileSchema compiles collectors.SchemaJSON with format assertions.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(collectors.SchemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("v1.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// envelope fills the fields the agent stamps, as on the wire.
func envelope(r collectors.Record) collectors.Record {
	r.ID = "01JD0000000000000000000000"
	r.Schema = collectors.SchemaV1
	r.Agent = collectors.Agent{ID: "agent-1", Enterprise: "ent", Site: "site", Version: "0.0.0-test"}
	r.Time = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	return r
}

func validate(t *testing.T, s *jsonschema.Schema, r collectors.Record) {
	t.Helper()
	if err := r.Validate(); err != nil {
		t.Errorf("%s %s: Record.Validate: %v", r.Kind, r.Key, err)
	}
	b, err := json.Marshal(envelope(r))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("%s %s does not validate: %v\n%s", r.Kind, r.Key, err, b)
	}
}

func TestRecordsValidateAgainstSchema(t *testing.T) {
	t.Parallel()
	s := compileSchema(t)
	for _, name := range fixtureNames() {
		rep := scanFixture(t, name, nil)
		recs := rep.Records()
		if len(recs) != len(rep.Results)+1 {
			t.Errorf("%s: %d records for %d results", name, len(recs), len(rep.Results))
		}
		prev := map[string]prevResult{}
		for _, r := range rep.Results {
			prev[r.ID] = prevResult{state: StatePass, known: StatePass, at: rep.Time.Add(-time.Hour)}
		}
		drift := rep.driftRecords(prev)
		if len(drift) != rep.Score.Counts.Fail {
			t.Errorf("%s: %d drift records for %d failures", name, len(drift), rep.Score.Counts.Fail)
		}
		for _, r := range append(recs, drift...) {
			validate(t, s, r)
		}
	}
	// Windows results share the record shape.
	rep := windowsFixtureReport(t)
	for _, r := range rep.Records() {
		validate(t, s, r)
	}
}

// TestRunEmitsDrift runs the collector over a fixture, breaks a passing
// check between two scans and expects a baseline.drift threat record.
func TestRunEmitsDrift(t *testing.T) {
	t.Parallel()
	root := copyFixture(t, "debian-hardened")
	cfg := fixtureConfig(t, "debian-hardened", root)
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.target = "linux"
	c.interval = time.Millisecond // test seam; Config.Interval has a 1 min floor
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var recs []collectors.Record
	scans := 0
	emit := collectors.EmitterFunc(func(ctx context.Context, r collectors.Record) error {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, r)
		if r.Kind == KindScore {
			scans++
			switch scans {
			case 1: // break LNX-SSH-001: the Include comes first, so it wins
				p := filepath.Join(root, "etc", "ssh", "sshd_config.d", "10-ics.conf")
				if err := os.WriteFile(p, []byte("PermitRootLogin yes\nMaxAuthTries 3\n"), 0o644); err != nil {
					t.Error(err)
				}
			case 2:
				cancel()
			}
		}
		return nil
	})
	if err := c.Run(ctx, emit); err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if scans != 2 {
		t.Fatalf("scans = %d, want 2", scans)
	}
	var drift []collectors.Record
	results := 0
	for _, r := range recs {
		switch r.Kind {
		case KindDrift:
			drift = append(drift, r)
		case KindResult:
			results++
			if r.Class != collectors.ClassBaseline || r.Key == "" {
				t.Errorf("result record %+v", r)
			}
		}
	}
	if results != 2*46 {
		t.Errorf("result records = %d, want 92 (46 per scan)", results)
	}
	if len(drift) != 1 {
		t.Fatalf("drift records = %d, want 1: %+v", len(drift), drift)
	}
	d := drift[0]
	body := d.Body.(DriftBody)
	if d.Class != collectors.ClassThreat || d.Key != "LNX-SSH-001" || body.PreviousState != StatePass || body.State != StateFail || d.Severity != collectors.SeverityHigh {
		t.Errorf("drift record %+v", d)
	}
}

func TestRunReturnsOnCancel(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.target = "linux"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(ctx, collectors.EmitterFunc(func(context.Context, collectors.Record) error { return nil })); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
}
