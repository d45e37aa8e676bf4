package baseline

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/schematest"
)

// validate checks r against the wire schema v1 inside the agent's envelope.
func validate(t testing.TB, r collectors.Record) {
	t.Helper()
	if raw, err := schematest.Validate(r); err != nil {
		t.Errorf("%s %s does not validate: %v\n%s", r.Kind, r.Key, err, raw)
	}
}

func TestRecordsValidateAgainstSchema(t *testing.T) {
	t.Parallel()
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
			validate(t, r)
		}
	}
	// Windows results share the record shape.
	rep := windowsFixtureReport(t)
	for _, r := range rep.Records() {
		validate(t, r)
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
	emit := collectors.RecordFunc(func(ctx context.Context, r collectors.Record) error {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, r)
		if r.Kind == KindScore {
			scans++
			switch scans {
			case 1: // break LNX-SSH-001: the Include comes first, so it wins
				p := filepath.Join(root, "etc", "ssh", "sshd_config.d", "10-ics.conf")
				old, _ := os.ReadFile(p)
				if err := os.WriteFile(p, append([]byte("PermitRootLogin yes\n"), old...), 0o644); err != nil {
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
	if n := linuxChecks(t); results != 2*n {
		t.Errorf("result records = %d, want %d (%d per scan)", results, 2*n, n)
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
	if err := c.Run(ctx, collectors.RecordFunc(func(context.Context, collectors.Record) error { return nil })); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
}
