package agent

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/schematest"
	"github.com/edgeward/edgeward/uplink"
)

func TestRecorderStampsAndCoalesces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	r := &recorder{buf: buf, agent: collectors.Agent{ID: "gw", Enterprise: "e", Site: "s", Version: "v"}, now: func() time.Time { return now }}

	body := map[string]any{"n": 1}
	emit := func(rec collectors.Record) {
		t.Helper()
		if err := r.Emit(ctx, rec); err != nil {
			t.Fatalf("Emit(%s): %v", rec.Kind, err)
		}
	}
	emit(collectors.Record{Class: collectors.ClassBaseline, Kind: "test.result", Key: "k1", Body: body})
	emit(collectors.Record{Class: collectors.ClassBaseline, Kind: "test.score", Key: "k1", Body: body})  // same key, other kind: kept
	emit(collectors.Record{Class: collectors.ClassBaseline, Kind: "test.result", Key: "k1", Body: body}) // replaces the first
	emit(collectors.Record{Class: collectors.ClassThreat, Kind: "test.event", Severity: collectors.SeverityHigh, Body: body})
	emit(collectors.Record{Class: collectors.ClassThreat, Kind: "test.event", Severity: collectors.SeverityHigh, Body: body})
	if err := r.Emit(ctx, collectors.Record{Class: collectors.ClassAsset, Kind: "test.asset", Body: body}); err == nil {
		t.Error("a state record without a key was accepted")
	}

	st := buf.Stats()
	if st.Accepted != 5 || st.Coalesced != 1 || st.Queued != 4 {
		t.Errorf("stats accepted=%d coalesced=%d queued=%d, want 5, 1, 4", st.Accepted, st.Coalesced, st.Queued)
	}
	es, err := buf.Next(ctx, 0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range es {
		if err := schematest.ValidateJSON(e.Data); err != nil {
			t.Errorf("record %s does not validate: %v", e.Data, err)
		}
		var rec collectors.Record
		if err := json.Unmarshal(e.Data, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Schema != collectors.SchemaV1 || rec.Agent.ID != "gw" || !rec.Time.Equal(now) || rec.Time.Location() != time.UTC {
			t.Errorf("record not stamped: %+v", rec)
		}
		if ids[rec.ID] {
			t.Errorf("duplicate id %s", rec.ID)
		}
		ids[rec.ID] = true
		if e.Stream != string(rec.Class) {
			t.Errorf("stream %q for class %q", e.Stream, rec.Class)
		}
	}
}

func TestPriorityOrder(t *testing.T) {
	t.Parallel()
	order := []collectors.Class{collectors.ClassStatus, collectors.ClassActivity, collectors.ClassAsset, collectors.ClassBaseline, collectors.ClassThreat}
	for i := 1; i < len(order); i++ {
		if priority(order[i-1]) >= priority(order[i]) {
			t.Errorf("%s must be dropped before %s", order[i-1], order[i])
		}
	}
}

// TestBufferSourceDropCountsAsDropped: records the uplink can never publish
// reach the buffer through Drop, so the counters show them as dropped, not as
// delivered.
func TestBufferSourceDropCountsAsDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	if err := buf.Put(ctx, buffer.Item{Stream: "bad/class", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	src := bufferSource{buf}
	d, ok := any(src).(interface {
		Drop(ctx context.Context, reason string, seqs ...uint64) error
	})
	if !ok {
		t.Fatal("bufferSource has no Drop method: the uplink would count dropped records as delivered")
	}
	msgs, err := src.Next(ctx, 0, 10, 1<<20)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Next = %v, %v", msgs, err)
	}
	if err := d.Drop(ctx, uplink.ReasonInvalidClass, msgs[0].Seq); err != nil {
		t.Fatal(err)
	}
	if st := buf.Stats(); st.Delivered != 0 || st.Dropped[uplink.ReasonInvalidClass] != 1 || st.Queued != 0 {
		t.Errorf("stats after Drop = %+v, want 1 dropped as %s and none delivered", st, uplink.ReasonInvalidClass)
	}
}

func TestRecorderBatchKeepsValidRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	r := &recorder{buf: buf, agent: collectors.Agent{ID: "gw", Enterprise: "e", Site: "s", Version: "v"}, now: time.Now}
	body := map[string]any{"n": 1}
	err = r.Emit(ctx,
		collectors.Record{Class: collectors.ClassThreat, Kind: "test.event", Severity: collectors.SeverityHigh, Body: body},
		collectors.Record{Class: collectors.ClassAsset, Kind: "test.asset", Body: body}, // no key: refused
		collectors.Record{Class: collectors.ClassAsset, Kind: "test.asset", Key: "a", Body: body},
	)
	if !errors.Is(err, collectors.ErrInvalidRecord) {
		t.Errorf("Emit error = %v, want ErrInvalidRecord for the keyless asset", err)
	}
	if st := buf.Stats(); st.Accepted != 2 || st.Queued != 2 {
		t.Errorf("accepted=%d queued=%d, want the 2 valid records of the batch", st.Accepted, st.Queued)
	}
}
