package config

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel categories carried by *Error (see Error.Err). Callers test them
// with errors.Is.
var (
	// ErrRead is returned when the configuration file cannot be read.
	ErrRead = errors.New("read config")
	// ErrSyntax is returned when the file is not well-formed YAML.
	ErrSyntax = errors.New("yaml syntax")
	// ErrUnknownKey is returned when the file holds a key the agent does not
	// know, at any level (strict decoding).
	ErrUnknownKey = errors.New("unknown key")
	// ErrDuplicateKey is returned when a mapping holds the same key twice.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrType is returned when a value has the wrong YAML type, such as a
	// string where a list is expected.
	ErrType = errors.New("wrong type")
	// ErrInvalid is returned when a value has the right type but is out of
	// range, not one of an enum's values, or malformed (a broker URL, a size,
	// a duration).
	ErrInvalid = errors.New("invalid value")
	// ErrPasswordFile is returned when uplink.password_file cannot be read or
	// is empty. Error.Cause holds the underlying I/O error.
	ErrPasswordFile = errors.New("password file")
)

// Error is one configuration problem, located in the file. Its text is
// "<file>:<line>: <dotted.key>: <message>", for example
// `configs/agent.yaml:14: uplink.in_flight: must be between 1 and 1024, got 0`;
// File, Line and Key are left out when unknown (Line is 0 for a key that is
// absent from the file and has no present ancestor). Several problems are
// returned together with errors.Join; errors.As finds the first.
type Error struct {
	// File is the name given to Load or Parse.
	File string
	// Line and Column are 1-based positions of the offending key (for a
	// list element, of the element); 0 when unknown.
	Line, Column int
	// Key is the dotted path, with list indexes: "uplink.brokers[1]".
	Key string
	// Msg is the lowercase description of the problem.
	Msg string
	// Err is the category sentinel (ErrUnknownKey, ErrInvalid, ...).
	Err error
	// Cause is the underlying error, if any (an *fs.PathError for an
	// unreadable password file); nil otherwise.
	Cause error
}

// Error formats e as "<file>:<line>: <key>: <message>".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the category sentinel and the cause, so that errors.Is works
// for both (ErrPasswordFile and fs.ErrNotExist, say).
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}
