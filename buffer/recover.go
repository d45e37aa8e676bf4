package buffer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	salvageSuffix = ".salvage"
	// recoveryKeyPrefix names the caller-meta entries holding Recovery
	// reports not yet handed to the platform.
	recoveryKeyPrefix = "buffer.recovery/"
	// salvageTxBytes bounds one transaction of the salvage copy.
	salvageTxBytes = 8 << 20
	// recoverMinInterval: a second damage found sooner than this after a
	// recovery is returned as an error instead of moving another file aside,
	// so that a failing disk or a bug cannot make the buffer rewrite itself
	// in a loop.
	recoverMinInterval = time.Minute
)

// Recovery reports one buffer file that was moved aside because it was
// damaged, and what was salvaged from it into the fresh file. The buffer
// stores it durably in the fresh file until the caller reports it to the
// platform and deletes it (PutWithMeta with Key and a nil value, in the same
// transaction as the report record).
type Recovery struct {
	// Key is the meta key under which the report is stored.
	Key string `json:"-"`
	// Time is when the damage was found.
	Time time.Time `json:"time"`
	// Reason is one of the Recovery* constants.
	Reason string `json:"reason"`
	// Detail is the error that revealed the damage.
	Detail string `json:"detail"`
	// MovedTo is the path of the damaged file, kept for analysis.
	MovedTo string `json:"moved_to"`
	// Salvaged counts the queued records copied into the fresh file.
	Salvaged uint64 `json:"salvaged"`
	// Lost counts the queued records that could not be salvaged; they are
	// counted as dropped with reason "corrupt". When LostKnown is false the
	// damaged file's counters were unreadable and Lost counts only the
	// records found damaged.
	Lost      uint64 `json:"lost"`
	LostKnown bool   `json:"lost_known"`
	// CountersReset is true when the counters could not be read from the
	// damaged file and restart from the salvaged records.
	CountersReset bool `json:"counters_reset"`
	// DamagedPages counts the pages that failed a check.
	DamagedPages int `json:"damaged_pages"`
	// MetaSalvaged counts the caller meta entries (checkpoints) copied.
	MetaSalvaged int `json:"meta_salvaged"`
	// PossibleDuplicates is true when records were recovered from pages the
	// freelist could not rule out as stale: some may have been delivered
	// before and come again (the platform drops them by record id).
	PossibleDuplicates bool `json:"possible_duplicates"`
}

// finishSwap completes a salvage interrupted between moving the damaged file
// aside and renaming the salvaged copy into place, and deletes a salvaged
// copy left by a crash before that point (the damaged file is still in place
// and is salvaged again).
func (b *Buffer) finishSwap() error {
	tmp := b.path + salvageSuffix
	if _, err := os.Stat(tmp); err != nil {
		return nil
	}
	if _, err := os.Stat(b.path); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(tmp, b.path); err != nil {
			return fmt.Errorf("finish interrupted salvage: %w", err)
		}
		_ = syncDir(filepath.Dir(b.path))
		b.log.Warn("buffer: finished a salvage interrupted by a crash", "path", b.path)
		return nil
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("remove stale salvage file: %w", err)
	}
	return nil
}

