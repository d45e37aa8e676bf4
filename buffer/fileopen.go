package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const (
	compactSuffix = ".compact"
	corruptSuffix = ".corrupt-"
	// allocSize is bbolt's file growth step once the mapping exceeds it; the
	// bbolt default (16 MiB) would make every non-trivial file at least 16 MiB
	// and defeat compaction of small queues.
	allocSize = 1 << 20
)

// openRecovering opens b.path, moving a corrupt file aside once.
func (b *Buffer) openRecovering() (*bolt.DB, error) {
	db, err := b.openChecked()
	if err == nil {
		return db, nil
	}
	if !errors.Is(err, ErrCorrupt) {
		return nil, err
	}
	aside := b.path + corruptSuffix + b.now().UTC().Format("20060102T150405.000000000Z")
	if rerr := os.Rename(b.path, aside); rerr != nil {
		return nil, fmt.Errorf("move corrupt file aside: %w (after %w)", rerr, err)
	}
	_ = syncDir(filepath.Dir(b.path))
	b.log.Error("buffer file corrupt: moved aside, starting a fresh buffer; queued records in it are not delivered",
		"path", b.path, "moved_to", aside, "err", err)
	db, err = b.openChecked()
	if err != nil {
		return nil, fmt.Errorf("open fresh file after moving corrupt one to %q: %w", aside, err)
	}
	return db, nil
}

// openChecked opens the file with bbolt and checks it is a buffer. Errors
// that mean "this file is damaged" wrap ErrCorrupt; lock timeouts wrap
// ErrLocked; anything else (permissions, disk full) is returned as is.
func (b *Buffer) openChecked() (db *bolt.DB, err error) {
	if err := precheck(b.path); err != nil {
		return nil, err
	}
	// bbolt reads the file through a memory mapping: a page past the end of
	// a damaged file raises SIGBUS, which SetPanicOnFault turns into a panic
	// we can recover from instead of a crash loop.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				_ = db.Close()
			}
			db, err = nil, fmt.Errorf("%w: panic while opening: %v", ErrCorrupt, r)
		}
	}()
	db, err = bolt.Open(b.path, 0o600, &bolt.Options{
		Timeout:         b.opts.Timeout,
		InitialMmapSize: b.mmapSize,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  false,
	})
	if err != nil {
		return nil, classifyOpenErr(err, b.opts.Timeout)
	}
	db.AllocSize = allocSize
	if err := initFile(db); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

func classifyOpenErr(err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w: lock not acquired in %s", ErrLocked, timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// initFile creates the buckets of a fresh file and checks those of an
// existing one.
func initFile(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			// Fresh file, or one from something else: it must hold no
			// other buckets.
			var foreign bool
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { foreign = true; return nil })
			if foreign {
				return fmt.Errorf("%w: not a buffer file (meta bucket missing)", ErrCorrupt)
			}
			for _, name := range [][]byte{bucketQueue, bucketPrio, bucketIndex, bucketMeta} {
				if _, err := tx.CreateBucket(name); err != nil {
					return fmt.Errorf("create bucket %q: %w", name, err)
				}
			}
			return tx.Bucket(bucketMeta).Put(metaFormat, putU64(formatVersion))
		}
		if v := u64(meta.Get(metaFormat)); v != formatVersion {
			if v > formatVersion {
				return fmt.Errorf("%w: format %d, this build reads %d", ErrIncompatible, v, formatVersion)
			}
			return fmt.Errorf("%w: format %d", ErrCorrupt, v)
		}
		for _, name := range [][]byte{bucketQueue, bucketPrio, bucketIndex} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: bucket %q missing", ErrCorrupt, name)
			}
		}
		return nil
	})
}

// precheck reads bbolt's two meta pages itself before bbolt maps the file.
// It rejects files that are too short or whose newest valid meta page
// declares more pages than the file holds (a truncated file: bbolt would map
// past the end and fault on the first access). The layout is bbolt's file
// format version 2: a 16-byte page header, then magic, version, page size,
// flags, root bucket (16 bytes), freelist, high-water page id, txid and an
// FNV-64a checksum of the preceding fields.
func precheck(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	var best *boltMeta
	for _, off := range metaOffsets(size) {
		var buf [16 + 64]byte
		if _, err := f.ReadAt(buf[:], off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		m, ok := parseMeta(buf[16:])
		if !ok || (off != 0 && int64(m.pageSize) != off) {
			continue
		}
		if best == nil || m.txid > best.txid {
			best = &m
		}
	}
	if best == nil {
		return fmt.Errorf("%w: no valid bbolt meta page in %d bytes", ErrCorrupt, size)
	}
	if need := int64(best.pgid) * int64(best.pageSize); need > size || size < 2*int64(best.pageSize) {
		return fmt.Errorf("%w: truncated: %d bytes, meta declares %d", ErrCorrupt, size, need)
	}
	return nil
}

// metaOffsets lists where bbolt's meta pages may start: page 0, and page 1 at
// every page size bbolt supports (1 KiB to 64 KiB) that fits in the file.
func metaOffsets(size int64) []int64 {
	offs := []int64{0}
	for ps := int64(1024); ps <= 64<<10; ps *= 2 {
		if ps+80 <= size {
			offs = append(offs, ps)
		}
	}
	return offs
}

type boltMeta struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

func parseMeta(b []byte) (boltMeta, bool) {
	const (
		magic   = 0xED0CDAED
		version = 2
	)
	le := binary.NativeEndian // bbolt writes the struct in host byte order
	if le.Uint32(b[0:]) != magic || le.Uint32(b[4:]) != version {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	_, _ = h.Write(b[:56])
	if h.Sum64() != le.Uint64(b[56:]) {
		return boltMeta{}, false
	}
	m := boltMeta{pageSize: le.Uint32(b[8:]), pgid: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
	if m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0 {
		return boltMeta{}, false
	}
	return m, true
}
