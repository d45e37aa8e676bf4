package passive

import "errors"

// ErrUnknownFormat is returned by OpenFile when a file is neither pcap nor
// pcapng (judged by its first four bytes).
var ErrUnknownFormat = errors.New("unknown capture file format")

// ErrNoSources is returned by Collector.Run when the configuration names no
// file and no interface.
var ErrNoSources = errors.New("no capture sources configured")

// ErrInvalidConfig is returned by NewEngine and New when a Config field is
// out of range.
var ErrInvalidConfig = errors.New("invalid passive config")
