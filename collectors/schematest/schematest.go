// Package schematest validates records against the embedded wire schema v1
// (collectors.SchemaJSON) with format assertions on. It exists for tests:
// only _test.go files import it, so it is never linked into the agent.
package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/edgeward/edgeward/collectors"
)

// compiled is the schema, compiled once per process and read-only after.
var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(collectors.SchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("v1.json", doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	s, err := c.Compile("v1.json")
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	return s, nil
})

// ValidateJSON validates one encoded record against schema v1. It is safe
// for concurrent use.
func ValidateJSON(raw []byte) error {
	s, err := compiled()
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("parse record: %w", err)
	}
	return s.Validate(inst)
}

// Envelope returns r with the fields the agent stamps (id, schema, agent,
// and time when zero) set to fixed test values, as on the wire.
func Envelope(r collectors.Record) collectors.Record {
	r.ID = "01JD0000000000000000000000"
	r.Schema = collectors.SchemaV1
	r.Agent = collectors.Agent{ID: "agent-1", Enterprise: "acme", Site: "plant-1", Version: "0.0.0-test"}
	if r.Time.IsZero() {
		r.Time = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	}
	return r
}

// Validate checks what a collector is responsible for (Record.Validate),
// stamps the envelope, encodes the record and validates it against schema
// v1. It returns the encoded record for error messages.
func Validate(r collectors.Record) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(Envelope(r))
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return raw, ValidateJSON(raw)
}
