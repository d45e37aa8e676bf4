package buffer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// readOnlyTimeout bounds ReadStats and Dump waiting for the file lock.
const readOnlyTimeout = time.Second

// view runs fn in a read transaction on the current file. A damaged page
// (a bbolt panic) or a damaged structure makes the writer move the file aside
// and salvage it; fn then runs once more on the fresh file, so it must reset
// whatever it collects.
func (b *Buffer) view(ctx context.Context, what string, fn func(*bolt.Tx) error) error {
	for attempt := 0; ; attempt++ {
		b.dbmu.RLock()
		db, gen := b.db, b.gen
		var err error
		if db != nil {
			err = guard(what, func() error { return db.View(fn) })
		} else {
			err = b.dbErr()
		}
		b.dbmu.RUnlock()
		if db == nil || attempt > 0 || !errors.Is(err, ErrCorrupt) {
			return err
		}
		if rerr := b.submit(ctx, &request{kind: opRecover, gen: gen, cause: err}); rerr != nil {
			return err
		}
	}
}

// Next returns up to max of the oldest queued entries with Seq > after, in Seq
// order, without removing them; pass the last returned Seq as after to page
// on, and 0 to start from the oldest (for example after a reconnect). It stops
// before the entry that would take the total len(Data) above maxBytes, but
// always returns at least one entry when any is available. max <= 0 and
// maxBytes <= 0 mean no limit. Entries past MaxAge are skipped (and expired by
// the writer soon after). An entry that fails its checksum is never returned:
// Next drops it (reason "corrupt") before it returns. Next waits for writes
// only to drop such entries, and while a compaction or a recovery swaps the
// file. It returns nil, nil when nothing is queued after the cursor.
func (b *Buffer) Next(ctx context.Context, after uint64, max int, maxBytes int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var cutoff int64
	if b.opts.MaxAge > 0 {
		cutoff = b.now().UnixNano() - int64(b.opts.MaxAge)
	}
	var (
		out     []Entry
		bad     []uint64
		skipped bool
	)
	err := b.view(ctx, "read", func(tx *bolt.Tx) error {
		out, bad, skipped = nil, nil, false
		q := tx.Bucket(bucketQueue)
		if q == nil {
			return corrupt(RecoveryDamaged, "queue bucket missing")
		}
		c := q.Cursor()
		total := 0
		var r record
		for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
			if len(k) != seqKeyLen {
				return corrupt(RecoveryDamaged, "queue key of %d bytes", len(k))
			}
			seq := u64(k)
			if err := decodeRecord(seq, v, &r); err != nil {
				bad = append(bad, seq)
				continue
			}
			if r.accept < cutoff {
				skipped = true
				continue
			}
			if len(out) > 0 && maxBytes > 0 && total+len(r.data) > maxBytes {
				break
			}
			total += len(r.data)
			out = append(out, Entry{
				Seq:    seq,
				Stream: string(r.stream),
				Key:    string(r.key),
				Time:   fromNanos(r.itemTime),
				Data:   bytes.Clone(r.data),
			})
			if max > 0 && len(out) >= max {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read buffer \"%s\": %w", b.path, err)
	}
	if len(bad) > 0 {
		if err := b.Drop(ctx, ReasonCorrupt, bad...); err != nil {
			b.log.Warn("buffer: dropping records that fail their checksum", "path", b.path, "records", len(bad), "err", err)
		}
	}
	if skipped {
		select {
		case b.nudge <- struct{}{}:
		default:
		}
	}
	return out, nil
}

// Stats returns a consistent snapshot of the counters, read in one
// transaction, plus any records counted in memory while the disk was too full
// to write the counters. After Close it returns the zero Stats (with a
// non-nil Dropped).
func (b *Buffer) Stats() Stats {
	var st Stats
	err := b.view(context.Background(), "read stats", func(tx *bolt.Tx) error {
		var err error
		st, err = readStats(tx, b.now())
		return err
	})
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			b.log.Error("buffer stats read failed", "path", b.path, "err", err)
		}
		return Stats{Dropped: map[string]uint64{}}
	}
	if accepted, dropped := b.pend.get(); accepted+dropped > 0 {
		st.Accepted += accepted
		st.Dropped[ReasonDiskFull] += dropped
	}
	st.FileBytes = fileSize(b.path)
	return st
}

