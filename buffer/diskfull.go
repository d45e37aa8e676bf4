package buffer

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// makeRoomRounds bounds the attempts to make room on a full disk; each round
// drops four times the bytes of the previous one.
const makeRoomRounds = 5

// diskFullQuiet is how long commits must succeed without ENOSPC before a
// disk-full episode counts as over.
const diskFullQuiet = time.Minute

// diskFullEpisode tracks one period of ENOSPC, so that it is logged once when
// it starts and once when it ends, not at every commit.
type diskFullEpisode struct {
	since   time.Time // zero when the disk is not full
	last    time.Time // the latest ENOSPC
	dropped uint64
}

// pendingCounts holds records accepted and dropped while the disk was too full
// to write even the counters. The next commit that succeeds persists them;
// Stats includes them meanwhile.
type pendingCounts struct {
	mu       sync.Mutex
	accepted uint64
	dropped  uint64 // all under ReasonDiskFull
}

func (p *pendingCounts) get() (accepted, dropped uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.dropped
}

func (p *pendingCounts) add(accepted, dropped uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accepted += accepted
	p.dropped += dropped
}

// persisted removes counts that a commit has written to the file.
func (p *pendingCounts) persisted(accepted, dropped uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accepted -= accepted
	p.dropped -= dropped
}

// isDiskFull reports whether err means the file system has no room (or the
// user's quota is exhausted). bbolt formats some of its errors with %s, so
// the message is checked too.
func isDiskFull(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, ErrDiskFull) || isDiskFullErrno(err) || strings.Contains(err.Error(), diskFullMessage)
}

// Disk-full tuning.
const (
	// freeReserve is how many bytes of free pages makeRoom leaves inside the
	// file beyond what the records being put need, so that the next
	// transaction can copy its pages (bbolt copies on write: even a delete
	// needs free pages).
	freeReserve = 256 << 10
	// ballastSize is the size of the file kept beside the buffer and
	// deleted when not even a one-record delete fits on the disk.
	ballastSize   = 1 << 20
	ballastSuffix = ".reserve"
	// maxDeleteChunk bounds the records deleted per transaction on a full
	// disk.
	maxDeleteChunk = 1024
)

// onDiskFull handles a commit of reqs that failed with a full disk. Removals
// (Ack, Drop) are applied in small transactions, which a full disk still
// allows because each frees about as many pages as it writes; Puts make room
// by priority (makeRoom). Removals are idempotent, so when this returns an
// error and commit retries each request alone, nothing is counted twice.
func (w *writer) onDiskFull(reqs []*request, err error) error {
	if err == nil {
		err = ErrDiskFull // making room ahead (lowOnPages)
	} else {
		w.diskFullSeen(err)
	}
	var puts []*request
	for _, r := range reqs {
		switch r.kind {
		case opPut:
			puts = append(puts, r)
		default:
			if derr := w.deleteChunked(r.seqs, r.reason); derr != nil {
				return derr
			}
		}
	}
	if len(puts) == 0 {
		return nil
	}
	if len(puts) < len(reqs) {
		if err = w.updateReqs(puts); !isDiskFull(err) {
			return err
		}
	}
	return w.makeRoom(puts, err)
}

// lowOnPages reports whether reqs put records while a disk-full episode
// lasts and the file's free pages would fall below freeReserve: the pages
// that the deletes making room need (bbolt copies on write), which a full
// file system cannot add to the file.
func (w *writer) lowOnPages(reqs []*request) bool {
	if w.diskFull.since.IsZero() || w.b.db == nil {
		return false
	}
	need := int64(0)
	for _, r := range reqs {
		if r.kind == opPut {
			for i := range r.items {
				need += r.items[i].Size()
			}
		}
	}
	return need > 0 && need+freeReserve > int64(w.b.db.Stats().FreeAlloc)
}

// diskFullSeen starts a disk-full episode (logged once) or extends it.
func (w *writer) diskFullSeen(err error) {
	now := w.b.now()
	if w.diskFull.since.IsZero() {
		w.diskFull = diskFullEpisode{since: now}
		w.b.log.Warn("buffer disk full: dropping the lowest-priority, oldest records to make room (counted as disk_full)",
			"path", w.b.path, "err", err)
	}
	w.diskFull.last = now
}

// makeRoom stores puts on a full disk. It drops records in the buffer's
// priority order, the lowest priority first and the oldest first within a
// priority, where the records being put count as the newest of their
// priority: queued ones are deleted (in small transactions) until the file
// has free pages for the records to store plus freeReserve, and records of
// puts that come first in that order are counted as dropped instead of
// stored. Every drop is counted as "disk_full". Each round aims four times
// higher. If nothing makes room, puts without meta are counted in memory as
// accepted and dropped (persisted by the next commit that succeeds) and
// return nil, so that a collector keeps running; puts with meta fail with
// ErrDiskFull.
func (w *writer) makeRoom(puts []*request, err error) error {
	b := w.b
	need := int64(4096)
	for _, r := range puts {
		for i := range r.items {
			need += r.items[i].Size()
		}
	}
	for range makeRoomRounds {
		var victims []uint64
		skipped := 0
		if want := 2*need + freeReserve - int64(b.db.Stats().FreeAlloc); want > 0 {
			var verr error
			if victims, skipped, verr = w.chooseVictims(puts, want); verr != nil {
				return verr
			}
			if derr := w.deleteChunked(victims, ReasonDiskFull); derr != nil {
				if !isDiskFull(derr) {
					return derr
				}
				break // not even a one-record delete fits
			}
			w.diskFull.dropped += uint64(len(victims))
		}
		if err = w.updateReqs(puts); !isDiskFull(err) {
			if err == nil {
				w.diskFull.dropped += uint64(skipped)
			}
			return err
		}
		need *= 4
	}
	n := 0
	for _, r := range puts {
		if len(r.meta) > 0 {
			return fmt.Errorf("commit buffer %q: %w: %w", b.path, ErrDiskFull, err)
		}
		n += len(r.items)
	}
	b.pend.add(uint64(n), uint64(n))
	w.diskFull.dropped += uint64(n)
	return nil
}

