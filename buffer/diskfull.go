package buffer

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// makeRoomRounds bounds the attempts to make room on a full disk; each round
// drops four times the bytes of the previous one.
const makeRoomRounds = 5

// diskFullEpisode tracks one period of ENOSPC, so that it is logged once when
// it starts and once when it ends, not at every commit.
type diskFullEpisode struct {
	since   time.Time // zero when the disk is not full
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

// makeRoom handles a commit of reqs that failed with a full disk. It drops
// records in the buffer's priority order, the lowest priority first and the
// oldest first within a priority, where the records being put count as the
// newest of their priority, until the bytes dropped cover the bytes to store;
// the queued ones go in one transaction (which reuses pages the file already
// has), then reqs is committed again with its chosen records counted as
// dropped instead of stored. Every drop is counted as "disk_full". Each round
// drops four times more. If nothing makes room, Puts without meta are counted
// in memory as accepted and dropped (persisted by the next commit that
// succeeds) and return nil, so that a collector keeps running; other requests
// fail with ErrDiskFull.
func (w *writer) makeRoom(reqs []*request, err error) error {
	b := w.b
	if w.diskFull.since.IsZero() {
		w.diskFull = diskFullEpisode{since: time.Now()}
		b.log.Warn("buffer disk full: dropping the lowest-priority, oldest records to make room (counted as disk_full)",
			"path", b.path, "err", err)
	}
	need := int64(4096)
	for _, r := range reqs {
		for i := range r.items {
			need += r.items[i].Size()
		}
	}
	for range makeRoomRounds {
		victims, skipped, verr := w.chooseVictims(reqs, need)
		if verr != nil {
			return verr
		}
		if len(victims) > 0 {
			derr := w.update(func(t *txn) error {
				for _, seq := range victims {
					if err := t.deleteSeq(seq, ReasonDiskFull); err != nil {
						return err
					}
				}
				return nil
			})
			if derr != nil {
				if !isDiskFull(derr) {
					return derr
				}
				break // not even a delete fits
			}
		}
		err = w.updateReqs(reqs)
		if !isDiskFull(err) {
			if err == nil {
				w.diskFull.dropped += uint64(len(victims) + skipped)
			}
			return err
		}
		w.diskFull.dropped += uint64(len(victims))
		need *= 4
	}
	n := 0
	for _, r := range reqs {
		if r.kind != opPut || len(r.meta) > 0 {
			return fmt.Errorf("commit buffer %q: %w: %w", b.path, ErrDiskFull, err)
		}
		n += len(r.items)
	}
	b.pend.add(uint64(n), uint64(n))
	w.diskFull.dropped += uint64(n)
	return nil
}

// chooseVictims picks, in drop order, queued records (returned) and records
// of reqs (marked in their skip) whose bytes add up to need.
func (w *writer) chooseVictims(reqs []*request, need int64) (victims []uint64, skipped int, err error) {
	type incoming struct {
		skip *bool
		prio int
		size int64
	}
	var ins []incoming
	for _, r := range reqs {
		if r.kind != opPut || len(r.items) == 0 {
			continue
		}
		r.skip = make([]bool, len(r.items))
		for i := range r.items {
			ins = append(ins, incoming{&r.skip[i], r.items[i].Priority, r.items[i].Size()})
		}
	}
	slices.SortStableFunc(ins, func(a, b incoming) int { return cmp.Compare(a.prio, b.prio) })
	err = guard("choose records to drop", func() error {
		return w.b.db.View(func(tx *bolt.Tx) error {
			q, prio := tx.Bucket(bucketQueue), tx.Bucket(bucketPrio)
			if q == nil || prio == nil {
				return corrupt(RecoveryDamaged, "bucket missing")
			}
			c := prio.Cursor()
			k, _ := c.First()
			for freed := int64(0); freed < need; {
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

// diskFullOver ends a disk-full episode after a commit that needed no room.
func (w *writer) diskFullOver() {
	if w.diskFull.since.IsZero() {
		return
	}
	w.b.log.Warn("buffer disk space available again", "path", w.b.path,
		"dropped_disk_full", w.diskFull.dropped, "lasted", time.Since(w.diskFull.since).Round(time.Second))
	w.diskFull = diskFullEpisode{}
}
