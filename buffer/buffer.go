package buffer

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Drop reasons used by the buffer itself. Drop accepts any other non-empty
// reason chosen by the caller.
const (
	ReasonMaxBytes   = "max_bytes"
	ReasonMaxAge     = "max_age"
	ReasonMaxEntries = "max_entries"
	ReasonPoison     = "poison"
	// ReasonCorrupt counts records whose stored bytes fail their checksum or
	// cannot be decoded, and records lost with a damaged page.
	ReasonCorrupt = "corrupt"
	// ReasonDiskFull counts records dropped to make room on a full disk.
	ReasonDiskFull = "disk_full"
)

// Defaults applied by Open to zero-valued Options fields.
const (
	// DefaultTimeout is the file-lock timeout used when Options.Timeout is 0.
	DefaultTimeout = 5 * time.Second
	// DefaultCompactBelow is the live-data fraction used when
	// Options.CompactBelow is 0.
	DefaultCompactBelow = 0.25
	// DefaultCompactMinBytes is the file size used when
	// Options.CompactMinBytes is 0.
	DefaultCompactMinBytes = 16 << 20
	// MaxBytes32 is the cap on stored record bytes on 32-bit platforms; see
	// Options.MaxBytes.
	MaxBytes32 = 512 << 20
)

// is32bit is true on platforms with a 32-bit int (GOARCH arm, 386), where
// bbolt cannot map a file of 2 GiB or more.
const is32bit = math.MaxInt == math.MaxInt32

// Options configures Open. The zero value is usable: no caps, compaction at
// the defaults, a discarded log and a 5 s lock timeout.
type Options struct {
	// MaxBytes caps the bytes of queued records as measured by Item.Size
	// (data, stream, key and per-record overhead). When a commit would exceed
	// it, the lowest-priority, oldest records are dropped (reason
	// "max_bytes"). 0 means no cap, except on 32-bit platforms, where 0 or
	// any value above MaxBytes32 (512 MiB) is clamped to MaxBytes32 because
	// bbolt's mapping cannot reach 2 GiB and the file can be up to twice the
	// live data; the clamp is logged at Warn once per Open.
	MaxBytes int64
	// MaxAge drops records accepted longer ago than this (reason "max_age").
	// Age is measured from acceptance (the Put commit, by Now), not from
	// Item.Time. Expiry runs on every write transaction and on a timer of
	// MaxAge/10 (between 1 s and 1 min); Next skips expired entries already.
	// 0 means no limit.
	MaxAge time.Duration
	// MaxEntries caps the number of queued records (reason "max_entries").
	// 0 means no cap.
	MaxEntries int
	// CompactBelow triggers compaction when the live bytes fall below this
	// fraction of the file size and the file is at least CompactMinBytes.
	// 0 means DefaultCompactBelow (0.25); a negative value disables automatic
	// compaction (Compact still works). Must be below 1.
	CompactBelow float64
	// CompactMinBytes is the file size below which automatic compaction never
	// runs. 0 means DefaultCompactMinBytes (16 MiB).
	CompactMinBytes int64
	// Logger receives the buffer's logs (damaged files and what was
	// salvaged, cap and disk-full drops, compaction). nil discards them.
	Logger *slog.Logger
	// Now is the clock, a test seam. nil means time.Now.
	Now func() time.Time
	// Timeout bounds the wait for the exclusive file lock. 0 means
	// DefaultTimeout; the lock error says "another edgeward running?".
	Timeout time.Duration
}

// Item is one record handed to Put. Put copies Data before it returns, so the
// caller may reuse the slice.
type Item struct {
	// Stream is an opaque label (the agent passes the record class). It
	// scopes Key.
	Stream string
	// Key, when non-empty, makes this a state record: a newer Put with the
	// same (Stream, Key) replaces the queued older one, which is counted as
	// coalesced. Empty Key means an event record, never coalesced.
	Key string
	// Priority orders drops under MaxBytes and MaxEntries: lower values are
	// dropped first, oldest first within a priority.
	Priority int
	// Time is the record's own time, returned in Entry.Time. The zero value
	// is replaced by the acceptance time.
	Time time.Time
	// Data is the payload, stored as is.
	Data []byte
}

