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

// Next returns up to max of the oldest queued entries with Seq > after, in Seq
// order, without removing them; pass the last returned Seq as after to page
// on, and 0 to start from the oldest (for example after a reconnect). It stops
// before the entry that would take the total len(Data) above maxBytes, but
// always returns at least one entry when any is available. max <= 0 and
// maxBytes <= 0 mean no limit. Entries past MaxAge are skipped (and expired by
// the writer soon after). Next never waits for writes; it waits only while a
// compaction swaps the file. It returns nil, nil when nothing is queued after
// the cursor.
func (b *Buffer) Next(ctx context.Context, after uint64, max int, maxBytes int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.dbmu.RLock()
	defer b.dbmu.RUnlock()
	if b.db == nil {
		return nil, ErrClosed
	}
	var cutoff int64
	if b.opts.MaxAge > 0 {
		cutoff = b.now().UnixNano() - int64(b.opts.MaxAge)
	}
	var (
		out     []Entry
		skipped bool
	)
	err := b.db.View(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueue)
		if q == nil {
			return fmt.Errorf("%w: queue bucket missing", ErrCorrupt)
		}
		c := q.Cursor()
		total := 0
		var r record
		for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
			if err := decodeRecord(v, &r); err != nil || r.accept < cutoff {
				skipped = true
				continue
			}
			if len(out) > 0 && maxBytes > 0 && total+len(r.data) > maxBytes {
				break
			}
			total += len(r.data)
			out = append(out, Entry{
				Seq:    u64(k),
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
		return nil, fmt.Errorf("read buffer %q: %w", b.path, err)
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
// transaction. After Close it returns the zero Stats (with a non-nil Dropped).
func (b *Buffer) Stats() Stats {
	b.dbmu.RLock()
	defer b.dbmu.RUnlock()
	if b.db == nil {
		return Stats{Dropped: map[string]uint64{}}
	}
	var st Stats
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		st, err = readStats(tx, b.now())
		return err
	})
	if err != nil {
		b.log.Error("buffer stats read failed", "path", b.path, "err", err)
		return Stats{Dropped: map[string]uint64{}}
	}
	st.FileBytes = fileSize(b.path)
	return st
}

func readStats(tx *bolt.Tx, now time.Time) (Stats, error) {
	st := Stats{Dropped: map[string]uint64{}}
	meta, q := tx.Bucket(bucketMeta), tx.Bucket(bucketQueue)
	if meta == nil || q == nil {
		return st, fmt.Errorf("%w: buckets missing", ErrCorrupt)
	}
	c := loadCounters(meta)
	st.Accepted, st.Delivered, st.Coalesced, st.Queued, st.Bytes = c.accepted, c.delivered, c.coalesced, c.queued, c.bytes
	mc := meta.Cursor()
	for k, v := mc.Seek(metaDropPfx); k != nil && bytes.HasPrefix(k, metaDropPfx); k, v = mc.Next() {
		st.Dropped[string(k[len(metaDropPfx):])] = u64(v)
	}
	if _, v := q.Cursor().First(); v != nil {
		var r record
		if decodeRecord(v, &r) == nil {
			st.OldestAge = max(now.Sub(time.Unix(0, r.accept)), 0)
		}
	}
	return st, nil
}

// openReadOnly opens path with a shared lock for the stats and dump commands.
func openReadOnly(path string) (*bolt.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	if err := precheck(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: readOnlyTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: the agent holds the lock; stop it, or read its status records or metrics instead", ErrLocked)
		}
		return nil, classifyOpenErr(err, readOnlyTimeout)
	}
	return db, nil
}

// ReadStats opens the file at path read-only and returns its Stats. It does
// not need a running Buffer. While an agent has the file open, the exclusive
// lock makes it fail within a second with an error wrapping ErrLocked.
func ReadStats(path string) (Stats, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return Stats{}, fmt.Errorf("read buffer stats %q: %w", path, err)
	}
	defer db.Close()
	var st Stats
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		st, err = readStats(tx, time.Now())
		return err
	})
	if err != nil {
		return Stats{}, fmt.Errorf("read buffer stats %q: %w", path, err)
	}
	st.FileBytes = fileSize(path)
	return st, nil
}

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
// ErrLocked while an agent holds it.
func Dump(path string, w io.Writer, limit int) error {
	db, err := openReadOnly(path)
	if err != nil {
		return fmt.Errorf("dump buffer %q: %w", path, err)
	}
	defer db.Close()
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	err = db.View(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueue)
		if q == nil {
			return fmt.Errorf("%w: queue bucket missing", ErrCorrupt)
		}
		c := q.Cursor()
		n := 0
		var r record
		for k, v := c.First(); k != nil && (limit <= 0 || n < limit); k, v = c.Next() {
			if decodeRecord(v, &r) != nil {
				continue
			}
			line := dumpLine{Seq: u64(k), Stream: string(r.stream), Key: string(r.key), Priority: r.prio,
				Time: fromNanos(r.itemTime), Accepted: fromNanos(r.accept)}
			if json.Valid(r.data) {
				line.Data = json.RawMessage(r.data)
			} else {
				line.DataBase64 = r.data
			}
			if err := enc.Encode(&line); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dump buffer %q: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dump buffer %q: %w", path, err)
	}
	return nil
}
