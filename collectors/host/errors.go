package host

import (
	"errors"
	"fmt"
)

// ErrNoKey is returned by New when Config.Key (the agent id, used as the
// record key) is empty.
var ErrNoKey = errors.New("no record key (agent id)")

// ErrTooLarge is returned when a file is larger than the cap the collector
// reads it with (64 MiB for package databases, 1 MiB for small files).
var ErrTooLarge = errors.New("file too large")

// ErrParse is returned when a file the collector reads is malformed.
var ErrParse = errors.New("malformed file")

// ErrUnsupported is returned when a data source exists but its format cannot
// be read without cgo (a BerkeleyDB or ndb rpm database).
var ErrUnsupported = errors.New("unsupported format")

// errNoCgroup is returned by readServiceCgroups when no system.slice exists.
var errNoCgroup = errors.New("no systemd cgroup (system.slice) under sys/fs/cgroup")

// errSQLite is the category of every sqlite format error.
var errSQLite = fmt.Errorf("%w: sqlite", ErrParse)

// errStopScan ends a scanTable walk early without an error.
var errStopScan = errors.New("stop scan")