// Meta returns the caller meta value stored under key by PutWithMeta, or nil
// when there is none. A value that fails its checksum gives an error wrapping
// ErrChecksum.
func (b *Buffer) Meta(ctx context.Context, key string) ([]byte, error) {
	var (
		val  []byte
		derr error
	)
	err := b.view(ctx, "read meta", func(tx *bolt.Tx) error {
		val, derr = nil, nil
		v := tx.Bucket(bucketUser).Get([]byte(key))
		if v == nil {
			return nil
		}
		data, err := decodeMeta([]byte(key), v)
		if err != nil {
			derr = err
			return nil
		}
		val = bytes.Clone(data)
		return nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("read buffer meta %q: %w", key, err)
	case derr != nil:
		return nil, fmt.Errorf("read buffer meta %q: %w (%v)", key, ErrChecksum, derr)
	}
	return val, nil
}

func readStats(tx *bolt.Tx, now time.Time) (Stats, error) {
	st := Stats{Dropped: map[string]uint64{}}
	meta, q := tx.Bucket(bucketMeta), tx.Bucket(bucketQueue)
	if meta == nil || q == nil {
		return st, corrupt(RecoveryDamaged, "buckets missing")
	}
	c := loadCounters(meta)
	st.Accepted, st.Delivered, st.Coalesced, st.Queued, st.Bytes = c.accepted, c.delivered, c.coalesced, c.queued, c.bytes
	mc := meta.Cursor()
	for k, v := mc.Seek(metaDropPfx); k != nil && bytes.HasPrefix(k, metaDropPfx); k, v = mc.Next() {
		st.Dropped[string(k[len(metaDropPfx):])] = u64(v)
	}
	if k, v := q.Cursor().First(); v != nil {
		var r record
		if decodeRecord(u64(k), v, &r) == nil {
			st.OldestAge = max(now.Sub(time.Unix(0, r.accept)), 0)
		}
	}
	return st, nil
}

// withReadOnly opens path read-only with a shared lock (for the stats and
// dump commands) and runs fn in a read transaction, guarded like the
// Buffer's own reads.
func withReadOnly(path string, fn func(*bolt.Tx) error) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	if err := precheck(path); err != nil {
		return err
	}
	var db *bolt.DB
	defer func() {
		if db != nil {
			_ = guard("close", db.Close)
		}
	}()
	return guard("read", func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: readOnlyTimeout})
		if err != nil {
			if errors.Is(err, berrors.ErrTimeout) {
				return fmt.Errorf("%w: the agent holds the lock; stop it, or read its status records or metrics instead", ErrLocked)
			}
			return classifyOpenErr(err, readOnlyTimeout)
		}
		return db.View(fn)
	})
}

// salvageSummary describes what the agent would salvage from the damaged
// file at path, for the error of ReadStats and Dump.
func salvageSummary(path string) string {
	var n uint64
	res, err := scanFile(path, func(uint64, []byte, *record) { n++ }, nil)
	if err != nil {
		return "nothing can be salvaged (" + err.Error() + "); the agent moves it aside when it next starts"
	}
	return fmt.Sprintf("%d records can be salvaged (%d damaged pages, %d damaged records); the agent salvages them and moves the file aside when it next starts",
		n, res.damaged, res.bad)
}

