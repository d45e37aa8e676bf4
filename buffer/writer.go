package buffer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

type opKind uint8

const (
	opPut opKind = iota
	opAck
	opDrop
	opCompact
	opRecover
)

const (
	statePending int32 = iota
	stateTaken
	stateCancelled
)

// Group-commit limits: the writer stops collecting requests for one
// transaction once either is reached.
const (
	batchMaxItems = 16384
	batchMaxBytes = 32 << 20
	// batchLinger bounds how long the writer waits for more concurrent
	// requests before committing; well below one fsync.
	batchLinger = 500 * time.Microsecond
)

// request is one write handed to the writer goroutine.
type request struct {
	kind   opKind
	items  []Item
	meta   map[string][]byte
	seqs   []uint64
	reason string
	bytes  int
	// skip marks items that a full disk had no room for: they are counted
	// as accepted and dropped ("disk_full") instead of stored.
	skip []bool
	// gen and cause: opRecover, from a reader that met damage in file
	// generation gen.
	gen   uint64
	cause error
	state atomic.Int32
	done  chan error
}

// Put stores items durably. It returns nil only after the bbolt transaction
// holding them has committed and been fsynced; concurrent Puts share one
// transaction. Items are copied; Put keeps no reference to them. If ctx is done
// before the writer takes the request, Put returns the context's error and
// accepts nothing; once taken, Put waits for the commit (bounded by disk I/O).
// An item larger than the effective MaxBytes, or larger than 64 MiB, makes the
// whole call fail with ErrTooLarge and accepts nothing. Records may be dropped
// right after acceptance to honour the caps or to make room on a full disk;
// those drops are counted.
func (b *Buffer) Put(ctx context.Context, items ...Item) error {
	return b.PutWithMeta(ctx, nil, items...)
}

// PutWithMeta is Put that also stores caller meta in the same transaction:
// each key is set to its value, or deleted when the value is nil. After a
// crash either the items and the meta are both there or neither is, so a
// collector can keep its progress (a checkpoint) with the records that
// progress produced. Keys are 1 to 1024 bytes, values at most 1 MiB; Meta
// reads them back. Meta entries are not subject to the caps.
func (b *Buffer) PutWithMeta(ctx context.Context, meta map[string][]byte, items ...Item) error {
	if len(items) == 0 && len(meta) == 0 {
		return nil
	}
	n := 0
	for i := range items {
		it := &items[i]
		if len(it.Stream)+len(it.Key) > maxLabelLen {
			return fmt.Errorf("put records: %w: stream and key are %d bytes, limit %d", ErrInvalidItem, len(it.Stream)+len(it.Key), maxLabelLen)
		}
		if len(it.Data) > maxRecordData {
			return fmt.Errorf("put records: %w: %d bytes of data, limit %d", ErrTooLarge, len(it.Data), maxRecordData)
		}
		if sz := it.Size(); b.maxBytes > 0 && sz > b.maxBytes {
			return fmt.Errorf("put records: %w: %d bytes, max bytes %d", ErrTooLarge, sz, b.maxBytes)
		}
		n += len(it.Data)
	}
	for k, v := range meta {
		if k == "" || len(k) > maxMetaKey || len(v) > maxMetaValue {
			return fmt.Errorf("put meta: %w: key of %d bytes (1 to %d) with a value of %d bytes (at most %d)",
				ErrInvalidItem, len(k), maxMetaKey, len(v), maxMetaValue)
		}
		n += len(v)
	}
	// The writer encodes items inside the transaction, so it reads the
	// caller's slices only while Put is blocked: no copy is needed here.
	return b.submit(ctx, &request{kind: opPut, items: items, meta: meta, bytes: n})
}

// Ack deletes the entries with the given sequence numbers after they were
// delivered, and counts them as delivered. Sequences that are not queued
// (already acked, coalesced or dropped) are ignored, so Ack is idempotent. It
// returns after the deletion committed.
func (b *Buffer) Ack(ctx context.Context, seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return b.submit(ctx, &request{kind: opAck, seqs: seqs})
}