// salvageAndSwap moves the damaged file at b.path aside and puts in its place
// a fresh file holding every record, counter and meta entry that could still
// be read, plus a Recovery report. The fresh file is built and synced under
// a temporary name first, so a crash at any point leaves either the damaged
// file (salvaged again at the next Open) or the complete fresh one.
func (b *Buffer) salvageAndSwap(cause error) (Recovery, error) {
	now := time.Now().UTC()
	rep := Recovery{
		Key:     fmt.Sprintf("%s%020d", recoveryKeyPrefix, now.UnixNano()),
		Time:    now,
		Reason:  corruptReason(cause),
		Detail:  firstLine(cause),
		MovedTo: b.path + corruptSuffix + now.Format("20060102T150405.000000000Z"),
	}
	for i := 2; ; i++ { // never replace an earlier damaged file
		if _, err := os.Lstat(rep.MovedTo); errors.Is(err, os.ErrNotExist) {
			break
		}
		rep.MovedTo = fmt.Sprintf("%s%s%s-%d", b.path, corruptSuffix, now.Format("20060102T150405.000000000Z"), i)
	}
	tmp := b.path + salvageSuffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, fmt.Errorf("salvage: %w", err)
	}
	if err := b.buildSalvaged(tmp, &rep); err != nil {
		_ = os.Remove(tmp)
		return rep, fmt.Errorf("salvage into %q: %w", tmp, err)
	}
	if err := os.Rename(b.path, rep.MovedTo); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = os.Remove(tmp)
		return rep, fmt.Errorf("move damaged file aside: %w", err)
	}
	_ = syncDir(filepath.Dir(b.path))
	if err := os.Rename(tmp, b.path); err != nil {
		return rep, fmt.Errorf("put salvaged file in place: %w", err)
	}
	_ = syncDir(filepath.Dir(b.path))
	b.log.Error("buffer file damaged: moved aside and salvaged into a fresh file",
		"path", b.path, "moved_to", rep.MovedTo, "reason", rep.Reason, "salvaged", rep.Salvaged,
		"lost", rep.Lost, "lost_known", rep.LostKnown, "damaged_pages", rep.DamagedPages,
		"meta_salvaged", rep.MetaSalvaged, "counters_reset", rep.CountersReset, "err", cause)
	return rep, nil
}

// buildSalvaged creates the fresh file at tmp from what b.path still holds.
func (b *Buffer) buildSalvaged(tmp string, rep *Recovery) error {
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	db.AllocSize = allocSize
	err = guard("salvage", func() error {
		if err := initFile(db); err != nil {
			return err
		}
		return salvageInto(db, b.path, rep)
	})
	if err == nil {
		err = db.Sync()
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// scanResult is what scanFile learnt about a file besides its records.
type scanResult struct {
	counters *counters // nil when unreadable or inconsistent
	drops    map[string]uint64
	qSeq     uint64 // the queue bucket's sequence
	damaged  int    // pages that failed a check
	bad      uint64 // queue values that did not parse or failed their checksum
	// possibleDup: records were taken from pages that the (unreadable)
	// freelist could not rule out as stale.
	possibleDup bool
}

// scanFile reads the file at path without bbolt, trusting nothing it has
// not checked, and calls rec for every queue record it can read and verify
// (in key order, then those found under damaged branch pages) and meta for
// every caller meta entry whose checksum holds. rec and meta must copy what
// they keep. It fails only when the file has no valid meta page.
func scanFile(path string, rec func(seq uint64, v []byte, r *record), meta func(k, v []byte)) (scanResult, error) {
	res := scanResult{drops: map[string]uint64{}}
	s, err := openScan(path)
	if err != nil {
		return res, err
	}
	defer s.close()
	roots := s.buckets()
	if m, ok := roots[string(bucketMeta)]; ok {
		var c counters
		seen := 0
		s.walkBucket(m, func(flags uint32, k, v []byte) {
			if flags&leafFlagBucket != 0 || len(v) != 8 {
				return
			}
			switch {
			case bytes.HasPrefix(k, metaDropPfx):
				res.drops[string(k[len(metaDropPfx):])] += u64(v)
			case bytes.Equal(k, metaAccepted):
				c.accepted, seen = u64(v), seen+1
			case bytes.Equal(k, metaDelivered):
				c.delivered, seen = u64(v), seen+1
			case bytes.Equal(k, metaCoalesced):
				c.coalesced, seen = u64(v), seen+1
			case bytes.Equal(k, metaQueued):
				c.queued, seen = u64(v), seen+1
			}
		})
		if seen == 4 && c.consistent(res.drops) {
			res.counters = &c
		}
	}
	if c, ok := roots[string(bucketUser)]; ok && meta != nil {
		s.walkBucket(c, func(flags uint32, k, v []byte) {
			if flags&leafFlagBucket == 0 {
				if _, err := decodeMeta(k, v); err == nil {
					meta(k, v)
				}
			}
		})
	}
	take := func(verifiedOnly bool) func(flags uint32, k, v []byte) {
		return func(flags uint32, k, v []byte) {
			if flags&leafFlagBucket != 0 || len(k) != seqKeyLen {
				return
			}
			var r record
			if err := decodeRecord(u64(k), v, &r); err != nil || (verifiedOnly && r.hdr != headerLen) {
				if !verifiedOnly {
					res.bad++
				}
				return
			}
			rec(u64(k), v, &r)
		}
	}
	if q, ok := roots[string(bucketQueue)]; ok {
		if len(q) >= bucketHeaderSize {
			res.qSeq = ne.Uint64(q[8:])
		}
		s.walkBucket(q, take(false))
	} else {
		s.lost = true
	}
	if s.lost {
		// A damaged branch page hides whole subtrees: look for their
		// leaves among the pages no walk reached, and take only records
		// whose checksum proves them.
		res.possibleDup = s.free == nil
		s.scanLeaves(take(true))
	}
	res.damaged = s.damaged
	return res, nil
}

// salvageInto copies what can be read from the file at path into db (a fresh
// buffer file) and stores rep, filled in, in db's caller meta.
func salvageInto(db *bolt.DB, path string, rep *Recovery) error {
	w := salvageWriter{db: db}
	res, scanErr := scanFile(path, w.add, func(k, v []byte) {
		w.meta = append(w.meta, kv{bytes.Clone(k), bytes.Clone(v)})
	})
	if err := w.flush(); err != nil {
		return err
	}
	rep.Salvaged, rep.MetaSalvaged = w.records, len(w.meta)
	rep.DamagedPages, rep.PossibleDuplicates = res.damaged, res.possibleDup
	if scanErr != nil {
		rep.Detail += "; nothing salvaged: " + scanErr.Error()
	}
	c, drops := counters{}, res.drops
	switch old := res.counters; {
	case old != nil && old.queued >= w.records:
		c = *old
		rep.Lost, rep.LostKnown = old.queued-w.records, true
		drops[ReasonCorrupt] += rep.Lost
	case old != nil:
		// More records than the counters said: stale ones came back.
		c = *old
		c.accepted += w.records - old.queued
		rep.LostKnown = true
	default:
		rep.CountersReset, rep.Lost = true, res.bad
		clear(drops)
		c.accepted = w.records + res.bad
		if res.bad > 0 {
			drops[ReasonCorrupt] = res.bad
		}
	}
	c.queued, c.bytes = w.records, w.bytes
	repJSON, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		t := &txn{meta: tx.Bucket(bucketMeta), c: c, drops: drops}
		if err := t.flush(); err != nil {
			return err
		}
		if err := tx.Bucket(bucketQueue).SetSequence(max(res.qSeq, w.maxSeq)); err != nil {
			return err
		}
		user := tx.Bucket(bucketUser)
		for _, e := range w.meta {
			if err := user.Put(e.k, e.v); err != nil {
				return err
			}
		}
		return user.Put([]byte(rep.Key), encodeMeta(rep.Key, repJSON))
	})
}