// ReadStats opens the file at path read-only and returns its Stats. It does
// not need a running Buffer. While an agent has the file open, the exclusive
// lock makes it fail within a second with an error wrapping ErrLocked. A
// damaged file gives an error wrapping ErrCorrupt that says how many records
// can be salvaged.
func ReadStats(path string) (Stats, error) {
	var st Stats
	err := withReadOnly(path, func(tx *bolt.Tx) error {
		var err error
		st, err = readStats(tx, time.Now())
		return err
	})
	if errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w; %s", err, salvageSummary(path))
	}
	if err != nil {
		return Stats{}, fmt.Errorf("read buffer stats \"%s\": %w", path, firstLineErr(err))
	}
	st.FileBytes = fileSize(path)
	return st, nil
}

// firstLineErr drops the panic stack from an error for the command line,
// keeping what it wraps.
func firstLineErr(err error) error {
	if msg := firstLine(err); msg != err.Error() {
		return &trimmedError{msg: msg, err: err}
	}
	return err
}

type trimmedError struct {
	msg string
	err error
}

func (e *trimmedError) Error() string { return e.msg }
func (e *trimmedError) Unwrap() error { return e.err }

// dumpLine is one line of Dump output.
type dumpLine struct {
	Seq      uint64          `json:"seq"`
	Stream   string          `json:"stream"`
	Key      string          `json:"key,omitempty"`
	Priority int64           `json:"priority"`
	Time     time.Time       `json:"time"`
	Accepted time.Time       `json:"accepted"`
	Data     json.RawMessage `json:"data,omitempty"`
	// DataBase64 holds the payload when it is not valid JSON.
	DataBase64 []byte `json:"data_base64,omitempty"`
}

// Dump writes the queued entries of the file at path to w as JSON lines,
// oldest first: seq, stream, key, priority, time, accepted and data (raw JSON
// when the payload is valid JSON, otherwise base64 in data_base64). limit <= 0
// means all. Like ReadStats it opens the file read-only and fails with
// ErrLocked while an agent holds it. Records that fail their checksum are not
// written; on a damaged file Dump writes every record a salvage would keep.
// Either way it then returns an error wrapping ErrCorrupt.
func Dump(path string, w io.Writer, limit int) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	var (
		n, bad uint64
		last   uint64
		encErr error
	)
	emit := func(seq uint64, r *record) {
		if encErr != nil || (limit > 0 && n >= uint64(limit)) {
			return
		}
		line := dumpLine{Seq: seq, Stream: string(r.stream), Key: string(r.key), Priority: r.prio,
			Time: fromNanos(r.itemTime), Accepted: fromNanos(r.accept)}
		if json.Valid(r.data) {
			line.Data = json.RawMessage(r.data)
		} else {
			line.DataBase64 = r.data
		}
		encErr = enc.Encode(&line)
		n++
		last = seq
	}
	err := withReadOnly(path, func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueue)
		if q == nil {
			return corrupt(RecoveryDamaged, "queue bucket missing")
		}
		c := q.Cursor()
		var r record
		for k, v := c.First(); k != nil && (limit <= 0 || n < uint64(limit)) && encErr == nil; k, v = c.Next() {
			if decodeRecord(u64(k), v, &r) != nil {
				bad++
				continue
			}
			emit(u64(k), &r)
		}
		return nil
	})
	if errors.Is(err, ErrCorrupt) {
		// Write what a salvage keeps, after what bbolt read in order.
		done := last
		res, serr := scanFile(path, func(seq uint64, _ []byte, r *record) {
			if seq > done {
				emit(seq, r)
			}
		}, nil)
		if serr == nil {
			err = fmt.Errorf("%w; wrote the records that can be salvaged (%d damaged pages, %d damaged records)", err, res.damaged, res.bad)
		}
	}
	if err == nil {
		err = encErr
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err == nil && bad > 0 {
		err = fmt.Errorf("%w: %d records fail their checksum and were not written", ErrCorrupt, bad)
	}
	if err != nil {
		return fmt.Errorf("dump buffer \"%s\": %w", path, firstLineErr(err))
	}
	return nil
}