// Drop deletes the entries with the given sequence numbers without delivering
// them (poison records the platform rejects) and counts them under reason,
// which must be non-empty and at most 64 bytes. Missing sequences are ignored.
func (b *Buffer) Drop(ctx context.Context, reason string, seqs ...uint64) error {
	if reason == "" || len(reason) > 64 {
		return fmt.Errorf("drop records: %w: reason %q must be 1 to 64 bytes", ErrInvalidItem, reason)
	}
	if len(seqs) == 0 {
		return nil
	}
	return b.submit(ctx, &request{kind: opDrop, seqs: seqs, reason: reason})
}

// Compact rewrites the file into a fresh one holding only the live data and
// swaps it in, whatever the thresholds. Writes wait while it runs; readers
// wait only for the swap.
func (b *Buffer) Compact(ctx context.Context) error {
	return b.submit(ctx, &request{kind: opCompact})
}

func (b *Buffer) submit(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.inflight.Add(1)
	b.mu.Unlock()
	defer b.inflight.Done()

	r.done = make(chan error, 1)
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(statePending, stateCancelled) {
			return ctx.Err()
		}
		return <-r.done
	}
}

// run is the writer goroutine: it owns every write transaction.
func (b *Buffer) run() {
	defer close(b.done)
	ticker := time.NewTicker(b.tick)
	defer ticker.Stop()
	w := writer{b: b}
	// Start from the stored counters: maybeCompact compares them with the
	// file size, and zero live bytes would compact a full file at the first
	// tick after a restart.
	w.loadCounts()
	var batch []*request
	for {
		batch = batch[:0]
		select {
		case <-b.stop:
			return
		case r := <-b.reqs:
			batch = append(batch, r)
			batch = b.collect(batch, w.lastBatch)
			w.lastBatch = len(batch)
			w.process(batch)
		case <-ticker.C:
			w.maintain()
		case <-b.nudge:
			w.maintain()
		}
	}
}

// collect appends requests that are already waiting, up to the group-commit
// limits. When the previous transaction carried several requests (concurrent
// callers), it lingers up to batchLinger for as many as last time: callers
// answered by the previous commit are usually about to submit again, and one
// fsync for all of them beats one for the first and one for the rest.
func (b *Buffer) collect(batch []*request, last int) []*request {
	items, size := len(batch[0].items), batch[0].bytes
	var linger <-chan time.Time
	if last > 1 {
		t := time.NewTimer(batchLinger)
		defer t.Stop()
		linger = t.C
	}
	for items < batchMaxItems && size < batchMaxBytes {
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
			items += len(r.items)
			size += r.bytes
			continue
		default:
		}
		if linger == nil || len(batch) >= last {
			return batch
		}
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
			items += len(r.items)
			size += r.bytes
		case <-linger:
			return batch
		case <-b.stop:
			return batch
		}
	}
	return batch
}

// writer is the state owned by the writer goroutine.
type writer struct {
	b           *Buffer
	lastCounts  counters
	lastDropLog time.Time
	pendingLog  map[string]uint64
	noCompact   time.Time // no automatic compaction before this
	lastBatch   int       // requests in the previous transaction
	lastRecover time.Time // the last time a damaged file was moved aside
	diskFull    diskFullEpisode
	reserved    int64  // bytes of the file known to have disk blocks
	reservedGen uint64 // file generation that reserved refers to
	trimDebt    int64  // record bytes stored or removed since trimMapping
}