// consistent reports whether counters read from a damaged file can be
// trusted: the removed records cannot outnumber the accepted ones.
func (c counters) consistent(drops map[string]uint64) bool {
	out := c.delivered + c.coalesced + c.queued
	for _, n := range drops {
		out += n
	}
	return out == c.accepted
}

type kv struct{ k, v []byte }

// salvageWriter copies salvaged queue entries into the fresh file in
// transactions of at most salvageTxBytes, rebuilding the indexes.
type salvageWriter struct {
	db      *bolt.DB
	pending []kv
	size    int
	meta    []kv
	records uint64
	bytes   int64
	maxSeq  uint64
	err     error
}

func (w *salvageWriter) add(seq uint64, v []byte, _ *record) {
	if w.err != nil {
		return
	}
	w.pending = append(w.pending, kv{seqKey(seq), bytes.Clone(v)})
	w.size += len(v)
	if w.size >= salvageTxBytes {
		w.err = w.flush()
	}
}

func (w *salvageWriter) flush() error {
	if w.err != nil || len(w.pending) == 0 {
		return w.err
	}
	err := w.db.Update(func(tx *bolt.Tx) error {
		q, prio, index := tx.Bucket(bucketQueue), tx.Bucket(bucketPrio), tx.Bucket(bucketIndex)
		for _, e := range w.pending {
			if q.Get(e.k) != nil {
				continue // found twice (a page reached by the walk and the scan)
			}
			seq := u64(e.k)
			var r record
			_ = decodeRecord(seq, e.v, &r) // checked in add
			if err := q.Put(e.k, e.v); err != nil {
				return err
			}
			if err := prio.Put(prioKey(r.prio, seq), nil); err != nil {
				return err
			}
			if len(r.key) > 0 {
				ik := indexKey(r.stream, r.key)
				if cur := index.Get(ik); cur == nil || u64(cur) < seq {
					if err := index.Put(ik, e.k); err != nil {
						return err
					}
				}
			}
			w.records++
			w.bytes += r.size()
			w.maxSeq = max(w.maxSeq, seq)
		}
		return nil
	})
	w.pending, w.size = w.pending[:0], 0
	return err
}

