package agent

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/edgeward/edgeward/collectors"
)

var compiledSchema struct {
	sync.Once
	s   *jsonschema.Schema
	err error
}

// validateRecord validates one encoded record against the embedded schema
// v1, with format assertions (date-time) on.
func validateRecord(raw []byte) error {
	compiledSchema.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(collectors.SchemaJSON))
		if err != nil {
			compiledSchema.err = fmt.Errorf("parse schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource("v1.json", doc); err != nil {
			compiledSchema.err = err
			return
		}
		compiledSchema.s, compiledSchema.err = c.Compile("v1.json")
	})
	if compiledSchema.err != nil {
		return compiledSchema.err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return compiledSchema.s.Validate(inst)
}
