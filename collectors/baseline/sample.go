package baseline

import _ "embed"

// SampleYAML is a commented example of collectors.baseline with every key
// (sample.yaml). It is read-only.
//
//go:embed sample.yaml
var SampleYAML []byte