// Recoveries returns the reports of files moved aside that the caller has
// not yet deleted, oldest first. Reports survive restarts.
func (b *Buffer) Recoveries(ctx context.Context) ([]Recovery, error) {
	var out []Recovery
	err := b.view(ctx, "read recoveries", func(tx *bolt.Tx) error {
		out = out[:0]
		c := tx.Bucket(bucketUser).Cursor()
		pfx := []byte(recoveryKeyPrefix)
		for k, v := c.Seek(pfx); k != nil && bytes.HasPrefix(k, pfx); k, v = c.Next() {
			var r Recovery
			data, err := decodeMeta(k, v)
			if err == nil {
				err = json.Unmarshal(data, &r)
			}
			if err != nil {
				// A damaged report still says that a file was moved aside.
				r = Recovery{Reason: RecoveryDamaged, MovedTo: "(unknown)", Detail: "recovery report unreadable: " + err.Error()}
			}
			r.Key = string(k)
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// recover replaces the damaged file: it closes the bbolt handle that met the
// damage (never used again: a panic inside a write transaction can leave
// bbolt's lock held), salvages the file into a fresh one and reopens. Within
// recoverMinInterval of the previous recovery it only reopens the file and
// returns cause. It runs on the writer goroutine.
func (w *writer) recover(cause error) error {
	if err := w.swapDamaged(cause); err != nil {
		return err
	}
	w.loadCounts()
	select {
	case w.b.recovered <- struct{}{}:
	default:
	}
	return nil
}

func (w *writer) swapDamaged(cause error) error {
	b := w.b
	b.dbmu.Lock()
	defer b.dbmu.Unlock()
	closeDamaged(b.db, b.log)
	b.db = nil
	b.gen++
	var rerr error
	if since := time.Since(w.lastRecover); !w.lastRecover.IsZero() && since < recoverMinInterval {
		rerr = fmt.Errorf("%w (a damaged file was moved aside %s ago: reopened, not moved aside again yet)", cause, since.Round(time.Second))
	} else {
		w.lastRecover = time.Now()
		if _, err := b.salvageAndSwap(cause); err != nil {
			rerr = fmt.Errorf("recover damaged buffer: %w (after %w)", err, cause)
		}
	}
	db, err := b.openChecked()
	if err != nil {
		b.unavail = fmt.Errorf("buffer %q unavailable: %w", b.path, errors.Join(rerr, err))
		b.log.Error("buffer unavailable after damage; retrying every minute", "path", b.path, "err", b.unavail)
		return b.unavail
	}
	b.db, b.unavail = db, nil
	if rerr != nil {
		b.log.Error("buffer damaged", "path", b.path, "err", rerr)
	}
	return rerr
}

// closeDamaged closes a bbolt handle that met damage. bbolt may still hold
// its writer lock after a panic inside a write transaction, which would make
// Close wait forever; after 5 s the handle is abandoned (one file descriptor
// and mapping leak, logged).
func closeDamaged(db *bolt.DB, log *slog.Logger) {
	if db == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = guard("close damaged file", db.Close)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		log.Warn("buffer: the damaged file's handle did not close; abandoning it")
	}
}

// Recovered returns a channel that receives a value (non-blocking send,
// capacity 1) after the buffer moved a damaged file aside while running;
// Recoveries then lists the new report. It is never closed.
func (b *Buffer) Recovered() <-chan struct{} { return b.recovered }