// Entry is a queued record returned by Next. Data is a copy owned by the
// caller.
type Entry struct {
	// Seq is the record's sequence number, unique and increasing for the life
	// of the file (it survives Close, crashes and compaction).
	Seq    uint64
	Stream string
	Key    string
	// Time is Item.Time, in UTC.
	Time time.Time
	Data []byte
}

// Stats is a consistent snapshot of the buffer counters, read from the file in
// one transaction. Accepted == Delivered + Coalesced + sum(Dropped) + Queued
// always holds, across crashes too, because every counter changes in the
// transaction that changes the data.
type Stats struct {
	// Queued is the number of records in the buffer.
	Queued uint64
	// Accepted counts records whose Put committed, since the file was created.
	Accepted uint64
	// Delivered counts records removed by Ack.
	Delivered uint64
	// Coalesced counts state records replaced by a newer one with the same
	// (Stream, Key).
	Coalesced uint64
	// Dropped counts removed records by reason ("max_bytes", "max_age",
	// "max_entries", "disk_full", "corrupt", or a caller's Drop reason such
	// as "poison"). Never nil.
	Dropped map[string]uint64
	// Bytes is the sum of Item.Size over queued records.
	Bytes int64
	// FileBytes is the size of the bbolt file.
	FileBytes int64
	// OldestAge is the time since the oldest queued record was accepted; 0
	// when empty.
	OldestAge time.Duration
}

// Buffer is a durable FIFO queue of records in one bbolt file. All methods
// are safe for concurrent use. Writes (Put, Ack, Drop) go through one writer
// goroutine that commits whatever has queued up in a single transaction.
type Buffer struct {
	path string
	opts Options // normalised
	log  *slog.Logger
	now  func() time.Time

	maxBytes   int64 // effective, after the 32-bit clamp
	mmapSize   int
	tick       time.Duration
	compactMin int64

	// mu guards closed and inflight registration.
	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup

	// dbmu guards db, gen and unavail: readers (Next, Stats) hold it
	// shared; the writer holds it exclusively only to swap the file
	// (compaction, recovery of a damaged file). gen counts the swaps.
	// unavail says why db is nil while the Buffer is open (a recovery that
	// failed; the writer retries).
	dbmu    sync.RWMutex
	db      *bolt.DB
	gen     uint64
	unavail error

	pend pendingCounts

	reqs      chan *request
	nudge     chan struct{}
	ready     chan struct{}
	recovered chan struct{}
	stop      chan struct{}
	done      chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the buffer file at path, creating missing parent
// directories (mode 0700). A file that bbolt cannot open, or that fails the
// format checks (empty, bad meta pages, truncated data, missing buckets, a
// page bbolt panics on), is salvaged: what can still be read is copied into
// a fresh file, the damaged one is renamed to path+".corrupt-<UTC
// timestamp>", and a Recovery report is stored (see Recoveries); all logged
// at Error. Open never renames more than once, so a broken disk gives an
// error rather than a crash loop. A lock held by another process gives
// ErrLocked after Options.Timeout. Close the returned Buffer to release the
// lock.
func Open(path string, opts Options) (*Buffer, error) {
	o, err := normalise(opts)
	if err != nil {
		return nil, fmt.Errorf("open buffer \"%s\": %w", path, err)
	}
	b := &Buffer{
		path:       path,
		opts:       o,
		log:        o.Logger,
		now:        o.Now,
		maxBytes:   o.MaxBytes,
		compactMin: o.CompactMinBytes,
		reqs:       make(chan *request, 256),
		nudge:      make(chan struct{}, 1),
		ready:      make(chan struct{}, 1),
		recovered:  make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if is32bit && (b.maxBytes == 0 || b.maxBytes > MaxBytes32) {
		b.log.Warn("buffer max_bytes clamped on 32-bit platform",
			"path", path, "requested", o.MaxBytes, "effective", int64(MaxBytes32))
		b.maxBytes = MaxBytes32
	}
	b.mmapSize = mmapSizeFor(b.maxBytes)
	b.tick = time.Minute
	if o.MaxAge > 0 {
		b.tick = min(max(o.MaxAge/10, time.Second), time.Minute)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open buffer \"%s\": create directory: %w", path, err)
	}
	// A leftover from a compaction interrupted before its rename: the
	// original file is intact, so the copy is garbage.
	if err := os.Remove(path + compactSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open buffer \"%s\": remove stale compaction file: %w", path, err)
	}
	db, err := b.openRecovering()
	if err != nil {
		return nil, fmt.Errorf("open buffer \"%s\": %w", path, err)
	}
	b.db = db
	b.makeBallast()
	go b.run()
	return b, nil
}

