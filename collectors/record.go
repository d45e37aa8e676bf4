// Package collectors defines the record model that every edgeward collector
// emits (Record, Emitter, Collector) and the versioned wire schema of a record.
//
// Collectors know nothing of the buffer or of MQTT: they fill in Class, Kind,
// Key, Severity and Body and call Emitter.Emit. The agent stamps the id, the
// schema, the time (when zero) and the agent identity before the record is
// encoded and made durable.
package collectors

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SchemaV1 is the value of Record.Schema for every record of wire schema v1.
const SchemaV1 = "edgeward/v1"

// Class is the data category of a record. It selects the MQTT topic suffix
// and the buffer's drop priority.
type Class string

// The record classes. Asset, Activity and Threat map to the provincial
// platform's three data categories (基础资源, 活跃资源, 威胁信息); Baseline is the
// hazard part of threat information (安全隐患); Status is the agent's health.
const (
	ClassAsset    Class = "asset"
	ClassActivity Class = "activity"
	ClassThreat   Class = "threat"
	ClassBaseline Class = "baseline"
	ClassStatus   Class = "status"
)

// Classes lists every valid Class, in the order in which records are dropped
// when the buffer is full (first dropped first).
var Classes = []Class{ClassStatus, ClassActivity, ClassAsset, ClassBaseline, ClassThreat}

// Valid reports whether c is one of the defined classes.
func (c Class) Valid() bool {
	for _, k := range Classes {
		if c == k {
			return true
		}
	}
	return false
}

// Stateful reports whether records of class c describe "the latest state of
// key K", so that a newer record with the same key replaces an older queued
// one. Threat records are events: appended, never coalesced.
func (c Class) Stateful() bool { return c != ClassThreat }

// Severity grades a threat or baseline record.
type Severity string

// The severities, from least to most severe.
const (
	SeverityInfo     Severity = "info"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Agent identifies the agent that produced a record.
type Agent struct {
	ID         string `json:"id"`
	Enterprise string `json:"enterprise"`
	Site       string `json:"site"`
	Hostname   string `json:"hostname,omitempty"`
	Version    string `json:"version"`
}

// Record is one unit of data on the wire (schema edgeward/v1). A collector
// sets Class, Kind, Key (for state records), Severity (for threat and baseline
// records) and Body; the agent sets the rest. Body must marshal to a JSON
// object. A Record is a value: it is safe to copy, and the agent does not keep
// it after Emit returns.
type Record struct {
	ID       string    `json:"id"`
	Schema   string    `json:"schema"`
	Class    Class     `json:"class"`
	Kind     string    `json:"kind"`
	Time     time.Time `json:"time"`
	Agent    Agent     `json:"agent"`
	Key      string    `json:"key,omitempty"`
	Severity Severity  `json:"severity,omitempty"`
	Body     any       `json:"body"`
}

// Validate checks the fields a collector is responsible for.
func (r *Record) Validate() error {
	switch {
	case !r.Class.Valid():
		return fmt.Errorf("%w: class %q", ErrInvalidRecord, r.Class)
	case r.Kind == "":
		return fmt.Errorf("%w: empty kind", ErrInvalidRecord)
	case r.Class.Stateful() && r.Key == "":
		return fmt.Errorf("%w: %s record %q has no key", ErrInvalidRecord, r.Class, r.Kind)
	case r.Body == nil:
		return fmt.Errorf("%w: %s record %q has no body", ErrInvalidRecord, r.Class, r.Kind)
	}
	return nil
}

// ErrInvalidRecord is returned by Record.Validate and by an Emitter when a
// record lacks a field its class requires.
var ErrInvalidRecord = errors.New("invalid record")

// ErrNotApplicable is returned by a collector or check that has nothing to
// say on this host (wrong OS, component absent). It is logged at Debug and
// reported as n/a, never as a failure.
var ErrNotApplicable = errors.New("not applicable")

// Emitter accepts records from collectors. Emit returns once the records are
// accepted (durable in the buffer) or with an error; it is safe for
// concurrent use. A collector hands over what one collection cycle produced
// in one call, so that one disk commit covers the whole batch. A record that
// fails Validate is refused (the error wraps ErrInvalidRecord) without
// losing the valid records of the same call.
type Emitter interface {
	Emit(ctx context.Context, recs ...Record) error
}

// EmitterFunc adapts a function to the Emitter interface.
type EmitterFunc func(ctx context.Context, recs ...Record) error

// Emit calls f(ctx, recs...).
func (f EmitterFunc) Emit(ctx context.Context, recs ...Record) error { return f(ctx, recs...) }

// Checkpointer is implemented by an Emitter that can keep a collector's
// progress (which input it has consumed, how far) durably and atomically with
// the records that progress produced, so that a restart neither repeats nor
// loses them. A collector that reads finite inputs (capture files) uses it
// when its Emitter implements it.
type Checkpointer interface {
	// Checkpoint returns the state last stored under name, or nil if none.
	Checkpoint(ctx context.Context, name string) ([]byte, error)
	// EmitCheckpoint accepts recs and stores state under name in one
	// durable step: after a crash either both are there or neither is.
	EmitCheckpoint(ctx context.Context, name string, state []byte, recs ...Record) error
}

// RecordFunc adapts a function of one record to the Emitter interface: Emit
// calls it for each record in order and stops at the first error.
type RecordFunc func(ctx context.Context, r Record) error

// Emit calls f(ctx, r) for each record.
func (f RecordFunc) Emit(ctx context.Context, recs ...Record) error {
	for _, r := range recs {
		if err := f(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// Collector is a long-running source of records. Run emits records until ctx
// is cancelled and then returns promptly; it returns nil on cancellation.
type Collector interface {
	Name() string
	Run(ctx context.Context, emit Emitter) error
}
