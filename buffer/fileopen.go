package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"

	"os"
	"slices"
	"syscall"
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

// openRecovering opens b.path; a damaged file is salvaged into a fresh one
// and moved aside, once.
func (b *Buffer) openRecovering() (*bolt.DB, error) {
	if err := b.finishSwap(); err != nil {
		return nil, err
	}
	db, err := b.openChecked()
	if err == nil || !errors.Is(err, ErrCorrupt) {
		return db, err
	}
	rep, serr := b.salvageAndSwap(err)
	if serr != nil {
		return nil, fmt.Errorf("%w (while handling %w)", serr, err)
	}
	db, err = b.openChecked()
	if err != nil {
		return nil, fmt.Errorf("open fresh file after moving the damaged one to \"%s\": %w", rep.MovedTo, err)
	}
	return db, nil
}

// openChecked opens the file with bbolt and checks it is a buffer. Errors
// that mean "this file is damaged" match ErrCorrupt (with a reason, see
// corruptReason); lock timeouts wrap ErrLocked; anything else (permissions,
// disk full) is returned as is.
func (b *Buffer) openChecked() (db *bolt.DB, err error) {
	if err := precheck(b.path); err != nil {
		return nil, err
	}
	err = guard("open", func() error {
		var err error
		db, err = bolt.Open(b.path, 0o600, &bolt.Options{
			Timeout:         b.opts.Timeout,
			InitialMmapSize: b.mmapSize,
			FreelistType:    bolt.FreelistMapType,
			NoFreelistSync:  false,
		})
		if err != nil {
			return classifyOpenErr(err, b.opts.Timeout)
		}
		db.AllocSize = allocSize
		return initFile(db)
	})
	if err != nil {
		if db != nil {
			closeDamaged(db, b.log)
		}
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
		return &corruptError{reason: RecoveryDamaged, err: err}
	case errors.Is(err, syscall.EIO):
		return &corruptError{reason: RecoveryUnreadable, err: err}
	}
	return err
}

// initFile creates the buckets of a fresh file, checks those of an existing
// one, and upgrades a format-1 file (adds the caller meta bucket; its
// records, without checksums, stay readable).
func initFile(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			// Fresh file, or one from something else: it must hold no
			// other buckets.
			var foreign bool
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { foreign = true; return nil })
			if foreign {
				return corrupt(RecoveryForeign, "not a buffer file (meta bucket missing)")
			}
			for _, name := range [][]byte{bucketQueue, bucketPrio, bucketIndex, bucketMeta, bucketUser} {
				if _, err := tx.CreateBucket(name); err != nil {
					return fmt.Errorf("create bucket %q: %w", name, err)
				}
			}
			return tx.Bucket(bucketMeta).Put(metaFormat, putU64(formatVersion))
		}
		switch v := u64(meta.Get(metaFormat)); {
		case v > formatVersion:
			return fmt.Errorf("%w: format %d, this build reads %d", ErrIncompatible, v, formatVersion)
		case v == 1:
			if _, err := tx.CreateBucketIfNotExists(bucketUser); err != nil {
				return fmt.Errorf("upgrade to format %d: %w", formatVersion, err)
			}
			if err := meta.Put(metaFormat, putU64(formatVersion)); err != nil {
				return fmt.Errorf("upgrade to format %d: %w", formatVersion, err)
			}
		case v != formatVersion:
			return corrupt(RecoveryDamaged, "format %d", v)
		}
		for _, name := range [][]byte{bucketQueue, bucketPrio, bucketIndex, bucketUser} {
			if tx.Bucket(name) == nil {
				return corrupt(RecoveryDamaged, "bucket %q missing", name)
			}
		}
		return nil
	})
}

// precheck reads bbolt's meta pages itself before bbolt maps the file. It
// rejects files that are empty, too short, or whose newest valid meta page
// declares more pages than the file holds (a truncated file: bbolt would map
// past the end and fault on the first access), and checks the headers of the
// root and freelist pages, which bbolt reads while opening (a panic there
// would leave bbolt's file handle open). See bestMeta and parseMeta for the
// layout (bbolt's file format version 2).
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
		return corrupt(RecoveryZeroLength, "the file is empty (zero length)")
	}
	best, err := bestMeta(f, size)
	switch {
	case errors.Is(err, syscall.EIO):
		return &corruptError{reason: RecoveryUnreadable, err: err}
	case errors.Is(err, errNoMeta):
		return corrupt(RecoveryDamaged, "no valid bbolt meta page in %d bytes", size)
	case errors.Is(err, errMetaSize):
		return corrupt(RecoveryTruncated, "truncated: %d bytes, less than two pages", size)
	case err != nil:
		return err
	}
	if need := int64(best.pgid) * int64(best.pageSize); need > size {
		return corrupt(RecoveryTruncated, "truncated: %d bytes, meta declares %d", size, need)
	}
	// bbolt reads these two pages while opening, where a panic would leave
	// its file handle open: check them first.
	for _, pg := range []struct {
		id    uint64
		flags []uint16
	}{{best.root, []uint16{pageFlagLeaf, pageFlagBranch}}, {best.freelist, []uint16{pageFlagFreelist}}} {
		if pg.id == noFreelist {
			continue
		}
		var hdr [pageHeaderSize]byte
		if pg.id >= best.pgid {
			return corrupt(RecoveryDamaged, "meta names page %d beyond the %d in use", pg.id, best.pgid)
		}
		if _, err := f.ReadAt(hdr[:], int64(pg.id)*int64(best.pageSize)); err != nil {
			return &corruptError{reason: RecoveryUnreadable, err: err}
		}
		if ne.Uint64(hdr[:]) != pg.id || !slices.Contains(pg.flags, ne.Uint16(hdr[8:])) {
			return corrupt(RecoveryDamaged, "page %d is damaged (header %x)", pg.id, hdr)
		}
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
	root     uint64 // root bucket's page
	freelist uint64
	pgid     uint64 // high-water mark: pages in use
	txid     uint64
}

// parseMeta decodes a bbolt meta page body (after the 16-byte page header):
// magic, version, page size, flags, root bucket (page id, sequence),
// freelist page, high-water page id, txid and an FNV-64a checksum of the
// preceding fields. It reports false when the checksum or a field is wrong.
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
	m := boltMeta{pageSize: le.Uint32(b[8:]), root: le.Uint64(b[16:]), freelist: le.Uint64(b[32:]),
		pgid: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
	if m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0 {
		return boltMeta{}, false
	}
	return m, true
}
