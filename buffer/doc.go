// Package buffer is edgeward's durable store-and-forward queue: every record
// is committed to one bbolt file before the uplink may send it, and removed
// only when the broker acknowledged it (Ack) or a cap dropped it.
//
// # Basics
//
// The agent calls Put with encoded records; the uplink waits on Ready, reads
// batches with Next (which does not remove them), publishes them and calls Ack
// with the sequence numbers the broker acknowledged, or Drop for records the
// platform rejects for good. After a reconnect the uplink calls Next with
// after = 0, so unacknowledged batches come back.
//
// Layout: a queue bucket keyed by an 8-byte big-endian sequence (bbolt's
// NextSequence, so byte order is FIFO order), a priority index (priority,
// sequence) for drops under the caps, a state index (stream, key → sequence)
// for coalescing, and a meta bucket with the counters. Writes go through one
// goroutine that commits every waiting Put, Ack and Drop in one transaction
// (group commit), so thousands of records per second cost a few fsyncs.
//
// # Guarantees
//
//   - Accepted means durable: Put returns nil only after its transaction
//     committed and was fsynced. After a crash (SIGKILL, power loss on a disk
//     that honours fsync) the file reopens with every record whose Put
//     returned, exactly once, unless it was acked, coalesced or dropped.
//   - Accounting: Accepted == Delivered + Coalesced + sum(Dropped) + Queued,
//     always, because the counters are updated in the transaction that changes
//     the data. Every drop is counted under a reason: "max_bytes",
//     "max_entries", "max_age", "corrupt" (an undecodable stored entry), or the
//     caller's reason passed to Drop (typically "poison").
//   - Order: Next returns entries in acceptance order. A state record (Key !=
//     "") that replaces an older one takes a new, later sequence: the newest
//     state is sent, at its new position.
//   - Caps: when a commit would exceed MaxBytes or MaxEntries, records are
//     dropped lowest Priority first, oldest first within a priority, until it
//     fits; the records just put are candidates like any other. A single item
//     larger than MaxBytes is refused: Put returns ErrTooLarge and accepts
//     nothing of that call (the caller learns at once that its record can never
//     fit, instead of a silent drop).
//   - A file bbolt cannot open, or that is truncated (checked against its own
//     meta page before mapping it), is renamed to path+".corrupt-<UTC time>",
//     logged at Error, and a fresh file is started; this happens at most once
//     per Open, so a broken disk yields an error, never a crash loop.
//   - Compaction: bbolt files never shrink, so when the live bytes fall below
//     CompactBelow (default 0.25) of a file of at least CompactMinBytes
//     (default 16 MiB), the writer copies the live data into a new file
//     (bbolt.Compact), renames it over the old one and reopens it. Sequence
//     numbers and counters survive. A crash at any point leaves either the old
//     or the new complete file.
//
// # Caveats
//
//   - Delivery is at least once: a crash between publish and Ack, or an Ack
//     of a state record that was coalesced meanwhile, gives a duplicate. The
//     platform de-duplicates on the record id.
//   - MaxAge is measured from acceptance, not from Item.Time, and expiry walks
//     from the oldest entry, stopping at the first young one; if the clock
//     steps back, some records expire late.
//   - One process per file: the lock is exclusive, so ReadStats and Dump fail
//     with ErrLocked while the agent runs. During the compaction swap the lock
//     is briefly released; a second agent starting at that instant could take
//     it, and the first agent's writes then fail until it restarts.
//   - 32-bit platforms: bbolt maps the whole file and cannot map 2 GiB, so
//     MaxBytes is clamped to 512 MiB there (logged at Warn once per Open); the
//     file may be up to about twice the live bytes before compaction.
//   - bbolt's mapping is sized to twice MaxBytes (at most 1 GiB; 256 MiB on
//     32-bit; grown on demand on Windows, where bbolt would otherwise extend
//     the file to the mapping size), and the file grows in 1 MiB steps.
//   - A stored entry that cannot be decoded (damage inside a value) is
//     skipped by Next and removed, counted as "corrupt", when MaxAge or a cap
//     reaches it. Damage to bbolt's own pages found after Open cannot be
//     repaired in place and shows as errors from Put and Next.
//   - Group commit lingers up to 0.5 ms for more requests when the previous
//     transaction served several callers; a lone caller never waits.
package buffer
