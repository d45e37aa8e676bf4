package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
)

// store is what the recorder needs from the buffer.
type store interface {
	PutWithMeta(ctx context.Context, meta map[string][]byte, items ...buffer.Item) error
	Meta(ctx context.Context, key string) ([]byte, error)
}

// recorder is the agent's collectors.Emitter and collectors.Checkpointer: it
// stamps a record (id, schema, time, agent identity), encodes it as wire
// schema v1 and makes it durable in the buffer. A record is accepted when
// Emit returns nil. Concurrent Emits from several collectors share buffer
// transactions (the buffer's group commit).
type recorder struct {
	buf   store
	agent collectors.Agent
	ids   collectors.IDSource
	now   func() time.Time
}

var (
	_ collectors.Emitter      = (*recorder)(nil)
	_ collectors.Checkpointer = (*recorder)(nil)
)

// Emit implements collectors.Emitter: the records of one call are stored
// with as few buffer transactions as the pipelining allows (see put). Invalid
// records are refused and reported in the error; the valid ones are stored
// all the same. When a large batch fails, part of it may have been accepted.
func (r *recorder) Emit(ctx context.Context, recs ...collectors.Record) error {
	return r.put(ctx, nil, recs)
}

// checkpointPrefix namespaces collectors' checkpoints in the buffer's meta.
const checkpointPrefix = "checkpoint/"

// Checkpoint implements collectors.Checkpointer: the state last stored
// under name, nil if none. A state whose checksum fails gives an error
// wrapping buffer.ErrChecksum.
func (r *recorder) Checkpoint(ctx context.Context, name string) ([]byte, error) {
	return r.buf.Meta(ctx, checkpointPrefix+name)
}

// EmitCheckpoint implements collectors.Checkpointer: recs and state go into
// one buffer transaction, so after a crash both are there or neither is. A
// nil state deletes the checkpoint. Invalid records are refused as by Emit
// while the valid ones and the state are stored: re-reading the input could
// not make them valid.
func (r *recorder) EmitCheckpoint(ctx context.Context, name string, state []byte, recs ...collectors.Record) error {
	return r.put(ctx, map[string][]byte{checkpointPrefix + name: state}, recs)
}

// emitChunk is the number of records the recorder encodes before handing
// them to the buffer while it encodes the next ones.
const emitChunk = 256

// put encodes recs and stores them with meta. A large batch without meta is
// handed to the buffer in chunks as they are encoded, so that encoding the
// next chunk overlaps the commit of the previous one; chunks that wait meanwhile
// share one transaction (group commit). With meta (a checkpoint) everything
// goes into one transaction.
func (r *recorder) put(ctx context.Context, meta map[string][]byte, recs []collectors.Record) error {
	var (
		bad  []error
		errs = make(chan error, len(recs)/emitChunk+1)
		n    int
	)
	for start := 0; start < len(recs) || (start == 0 && len(meta) > 0); start += emitChunk {
		end := len(recs)
		if len(meta) == 0 {
			end = min(start+emitChunk, len(recs))
		}
		items := make([]buffer.Item, 0, end-start)
		for _, rec := range recs[start:end] {
			item, err := r.encode(rec)
			if err != nil {
				bad = append(bad, err)
				continue
			}
			items = append(items, item)
		}
		if len(items) == 0 && len(meta) == 0 {
			continue
		}
		n++
		if end == len(recs) { // the last one: no need for a goroutine
			errs <- r.buf.PutWithMeta(ctx, meta, items...)
			break
		}
		go func() { errs <- r.buf.PutWithMeta(ctx, meta, items...) }()
	}
	var failed []error
	for range n {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	return errors.Join(bad...)
}

// reportRecoveries tells the platform about every damaged buffer file the
// buffer moved aside: at start, and whenever it happens while running. Each
// report becomes one agent.buffer_recovered threat record, stored in the
// transaction that deletes the report, so it is sent exactly once however
// the agent stops.
// A report that could not be stored (a full disk) is tried again a minute
// later.
func reportRecoveries(ctx context.Context, buf *buffer.Buffer, r *recorder, log *slog.Logger) {
	for {
		reps, err := buf.Recoveries(ctx)
		for _, rep := range reps {
			item, perr := r.encode(recoveryRecord(rep))
			if perr == nil {
				perr = buf.PutWithMeta(ctx, map[string][]byte{rep.Key: nil}, item)
			}
			err = errors.Join(err, perr)
		}
		var retry <-chan time.Time
		if err != nil && ctx.Err() == nil {
			log.Warn("report buffer recovery to the platform; retrying in a minute", "err", err)
			retry = time.After(time.Minute)
		}
		select {
		case <-ctx.Done():
			return
		case <-buf.Recovered():
		case <-retry:
		}
	}
}

// recoveryRecord is the agent.buffer_recovered record of one report: high
// severity when records were lost or the loss is unknown.
func recoveryRecord(rep buffer.Recovery) collectors.Record {
	sev := collectors.SeverityMedium
	if rep.Lost > 0 || !rep.LostKnown {
		sev = collectors.SeverityHigh
	}
	return collectors.Record{Class: collectors.ClassThreat, Kind: "agent.buffer_recovered", Severity: sev, Time: rep.Time, Body: rep}
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
