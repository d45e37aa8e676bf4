package buffer

import "errors"

// Sentinel errors. Callers test them with errors.Is; the functions that return
// them add the path or the value that caused them.
var (
	// ErrClosed is returned by every method called after Close, and by calls
	// that were waiting when Close began.
	ErrClosed = errors.New("buffer closed")

	// ErrLocked is returned by Open when the file lock is not acquired within
	// Options.Timeout, and by ReadStats and Dump when a running agent holds the
	// exclusive lock: another edgeward process owns the file.
	ErrLocked = errors.New("buffer file locked (another edgeward running?)")

	// ErrTooLarge is returned by Put when one item on its own exceeds the
	// effective MaxBytes cap (or the hard per-record limit); nothing of that Put
	// call is accepted.
	ErrTooLarge = errors.New("record too large")

	// ErrInvalidItem is returned by Put when an item has an oversized Stream
	// or Key; nothing of that Put call is accepted.
	ErrInvalidItem = errors.New("invalid item")

	// ErrInvalidOptions is returned by Open when an Options field is out of
	// range.
	ErrInvalidOptions = errors.New("invalid buffer options")

	// ErrCorrupt is returned by ReadStats and Dump when the file is not a
	// readable buffer, and wrapped in the Error log line when Open moves a
	// corrupt file aside.
	ErrCorrupt = errors.New("buffer file corrupt")

	// ErrDiskFull is returned by Ack, Drop and PutWithMeta with meta when the
	// file system is full and dropping records made no room. (Put without
	// meta counts its records as dropped instead; see Put.)
	ErrDiskFull = errors.New("disk full")

	// ErrChecksum is returned by Meta when the stored value fails its
	// checksum: the value is lost.
	ErrChecksum = errors.New("stored value failed its checksum")

	// ErrIncompatible is returned by Open when the file was written by a newer
	// edgeward with an unknown on-disk format; the file is left untouched.
	ErrIncompatible = errors.New("buffer file format not supported")
)
