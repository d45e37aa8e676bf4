package buffer

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Reasons a file is moved aside, in Recovery.Reason and in the log.
const (
	// RecoveryDamaged: bbolt panicked on a page, or a structure of the file
	// failed a check.
	RecoveryDamaged = "damaged"
	// RecoveryTruncated: the file is shorter than its meta page declares.
	RecoveryTruncated = "truncated"
	// RecoveryZeroLength: the file exists but is empty.
	RecoveryZeroLength = "zero_length"
	// RecoveryUnreadable: reading the file failed with an I/O error.
	RecoveryUnreadable = "unreadable"
	// RecoveryForeign: a bbolt file that is not an edgeward buffer.
	RecoveryForeign = "not_a_buffer"
)

// corruptError says why a file is not a usable buffer. It matches ErrCorrupt.
type corruptError struct {
	reason string
	err    error
}

func (e *corruptError) Error() string   { return ErrCorrupt.Error() + ": " + e.err.Error() }
func (e *corruptError) Unwrap() []error { return []error{ErrCorrupt, e.err} }

func corrupt(reason, format string, args ...any) error {
	return &corruptError{reason: reason, err: fmt.Errorf(format, args...)}
}

// corruptReason returns the Recovery reason of an error matching ErrCorrupt.
func corruptReason(err error) string {
	if ce := (*corruptError)(nil); errors.As(err, &ce) {
		return ce.reason
	}
	return RecoveryDamaged
}

// guard runs fn and turns a panic into an error matching ErrCorrupt. bbolt
// panics when it meets a damaged page ("page expected to be", index out of
// range), and a page past the end of a shrunken file faults in the memory
// mapping; SetPanicOnFault makes that fault a panic too. Every access to a
// bbolt file goes through guard, so that a damaged file is moved aside and
// salvaged instead of crashing the agent in a loop. The stack of the panic is
// kept in the error for the log.
func guard(what string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &corruptError{reason: RecoveryDamaged,
				err: fmt.Errorf("%s: bbolt panicked: %v\n%s", what, r, debug.Stack())}
		}
	}()
	return fn()
}

// firstLine returns err's message up to its first newline: the panic without
// its stack, for Recovery.Detail.
func firstLine(err error) string {
	s := err.Error()
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
