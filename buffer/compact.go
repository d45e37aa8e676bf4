package buffer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// compactTxMax bounds each transaction of the copy so that compacting a large
// queue does not hold it all in memory: bbolt keeps a transaction's pages
// and nodes in the heap, about twice its bytes (16 MiB made a compaction at
// the end of the soak's link flaps add 35 MiB to the resident set). The copy
// does not sync, so smaller transactions cost little.
const compactTxMax = 2 << 20

// compact copies the live data into path+".compact" with bbolt.Compact, then
// swaps it in: close, rename over the original, fsync the directory, reopen.
// The writer goroutine calls it, so no write runs meanwhile; readers are
// blocked only during the swap. A crash before the rename leaves the original
// intact (Open deletes the stale copy); a crash after it leaves the complete
// copy.
func (w *writer) compact() error {
	b := w.b
	if b.db == nil {
		return ErrClosed
	}
	tmp := b.path + compactSuffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("compact buffer \"%s\": %w", b.path, err)
	}
	before := fileSize(b.path)
	if err := guard("compact", func() error { return copyTo(tmp, b.db) }); err != nil {
		_ = os.Remove(tmp)
		if errors.Is(err, ErrCorrupt) {
			// The copy met a damaged page: salvage instead, which
			// leaves a compact file too.
			return w.recover(err)
		}
		return fmt.Errorf("compact buffer \"%s\": %w", b.path, err)
	}

	b.dbmu.Lock()
	defer b.dbmu.Unlock()
	if err := b.db.Close(); err != nil {
		b.log.Error("buffer close before compaction swap failed", "path", b.path, "err", err)
	}
	b.db = nil
	renameErr := os.Rename(tmp, b.path)
	if renameErr == nil {
		_ = syncDir(filepath.Dir(b.path))
	} else {
		_ = os.Remove(tmp)
	}
	// Reopen whichever file is now at path; the lock was released by Close,
	// so this does not wait on ourselves.
	b.gen++
	db, err := b.openChecked()
	if err != nil {
		b.unavail = fmt.Errorf("buffer \"%s\" unavailable: reopen after compaction: %w", b.path, err)
		b.log.Error("buffer reopen after compaction failed; retrying every minute", "path", b.path, "err", err)
		return b.unavail
	}
	b.db = db
	if renameErr != nil {
		return fmt.Errorf("compact buffer \"%s\": swap: %w", b.path, renameErr)
	}
	b.log.Info("buffer compacted", "path", b.path, "before_bytes", before, "after_bytes", fileSize(b.path))
	return nil
}

func copyTo(path string, src *bolt.DB) error {
	dst, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	dst.AllocSize = allocSize
	closed := false
	defer func() {
		if !closed { // an error, or a panic on a damaged source page
			_ = dst.Close()
		}
	}()
	if err := bolt.Compact(dst, src, compactTxMax); err != nil {
		return err
	}
	if err := dst.Sync(); err != nil {
		return err
	}
	closed = true
	return dst.Close()
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