func normalise(o Options) (Options, error) {
	switch {
	case o.MaxBytes < 0:
		return o, fmt.Errorf("%w: max bytes %d is negative", ErrInvalidOptions, o.MaxBytes)
	case o.MaxEntries < 0:
		return o, fmt.Errorf("%w: max entries %d is negative", ErrInvalidOptions, o.MaxEntries)
	case o.MaxAge < 0:
		return o, fmt.Errorf("%w: max age %s is negative", ErrInvalidOptions, o.MaxAge)
	case o.CompactBelow >= 1 || math.IsNaN(o.CompactBelow):
		return o, fmt.Errorf("%w: compact below %v must be below 1", ErrInvalidOptions, o.CompactBelow)
	case o.CompactMinBytes < 0:
		return o, fmt.Errorf("%w: compact min bytes %d is negative", ErrInvalidOptions, o.CompactMinBytes)
	case o.Timeout < 0:
		return o, fmt.Errorf("%w: timeout %s is negative", ErrInvalidOptions, o.Timeout)
	}
	if o.CompactBelow == 0 {
		o.CompactBelow = DefaultCompactBelow
	}
	if o.CompactMinBytes == 0 {
		o.CompactMinBytes = DefaultCompactMinBytes
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// mmapSizeFor picks bbolt's InitialMmapSize: twice the byte cap (room for
// fragmentation), so that a reader never blocks a writer's remap in steady
// state, bounded by initialMmapCap (0 on Windows, where bbolt would grow the
// file to the mapping size) and by 256 MiB on 32-bit address spaces.
func mmapSizeFor(maxBytes int64) int {
	limit := int64(initialMmapCap)
	if is32bit {
		limit = min(limit, 256<<20)
	}
	want := int64(256 << 20)
	if maxBytes > 0 {
		want = 2 * maxBytes
	}
	return int(min(want, limit))
}

// dbErr says why b.db is nil: a failed recovery, or Close. The caller holds
// dbmu or is the writer goroutine.
func (b *Buffer) dbErr() error {
	if b.unavail != nil {
		return b.unavail
	}
	return ErrClosed
}

// Ready returns a channel that receives a value (non-blocking send, capacity
// 1) after each committed Put that accepted at least one record. It is the
// same channel for the life of the Buffer and is never closed.
func (b *Buffer) Ready() <-chan struct{} { return b.ready }

// Path returns the file path given to Open.
func (b *Buffer) Path() string { return b.path }

// Close waits for in-flight writes, stops the writer and closes the file,
// releasing the lock. It is idempotent and returns the first close error.
func (b *Buffer) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		b.inflight.Wait()
		close(b.stop)
		<-b.done
		b.dbmu.Lock()
		if b.db != nil {
			if err := guard("close", b.db.Close); err != nil {
				b.closeErr = fmt.Errorf("close buffer \"%s\": %w", b.path, err)
			}
			b.db = nil
		}
		b.unavail = nil
		b.dbmu.Unlock()
	})
	return b.closeErr
}
