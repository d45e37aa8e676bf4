package baseline

import (
	"errors"
	"fmt"
)

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

// ConfigError is the error of Config.Validate, DecodeSitePolicy and
// DecodeSelfDeclared. Key is the dotted key under collectors.baseline
// ("site_policy.allowed_ports"), so that the agent can point at its line in
// the config file. It matches ErrInvalidConfig (and any wrapped cause) with
// errors.Is.
type ConfigError struct {
	Key string
	Msg string
	Err error // the wrapped cause, or nil
}

// Error returns "invalid baseline config: <key>: <msg>".
func (e *ConfigError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrInvalidConfig, e.Key, e.Msg)
}

// Unwrap returns ErrInvalidConfig and the wrapped cause.
func (e *ConfigError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidConfig}
	}
	return []error{ErrInvalidConfig, e.Err}
}

// configErr builds a ConfigError; format may wrap a cause with %w.
func configErr(key, format string, args ...any) error {
	m := fmt.Errorf(format, args...)
	return &ConfigError{Key: key, Msg: m.Error(), Err: errors.Unwrap(m)}
}
