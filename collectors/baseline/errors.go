package baseline

import "errors"

// ErrInvalidConfig is returned by Config.Validate, DecodeSitePolicy,
// DecodeSelfDeclared and New when a setting is missing or out of range. The
// message names the key, for example "site_policy.ntp_servers".
var ErrInvalidConfig = errors.New("invalid baseline config")

// ErrTooLarge is returned by the bounded file reader when a file is larger
// than the read limit (1 MiB); the probe reports an ERROR result.
var ErrTooLarge = errors.New("file too large")

// ErrNotRegular is returned by the bounded file reader when a path is not a
// regular file (a directory, FIFO or device), which is never read.
var ErrNotRegular = errors.New("not a regular file")

// ErrUnsupported is returned by a winSource method that this build cannot
// answer on this host; the probe reports an ERROR result.
var ErrUnsupported = errors.New("unsupported on this host")