// reserveTail allocates disk blocks for the tail bbolt added to its file,
// and reports whether the whole file has them. bbolt grows its file with
// ftruncate, which leaves the new tail sparse, and then writes its pages
// anywhere in the file: a page in a hole fails with ENOSPC on a full file
// system, and since bbolt reuses the pages it freed first, every later
// transaction may land there again, even one that only deletes records
// (bbolt copies on write). With the tail allocated, such a transaction
// succeeds on a full file system, so the buffer can drop records to make
// room. The tail is allocated in steps, keeping what each step got; what is
// missing (the disk was full when bbolt grew the file, even in a
// transaction that then failed) is tried again after every commit and
// whenever space is freed (the reserve file). It uses its own descriptor:
// bbolt's flock belongs to bbolt's, and closing this one does not release
// it.
func (w *writer) reserveTail() bool {
	b := w.b
	if w.reservedGen != b.gen {
		w.reserved, w.reservedGen = 0, b.gen
	}
	size := fileSize(b.path)
	if size <= w.reserved {
		return true
	}
	f, err := os.OpenFile(b.path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	for w.reserved < size {
		end := min(w.reserved+reserveStep, size)
		if preallocate(f, w.reserved, end) != nil {
			return false
		}
		w.reserved = end
	}
	return true
}

// reserveStep is the size of one disk allocation of reserveTail.
const reserveStep = 64 << 10

// trimEvery is how many record bytes are stored or removed between two
// trimMapping calls: about the file-backed memory a drain or a fill may add
// to the resident set between them.
const trimEvery = 8 << 20

// touched estimates the record bytes stored or removed between two counter
// snapshots: the records accepted, delivered or coalesced, at the average
// size of the queued records before or after.
func touched(before, after counters) int64 {
	grew := func(a, b uint64) uint64 { return a - min(a, b) } // counters restart with a salvaged file
	n := grew(after.accepted, before.accepted) + grew(after.delivered, before.delivered) + grew(after.coalesced, before.coalesced)
	avg := int64(1024)
	for _, c := range []counters{after, before} {
		if c.queued > 0 {
			avg = max(c.bytes/int64(c.queued), 1)
		}
	}
	return int64(n) * avg
}

// loadCounts reads the stored counters into w.lastCounts.
func (w *writer) loadCounts() {
	if w.b.db == nil {
		return
	}
	err := guard("read counters", func() error {
		return w.b.db.View(func(tx *bolt.Tx) error {
			if meta := tx.Bucket(bucketMeta); meta != nil {
				w.lastCounts = loadCounters(meta)
			}
			return nil
		})
	})
	if errors.Is(err, ErrCorrupt) {
		_ = w.recover(err)
	}
}

func (w *writer) process(batch []*request) {
	live := batch[:0:0]
	var compacts []*request
	for _, r := range batch {
		if !r.state.CompareAndSwap(statePending, stateTaken) {
			continue // cancelled while queued: Put already returned
		}
		switch r.kind {
		case opCompact:
			compacts = append(compacts, r)
		case opRecover:
			// A reader met damage. Recover once per damaged file: later
			// reports of the same generation find it replaced already.
			var err error
			if r.gen == w.b.gen {
				err = w.recover(r.cause)
			}
			r.done <- err
		default:
			live = append(live, r)
		}
	}
	var errs []error
	if len(live) > 0 {
		errs = w.commit(live)
	}
	// Compaction runs before the replies, so that an Ack that drained the
	// queue returns with the file already shrunk.
	if len(compacts) > 0 {
		err := w.compact()
		for _, r := range compacts {
			r.done <- err
		}
	} else if len(live) > 0 && !w.draining(live) {
		w.maybeCompact()
	}
	puts := 0
	for i, r := range live {
		if errs[i] == nil && r.kind == opPut && len(r.items) > 0 {
			puts++
		}
	}
	if puts > 0 {
		select {
		case w.b.ready <- struct{}{}:
		default:
		}
	}
	for i, r := range live {
		r.done <- errs[i]
	}
}

// drainCompactBytes is the live size up to which a compaction is cheap
// enough to run in the middle of a drain.
const drainCompactBytes = 1 << 20

// draining reports whether batch acknowledged records while more than
// drainCompactBytes stay queued: the uplink is draining a backlog, and a
// compaction now would copy records that the next acks delete while those
// acks wait (it halved the drain rate). The last ack of the drain, or the
// timer, compacts instead.
func (w *writer) draining(batch []*request) bool {
	if w.lastCounts.bytes <= drainCompactBytes {
		return false
	}
	for _, r := range batch {
		if r.kind == opAck {
			return true
		}
	}
	return false
}

// commit applies live in one transaction; if that fails, it retries each
// request in its own transaction so that one bad request cannot fail others.
// It returns one error per request.
func (w *writer) commit(live []*request) []error {
	errs := make([]error, len(live))
	err := w.commitOnce(live)
	switch {
	case err == nil:
	case len(live) == 1 || errors.Is(err, ErrCorrupt):
		// Damage is the file's, not one request's.
		for i := range errs {
			errs[i] = err
		}
	default:
		for i := range live {
			errs[i] = w.commitOnce(live[i : i+1])
		}
	}
	return errs
}

// commitOnce applies reqs in one transaction. Damage found on the way is
// recovered by update (the file is salvaged into a fresh one) and the
// transaction retried once; a full disk makes room by priority (onDiskFull).
func (w *writer) commitOnce(reqs []*request) error {
	for _, r := range reqs {
		r.skip = nil
	}
	if w.lowOnPages(reqs) {
		// During a disk-full episode, make room before the file runs out
		// of free pages: on a full file system a transaction that finds
		// none cannot commit, not even one that deletes records.
		return w.onDiskFull(reqs, nil)
	}
	gen := w.b.gen
	err := w.updateReqs(reqs)
	if errors.Is(err, ErrCorrupt) && w.b.gen != gen && w.b.db != nil {
		err = w.updateReqs(reqs) // once more, on the salvaged file
	}
	if isDiskFull(err) {
		return w.onDiskFull(reqs, err)
	}
	if err == nil {
		w.diskFullOver()
	}
	return err
}

func (w *writer) updateReqs(reqs []*request) error {
	return w.update(func(t *txn) error {
		for _, r := range reqs {
			if err := t.apply(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// maintain expires old records and compacts when due; it runs on the timer
// and when Next saw expired entries. When the file is unavailable after a
// failed recovery, it tries again.
func (w *writer) maintain() {
	if w.b.db == nil {
		if w.b.unavail != nil && time.Since(w.lastRecover) >= recoverMinInterval {
			_ = w.recover(w.b.unavail)
		}
		return
	}
	if w.b.opts.MaxAge > 0 {
		expired, err := w.oldestExpired()
		switch {
		case errors.Is(err, ErrCorrupt):
			_ = w.recover(err)
		case expired:
			// update recovers a damaged file itself.
			if err := w.update(func(*txn) error { return nil }); err != nil && !errors.Is(err, ErrCorrupt) {
				w.b.log.Error("buffer expiry failed", "path", w.b.path, "err", err)
			}
		}
	}
	w.maybeCompact()
}

// oldestExpired reports whether the oldest queued record is past MaxAge, so
// that an idle timer tick costs a read transaction, not an fsync.
func (w *writer) oldestExpired() (bool, error) {
	cutoff := w.b.now().UnixNano() - int64(w.b.opts.MaxAge)
	var expired bool
	err := guard("read oldest record", func() error {
		return w.b.db.View(func(tx *bolt.Tx) error {
			q := tx.Bucket(bucketQueue)
			if q == nil {
				return corrupt(RecoveryDamaged, "queue bucket missing")
			}
			if k, v := q.Cursor().First(); v != nil {
				var r record
				expired = decodeRecord(u64(k), v, &r) != nil || r.accept < cutoff
			}
			return nil
		})
	})
	return expired, err
}

// update runs fn in a write transaction that also expires records, enforces
// the caps and persists the counters, all atomically. Counts kept in memory
// while the disk was full are persisted with it.
func (w *writer) update(fn func(*txn) error) error {
	b := w.b
	if b.db == nil {
		return b.dbErr()
	}
	pendAccepted, pendDropped := b.pend.get()
	var t *txn
	err := guard("write", func() error {
		return b.db.Update(func(tx *bolt.Tx) error {
			var err error
			t, err = w.begin(tx)
			if err != nil {
				return err
			}
			if pendAccepted+pendDropped > 0 {
				t.c.accepted += pendAccepted
				t.drop(ReasonDiskFull, pendDropped)
			}
			if err := t.expire(); err != nil {
				return err
			}
			if err := fn(t); err != nil {
				return err
			}
			if err := t.enforceCaps(); err != nil {
				return err
			}
			return t.flush()
		})
	})
	if err != nil {
		err = fmt.Errorf("commit buffer \"%s\": %w", b.path, err)
		if errors.Is(err, ErrCorrupt) {
			// Never use this handle again: after a panic inside a write
			// transaction bbolt may still hold its writer lock. Salvage
			// the file (or, right after a salvage, reopen it).
			if rerr := w.recover(err); rerr != nil {
				return rerr
			}
		}
		return err
	}
	if pendAccepted+pendDropped > 0 {
		b.pend.persisted(pendAccepted, pendDropped)
	}
	w.reserveTail()
	w.trimDebt += touched(w.lastCounts, t.c)
	w.lastCounts = t.c
	if w.trimDebt >= trimEvery {
		w.trimDebt = 0
		trimMapping(b.db, fileSize(b.path))
	}
	w.logDrops(t.drops)
	return nil
}

// logDrops reports cap and age drops at Warn, at most once a minute, with the
// counts accumulated since the previous line.
func (w *writer) logDrops(drops map[string]uint64) {
	for reason, n := range drops {
		if reason == ReasonMaxBytes || reason == ReasonMaxAge || reason == ReasonMaxEntries || reason == ReasonCorrupt || reason == ReasonDiskFull {
			if w.pendingLog == nil {
				w.pendingLog = make(map[string]uint64)
			}
			w.pendingLog[reason] += n
		}
	}
	now := time.Now()
	if len(w.pendingLog) == 0 || now.Sub(w.lastDropLog) < time.Minute {
		return
	}
	args := []any{"path", w.b.path}
	for reason, n := range w.pendingLog {
		args = append(args, reason, n)
	}
	w.b.log.Warn("buffer dropped records", args...)
	w.pendingLog = nil
	w.lastDropLog = now
}

// counters mirrors the persistent counters in the meta bucket.
type counters struct {
	accepted, delivered, coalesced, queued uint64
	bytes                                  int64
}

// txn is one write transaction with the counters loaded.
type txn struct {
	w                          *writer
	q, prio, index, meta, user *bolt.Bucket
	c                          counters
	drops                      map[string]uint64 // deltas in this transaction
	now                        int64
	slab                       []byte // see alloc
}

// slabSize is the allocation unit of txn.alloc.
const slabSize = 64 << 10

func (w *writer) begin(tx *bolt.Tx) (*txn, error) {
	t := &txn{w: w, q: tx.Bucket(bucketQueue), prio: tx.Bucket(bucketPrio), index: tx.Bucket(bucketIndex),
		meta: tx.Bucket(bucketMeta), user: tx.Bucket(bucketUser), now: w.b.now().UnixNano()}
	if t.q == nil || t.prio == nil || t.index == nil || t.meta == nil || t.user == nil {
		return nil, corrupt(RecoveryDamaged, "bucket missing")
	}
	// Queue and priority keys grow with the sequence, so pages split full
	// instead of half full: half the pages to write, half the file.
	t.q.FillPercent, t.prio.FillPercent = 1, 1
	t.c = loadCounters(t.meta)
	return t, nil
}

// drop counts n records dropped for reason in this transaction.
func (t *txn) drop(reason string, n uint64) {
	if t.drops == nil {
		t.drops = make(map[string]uint64)
	}
	t.drops[reason] += n
}

func loadCounters(meta *bolt.Bucket) counters {
	return counters{
		accepted:  u64(meta.Get(metaAccepted)),
		delivered: u64(meta.Get(metaDelivered)),
		coalesced: u64(meta.Get(metaCoalesced)),
		queued:    u64(meta.Get(metaQueued)),
		bytes:     int64(u64(meta.Get(metaBytes))),
	}
}

func (t *txn) flush() error {
	for _, kv := range []struct {
		k []byte
		v uint64
	}{
		{metaAccepted, t.c.accepted}, {metaDelivered, t.c.delivered}, {metaCoalesced, t.c.coalesced},
		{metaQueued, t.c.queued}, {metaBytes, uint64(t.c.bytes)},
	} {
		if err := t.meta.Put(kv.k, putU64(kv.v)); err != nil {
			return err
		}
	}
	for reason, n := range t.drops {
		if n == 0 {
			continue
		}
		k := append(append([]byte(nil), metaDropPfx...), reason...)
		if err := t.meta.Put(k, putU64(u64(t.meta.Get(k))+n)); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) apply(r *request) error {
	switch r.kind {
	case opPut:
		for i := range r.items {
			if r.skip != nil && r.skip[i] {
				t.c.accepted++
				t.drop(ReasonDiskFull, 1)
				continue
			}
			if err := t.put(&r.items[i]); err != nil {
				return err
			}
		}
		for k, v := range r.meta {
			var err error
			if v == nil {
				err = t.user.Delete([]byte(k))
			} else {
				err = t.user.Put([]byte(k), encodeMeta(k, v))
			}
			if err != nil {
				return err
			}
		}
	case opAck:
		return t.remove(r.seqs, "")
	case opDrop:
		return t.remove(r.seqs, r.reason)
	}
	return nil
}

func (t *txn) put(it *Item) error {
	var ik []byte
	if it.Key != "" {
		ik = appendIndexKey(t.alloc(indexKeyLen(len(it.Stream), len(it.Key))), it.Stream, it.Key)
		if old := t.index.Get(ik); old != nil {
			// Replace the older state only if the entry really is it: a
			// damaged index value must not delete another record.
			oseq := u64(old)
			osk := seqKey(oseq)
			var r record
			if v := t.q.Get(osk); v != nil && decodeRecord(oseq, v, &r) == nil &&
				string(r.stream) == it.Stream && string(r.key) == it.Key {
				// The index entry is overwritten below.
				if err := t.deleteEntry(osk, v, &r, nil, reasonCoalesced, false); err != nil {
					return err
				}
			}
		}
	}
	seq, err := t.q.NextSequence()
	if err != nil {
		return err
	}
	itemTime := nanos(it.Time)
	if itemTime == 0 {
		itemTime = t.now
	}
	v := encodeRecord(t.alloc(valueLen(len(it.Stream), len(it.Key), len(it.Data))), seq, it, t.now, itemTime)
	sk := binary.BigEndian.AppendUint64(t.alloc(seqKeyLen), seq)
	if err := t.q.Put(sk, v); err != nil {
		return err
	}
	if err := t.prio.Put(appendPrioKey(t.alloc(prioKeyLen), int64(it.Priority), seq), nil); err != nil {
		return err
	}
	if ik != nil {
		if err := t.index.Put(ik, sk); err != nil {
			return err
		}
	}
	t.c.accepted++
	t.c.queued++
	t.c.bytes += it.Size()
	return nil
}

// alloc returns an empty slice with room for n bytes, carved from the
// transaction's slab: bbolt keeps references to keys and values until the
// commit, and one slab is one allocation for many records.
func (t *txn) alloc(n int) []byte {
	if cap(t.slab)-len(t.slab) < n {
		if n > slabSize/4 {
			return make([]byte, 0, n)
		}
		t.slab = make([]byte, 0, slabSize)
	}
	l := len(t.slab)
	t.slab = t.slab[:l+n]
	return t.slab[l : l : l+n]
}

// Internal pseudo-reasons for deleteSeq.
const (
	reasonDelivered = "\x00delivered"
	reasonCoalesced = "\x00coalesced"
)

func (t *txn) remove(seqs []uint64, reason string) error {
	if reason == "" {
		reason = reasonDelivered
	}
	for _, s := range seqs {
		if err := t.deleteSeq(s, reason); err != nil {
			return err
		}
	}
	return nil
}

// deleteSeq removes entry seq and its index entries and counts it under
// reason; a missing seq is ignored.
func (t *txn) deleteSeq(seq uint64, reason string) error {
	sk := seqKey(seq)
	v := t.q.Get(sk)
	if v == nil {
		return nil
	}
	var r record
	err := decodeRecord(seq, v, &r)
	return t.deleteEntry(sk, v, &r, err, reason, true)
}

// deleteEntry removes the queue entry sk, whose value v decoded into r with
// error derr, with its priority entry and, if index, its state-index entry,
// and counts it under reason (or "corrupt" when derr is not nil).
func (t *txn) deleteEntry(sk, v []byte, r *record, derr error, reason string, index bool) error {
	size := int64(seqKeyLen + len(v))
	if derr == nil || errors.Is(derr, errChecksum) {
		// A record that fails its checksum still parses: its fields find
		// the index entries (only those that point back at sk are removed).
		size = r.size()
		if index && len(r.key) > 0 {
			ik := indexKey(r.stream, r.key)
			if cur := t.index.Get(ik); cur != nil && bytes.Equal(cur, sk) {
				if err := t.index.Delete(ik); err != nil {
					return err
				}
			}
		}
		if err := t.prio.Delete(prioKey(r.prio, u64(sk))); err != nil {
			return err
		}
	}
	if derr != nil {
		reason = ReasonCorrupt
	}
	if err := t.q.Delete(sk); err != nil {
		return err
	}
	t.c.queued--
	t.c.bytes = max(t.c.bytes-size, 0)
	switch reason {
	case reasonDelivered:
		t.c.delivered++
	case reasonCoalesced:
		t.c.coalesced++
	default:
		t.drop(reason, 1)
	}
	return nil
}

// expire drops records accepted more than MaxAge ago, oldest first, stopping
// at the first younger one (acceptance times follow sequence order unless the
// clock stepped back).
func (t *txn) expire() error {
	maxAge := t.w.b.opts.MaxAge
	if maxAge <= 0 {
		return nil
	}
	cutoff := t.now - int64(maxAge)
	c := t.q.Cursor()
	var r record
	for k, v := c.First(); k != nil; k, v = c.First() {
		if err := decodeRecord(u64(k), v, &r); err == nil && r.accept >= cutoff {
			return nil
		}
		if err := t.deleteSeq(u64(k), ReasonMaxAge); err != nil {
			return err
		}
	}
	return nil
}

// enforceCaps drops the lowest-priority, oldest records until the queue fits
// MaxBytes and MaxEntries.
func (t *txn) enforceCaps() error {
	maxBytes, maxEntries := t.w.b.maxBytes, uint64(t.w.b.opts.MaxEntries)
	for {
		var reason string
		switch {
		case maxBytes > 0 && t.c.bytes > maxBytes:
			reason = ReasonMaxBytes
		case maxEntries > 0 && t.c.queued > maxEntries:
			reason = ReasonMaxEntries
		default:
			return nil
		}
		k, _ := t.prio.Cursor().First()
		if k != nil && len(k) != prioKeyLen {
			// Damaged index entry: remove it rather than panic on it (a
			// panic here would recur at every start: a crash loop).
			if err := t.prio.Delete(k); err != nil {
				return err
			}
			continue
		}
		if k == nil {
			// Index empty but counters say otherwise: drop the oldest
			// entry instead so the loop always progresses.
			if err := t.dropOldest(reason); err != nil || t.c.queued == 0 {
				return err
			}
			continue
		}
		seq := u64(k[8:16])
		var r record
		if v := t.q.Get(seqKey(seq)); v == nil || (decodeRecord(seq, v, &r) == nil && prioKeyPrio(k) != r.prio) {
			// Stale or damaged index entry: remove it and go on.
			if err := t.prio.Delete(k); err != nil {
				return err
			}
			continue
		}
		if err := t.deleteSeq(seq, reason); err != nil {
			return err
		}
	}
}

// dropOldest removes the first queue entry, whatever its priority, counted
// under reason (or "corrupt" if it is damaged).
func (t *txn) dropOldest(reason string) error {
	qk, v := t.q.Cursor().First()
	switch {
	case qk == nil:
		t.c.queued, t.c.bytes = 0, 0
		return nil
	case len(qk) != seqKeyLen:
		t.c.queued = max(t.c.queued, 1) - 1
		t.c.bytes = max(t.c.bytes-int64(len(qk)+len(v)), 0)
		t.drop(ReasonCorrupt, 1)
		return t.q.Delete(qk)
	}
	return t.deleteSeq(u64(qk), reason)
}

// prioKeyPrio returns the priority encoded in a priority-index key.
func prioKeyPrio(k []byte) int64 { return int64(u64(k[:8]) ^ (1 << 63)) }

// maybeCompact compacts when the queue has drained below the threshold.
func (w *writer) maybeCompact() {
	b := w.b
	if b.db == nil || b.opts.CompactBelow < 0 || time.Now().Before(w.noCompact) {
		return
	}
	fi, err := os.Stat(b.path)
	if err != nil {
		return
	}
	// The last allocation step is preallocated tail that a compacted file
	// would grow again at once, so it does not count as reclaimable.
	size := fi.Size()
	if size < b.compactMin || float64(w.lastCounts.bytes) >= b.opts.CompactBelow*float64(size-allocSize) {
		return
	}
	if err := w.compact(); err != nil {
		b.log.Error("buffer compaction failed", "path", b.path, "err", err)
		w.noCompact = time.Now().Add(10 * time.Minute)
		return
	}
	if fi, err := os.Stat(b.path); err == nil && fi.Size() > size/2 {
		// Not worth it (the live data is spread thin, or the file
		// re-grew): do not try again soon.
		w.noCompact = time.Now().Add(10 * time.Minute)
	}
}