// deleteChunked removes seqs (counted under reason; "" means delivered) in
// transactions that start small and grow while they succeed, halving on a
// full disk. When not even one record can be deleted, the ballast file is
// removed to free its space, once.
func (w *writer) deleteChunked(seqs []uint64, reason string) error {
	chunk := 16
	for len(seqs) > 0 {
		n := min(chunk, len(seqs))
		err := w.update(func(t *txn) error { return t.remove(seqs[:n], reason) })
		switch {
		case err == nil:
			seqs = seqs[n:]
			chunk = min(chunk*2, maxDeleteChunk)
		case !isDiskFull(err):
			return err
		case n > 1:
			chunk = n / 2
		case w.fillHoles(): // the tail bbolt added got disk blocks since
		case w.dropBallast():
			w.reserveTail() // the freed space fills the file's holes first
		default:
			return err
		}
	}
	return nil
}

// fillHoles gives disk blocks to what reserveTail could not allocate
// before, and reports whether it allocated any.
func (w *writer) fillHoles() bool {
	before, gen := w.reserved, w.reservedGen
	w.reserveTail()
	return w.reservedGen == gen && w.reserved > before
}

// chooseVictims picks, in drop order, queued records (returned) and records
// of puts (marked in their skip) until their bytes add up to want. Queued
// records are chosen only while some record of puts remains to be stored
// (or when puts has none: a removal needs room).
func (w *writer) chooseVictims(puts []*request, want int64) (victims []uint64, skipped int, err error) {
	type incoming struct {
		skip *bool
		prio int
		size int64
	}
	var ins []incoming
	for _, r := range puts {
		r.skip = make([]bool, len(r.items))
		for i := range r.items {
			ins = append(ins, incoming{&r.skip[i], r.items[i].Priority, r.items[i].Size()})
		}
	}
	anyIncoming := len(ins) > 0
	slices.SortStableFunc(ins, func(a, b incoming) int { return cmp.Compare(a.prio, b.prio) })
	err = guard("choose records to drop", func() error {
		return w.b.db.View(func(tx *bolt.Tx) error {
			q, prio := tx.Bucket(bucketQueue), tx.Bucket(bucketPrio)
			if q == nil || prio == nil {
				return corrupt(RecoveryDamaged, "bucket missing")
			}
			c := prio.Cursor()
			k, _ := c.First()
			for freed := int64(0); freed < want && (len(ins) > 0 || !anyIncoming); {
				for k != nil && len(k) != prioKeyLen {
					k, _ = c.Next()
				}
				if len(ins) > 0 && (k == nil || int64(ins[0].prio) < prioKeyPrio(k)) {
					*ins[0].skip = true
					freed += ins[0].size
					ins = ins[1:]
					skipped++
					continue
				}
				if k == nil {
					return nil
				}
				seq := u64(k[8:])
				if v := q.Get(seqKey(seq)); v != nil {
					victims = append(victims, seq)
					freed += int64(seqKeyLen + len(v) + prioKeyLen)
				}
				k, _ = c.Next()
			}
			return nil
		})
	})
	return victims, skipped, err
}

// diskFullOver ends a disk-full episode once commits have needed no room
// for diskFullQuiet, and puts the ballast file back.
func (w *writer) diskFullOver() {
	now := w.b.now()
	if w.diskFull.since.IsZero() || now.Sub(w.diskFull.last) < diskFullQuiet {
		return
	}
	if !w.b.makeBallast() {
		// No room for the reserve file: the file system is still full,
		// and commits must keep making room ahead (lowOnPages).
		w.diskFull.last = now
		return
	}
	w.b.log.Warn("buffer disk space available again", "path", w.b.path,
		"dropped_disk_full", w.diskFull.dropped, "lasted", w.diskFull.last.Sub(w.diskFull.since).Round(time.Second))
	w.diskFull = diskFullEpisode{}
}

// makeBallast creates the ballast file beside the buffer if it is missing:
// ballastSize bytes of disk that dropBallast gives back on a full disk. It
// reports whether the file is there; errors are otherwise ignored: it is a
// best-effort reserve.
func (b *Buffer) makeBallast() bool {
	path := b.path + ballastSuffix
	if fi, err := os.Stat(path); err == nil && fi.Size() == ballastSize {
		return true
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false
	}
	err = preallocate(f, 0, ballastSize)
	if cerr := f.Close(); err != nil || cerr != nil {
		_ = os.Remove(path)
		return false
	}
	return true
}

// dropBallast removes the ballast file and reports whether it was there.
func (w *writer) dropBallast() bool {
	path := w.b.path + ballastSuffix
	if err := os.Remove(path); err != nil {
		return false
	}
	w.b.log.Warn("buffer disk full: removed the reserve file to make room", "path", path)
	return true
}
