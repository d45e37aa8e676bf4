package collectors

import _ "embed"

// SchemaJSON is the JSON Schema (draft 2020-12) of one record of wire schema
// v1, as shipped in collectors/schema/v1.json. It is read-only.
//
//go:embed schema/v1.json
var SchemaJSON []byte
