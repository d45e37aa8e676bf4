// Package buffer is edgeward's durable store-and-forward queue: every record
// is committed to one bbolt file before the uplink may send it, and removed
// only when the broker acknowledged it (Ack) or a cap dropped it.
//
// # Basics
//
// The agent calls Put with encoded records (PutWithMeta to store a
// collector's checkpoint in the same transaction); the uplink waits on Ready,
// reads batches with Next (which does not remove them), publishes them and
// calls Ack with the sequence numbers the broker acknowledged, or Drop for
// records the platform rejects for good. After a reconnect the uplink calls
// Next with after = 0, so unacknowledged batches come back.
//
// Layout: a queue bucket keyed by an 8-byte big-endian sequence (bbolt's
// NextSequence, so byte order is FIFO order), a priority index (priority,
// sequence) for drops under the caps, a state index (stream, key → sequence)
// for coalescing, a meta bucket with the counters, and a caller-meta bucket
// (checkpoints, pending Recovery reports). Every record carries a CRC-32C of
// its sequence and bytes; every caller-meta value a CRC-32C of its key and
// bytes. Writes go through one goroutine that commits every waiting Put, Ack
// and Drop in one transaction (group commit), so thousands of records per
// second cost a few fsyncs.
//
// # Guarantees
//
//   - Accepted means durable: Put returns nil only after its transaction
//     committed and was fsynced. After a crash (SIGKILL, power loss on a disk
//     that honours fsync) the file reopens with every record whose Put
//     returned, exactly once, unless it was acked, coalesced or dropped.
//   - Atomic meta: the meta of a PutWithMeta is committed in the transaction
//     of its records; after a crash both are there or neither is.
//   - Accounting: Accepted == Delivered + Coalesced + sum(Dropped) + Queued,
//     always, because the counters are updated in the transaction that changes
//     the data. Every drop is counted under a reason: "max_bytes",
//     "max_entries", "max_age", "disk_full", "corrupt", or the caller's reason
//     passed to Drop (typically "poison").
//   - No damaged record is handed out: Next verifies each record's checksum;
//     one that fails (a flipped byte on disk, a record under the wrong
//     sequence) is never returned, and is dropped and counted as "corrupt".
//     Records of format 1 (written before checksums existed) are read
//     unverified; new records in an upgraded file carry checksums.
//   - Damaged files never crash the agent: every bbolt access (open, Put,
//     Ack, Drop, Next, Stats, Meta, compaction, expiry, ReadStats, Dump) runs
//     under a guard that turns bbolt's panics on damaged pages, and memory
//     faults on a shrunken mapping, into errors. A file found damaged (at
//     Open: empty, truncated, bad meta pages, a damaged root or freelist
//     page, not a buffer; while running: any bbolt panic or missing bucket)
//     is salvaged: a reader that never trusts an unchecked field walks the
//     queue, meta and caller-meta trees page by page and record by record,
//     and scans the pages no walk reached (those under a damaged branch
//     page) for records whose checksum proves them; what it finds goes into a
//     fresh file, which replaces the damaged one, renamed to
//     path+".corrupt-<UTC time>". Sequence numbers, counters and checkpoints
//     carry over (records that could not be read are counted as dropped,
//     reason "corrupt"). A crash during the salvage leaves either the damaged
//     file, salvaged again at the next Open, or the complete fresh file.
//     Every record in an undamaged page survives.
//   - Every file moved aside is reported: a log line at Error, and a
//     Recovery report stored durably in the fresh file (Recoveries) until the
//     caller deletes it in the transaction that stores its record for the
//     platform. The report says why, how many records were salvaged and lost,
//     and whether the counters had to restart.
//   - Order: Next returns entries in acceptance order. A state record (Key !=
//     "") that replaces an older one takes a new, later sequence: the newest
//     state is sent, at its new position.
//   - Caps: when a commit would exceed MaxBytes or MaxEntries, records are
//     dropped lowest Priority first, oldest first within a priority, until it
//     fits; the records just put are candidates like any other. A single item
//     larger than MaxBytes is refused: Put returns ErrTooLarge and accepts
//     nothing of that call (the caller learns at once that its record can never
//     fit, instead of a silent drop).
//   - Full disk: when a commit fails with ENOSPC (or EDQUOT), records are
//     dropped in the same priority order, the records being put counting as
//     the newest of their priority, until the file has free pages for the
//     rest; drops are counted as "disk_full" and Put returns nil, so a
//     collector keeps running, and no record of a priority is dropped while
//     one of a lower priority is queued. Deletes run in small transactions
//     (bbolt copies pages on write: even a delete needs free pages); while the
//     episode lasts, a Put makes room before the file's free pages would fall
//     below what those deletes need, so the file never gets stuck with none
//     (no transaction, not even a delete, could commit any more). The tail
//     bbolt adds to its file is given disk blocks when it grows (Linux; what a
//     full disk refused is tried again after every commit), and a 1 MiB
//     reserve file (path+".reserve") is given back when not even a one-record
//     delete fits, its space going to the file's unallocated tail first. If
//     nothing can be written at all, Put counts its records as accepted and
//     dropped in memory (in Stats) and persists the counts with the next
//     commit that succeeds; Ack, Drop and PutWithMeta with meta then fail
//     with ErrDiskFull. One Warn line when an episode starts, one when
//     commits have needed no room for a minute and the reserve file could be
//     made again (the file system has room).
//   - Compaction: bbolt files never shrink, so when the live bytes fall below
//     CompactBelow (default 0.25) of a file of at least CompactMinBytes
//     (default 16 MiB), the writer copies the live data into a new file
//     (bbolt.Compact), renames it over the old one and reopens it. Sequence
//     numbers, counters and meta survive. A crash at any point leaves either
//     the old or the new complete file.
//
// # Caveats
//
//   - Delivery is at least once: a crash between publish and Ack, or an Ack
//     of a state record that was coalesced meanwhile, gives a duplicate. The
//     platform de-duplicates on the record id. A salvage whose file lost its
//     freelist as well may bring back records delivered before
//     (Recovery.PossibleDuplicates).
//   - Records in a damaged page are lost; if the counters themselves were
//     unreadable, Recovery.LostKnown is false and the counters restart from
//     the salvaged records. A checkpoint in a damaged page is lost too: its
//     collector starts that input over.
//   - A salvage runs on the writer goroutine: writes wait for it, and reads
//     wait for the swap. After a salvage, damage found again within a minute
//     only reopens the file and fails the operation, so that a failing disk
//     cannot make the buffer rewrite itself in a loop.
//   - MaxAge is measured from acceptance, not from Item.Time, and expiry walks
//     from the oldest entry, stopping at the first young one; if the clock
//     steps back, some records expire late.
//   - One process per file: the lock is exclusive, so ReadStats and Dump fail
//     with ErrLocked while the agent runs. During a compaction or salvage swap
//     the lock is briefly released; a second agent starting at that instant
//     could take it, and the first agent's writes then fail until it restarts.
//   - 32-bit platforms: bbolt maps the whole file and cannot map 2 GiB, so
//     MaxBytes is clamped to 512 MiB there (logged at Warn once per Open); the
//     file may be up to about twice the live bytes before compaction.
//   - bbolt's mapping is sized to twice MaxBytes (at most 1 GiB; 256 MiB on
//     32-bit; grown on demand on Windows, where bbolt would otherwise extend
//     the file to the mapping size), and the file grows in 1 MiB steps.
//   - Group commit lingers up to 0.5 ms for more requests when the previous
//     transaction served several callers; a lone caller never waits.
package buffer
