package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
)

// putter is what the recorder needs from the buffer.
type putter interface {
	Put(ctx context.Context, items ...buffer.Item) error
}

// recorder is the agent's collectors.Emitter: it stamps a record (id, schema,
// time, agent identity), encodes it as wire schema v1 and makes it durable in
// the buffer. A record is accepted when Emit returns nil.
type recorder struct {
	buf   putter
	agent collectors.Agent
	ids   collectors.IDSource
	now   func() time.Time
}

var _ collectors.Emitter = (*recorder)(nil)

// Emit implements collectors.Emitter: the records of one call share one
// buffer transaction. Invalid records are refused and reported in the error;
// the valid ones are stored all the same.
func (r *recorder) Emit(ctx context.Context, recs ...collectors.Record) error {
	items := make([]buffer.Item, 0, len(recs))
	var bad []error
	for _, rec := range recs {
		item, err := r.encode(rec)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		items = append(items, item)
	}
	if len(items) > 0 {
		if err := r.buf.Put(ctx, items...); err != nil {
			return err
		}
	}
	return errors.Join(bad...)
}

// encode stamps rec and turns it into a buffer item.
func (r *recorder) encode(rec collectors.Record) (buffer.Item, error) {
	if err := rec.Validate(); err != nil {
		return buffer.Item{}, err
	}
	now := r.now().UTC()
	if rec.Time.IsZero() {
		rec.Time = now
	}
	rec.Time = rec.Time.UTC()
	rec.ID = r.ids.New(now)
	rec.Schema = collectors.SchemaV1
	rec.Agent = r.agent
	data, err := json.Marshal(rec)
	if err != nil {
		return buffer.Item{}, fmt.Errorf("encode %s record %q: %w", rec.Class, rec.Kind, err)
	}
	return buffer.Item{
		Stream:   string(rec.Class),
		Key:      coalesceKey(rec),
		Priority: priority(rec.Class),
		Time:     rec.Time,
		Data:     data,
	}, nil
}

// coalesceKey is the buffer key under which a newer state record replaces an
// older queued one: the kind and the record key, so that records of two kinds
// that share a key (baseline.result and baseline.score) never replace each
// other (kinds contain no "/", so the pair is unambiguous). Events get no
// key and are never coalesced.
func coalesceKey(rec collectors.Record) string {
	if !rec.Class.Stateful() {
		return ""
	}
	return rec.Kind + "/" + rec.Key
}

// priority orders classes for drops under the buffer's caps: lower is
// dropped first (status, then activity, asset, baseline; threat last).
func priority(c collectors.Class) int {
	for i, k := range collectors.Classes {
		if c == k {
			return i
		}
	}
	return 0
}
