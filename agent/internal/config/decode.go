package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The types the decoder treats specially; read-only.
var (
	sizeType     = reflect.TypeFor[Size]()
	durationType = reflect.TypeFor[Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

// position is a 1-based line and column in the file.
type position struct{ Line, Column int }

// decoder walks a YAML node tree into a Config with strict rules: every key
// must be known, no key may repeat, every value must have the expected YAML
// 1.2 type. It collects every problem instead of stopping at the first, and
// records the position of every key it meets (pos) so that later validation
// errors can be located. A decoder is used once, by one goroutine.
type decoder struct {
	errs []*Error
	pos  map[string]position
}

func newDecoder() *decoder {
	return &decoder{pos: make(map[string]position)}
}

// fail records a problem at key path; the line is the key's (or the list
// element's) when known, else n's.
func (d *decoder) fail(path string, n *yaml.Node, kind error, format string, args ...any) {
	e := &Error{Key: path, Msg: fmt.Sprintf(format, args...), Err: kind}
	if p, ok := d.pos[path]; ok {
		e.Line, e.Column = p.Line, p.Column
	} else if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// failAt records a problem at key path on the line of n.
func (d *decoder) failAt(path string, n *yaml.Node, kind error, format string, args ...any) {
	d.errs = append(d.errs, &Error{Key: path, Msg: fmt.Sprintf(format, args...), Err: kind, Line: n.Line, Column: n.Column})
}

// resolve follows aliases (yaml/v3 links each to its anchored node) and
// reports the aliases a first parse could not resolve.
func (d *decoder) resolve(path string, n *yaml.Node) (*yaml.Node, bool) {
	for range 64 {
		switch {
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			n = n.Alias
		case n.Kind == yaml.ScalarNode && n.Tag == unknownAliasTag:
			d.failAt(path, n, ErrSyntax, "unknown alias %s", quote("*"+n.Value))
			return nil, false
		default:
			return n, true
		}
	}
	d.fail(path, n, ErrSyntax, "too many nested aliases")
	return nil, false
}

// decode decodes n into v (addressable). A null value keeps v.
func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	n, ok := d.resolve(path, n)
	if !ok {
		return
	}
	var s scalar
	if n.Kind == yaml.ScalarNode {
		var err error
		if s, err = resolveScalar(n); err != nil {
			d.fail(path, n, ErrType, "%v", err)
			return
		}
		if s.kind == kindNull {
			return
		}
	}
	switch v.Type() {
	case sizeType:
		d.decodeSize(path, n, s, v)
		return
	case durationType:
		d.decodeDuration(path, n, s, v)
		return
	case secretType:
		d.fail(path, n, ErrInvalid, "cannot be set in the file; use uplink.password_file or the %s environment variable", PasswordEnv)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(path, n, v)
	case reflect.Slice:
		d.decodeSlice(path, n, v)
	case reflect.Map:
		d.decodeMap(path, n, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, ErrType, "must be a string, got %s", describe(n))
			return
		}
		// A number or boolean given for a string keeps its spelling:
		// site: 042 is "042".
		v.SetString(n.Value)
	case reflect.Bool:
		if s.kind != kindBool || n.Kind != yaml.ScalarNode {
			d.fail(path, n, ErrType, "must be true or false, got %s", describe(n))
			return
		}
		v.SetBool(s.value.(bool))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if s.kind != kindInt || n.Kind != yaml.ScalarNode {
			d.fail(path, n, ErrType, "must be an integer, got %s", describe(n))
			return
		}
		x, ok := s.value.(int64)
		if s.big || !ok || v.OverflowInt(x) {
			d.fail(path, n, ErrInvalid, "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(x)
	default:
		// Unreachable for Config; kept so that a new field type fails loudly
		// in the tests rather than being skipped.
		d.fail(path, n, ErrType, "unsupported field type %s", v.Type())
	}
}

// mappingKey returns the text of a mapping key, or false (after recording
// the problem) when the key is not a string.
func (d *decoder) mappingKey(path string, k *yaml.Node) (string, bool) {
	if k.Kind == yaml.ScalarNode && isPlain(k) && k.Value == "<<" {
		d.failAt(path, k, ErrSyntax, "merge keys (<<) are not supported")
		return "", false
	}
	if k.Kind != yaml.ScalarNode {
		d.failAt(path, k, ErrType, "keys must be strings, got %s", describe(k))
		return "", false
	}
	if _, err := resolveScalar(k); err != nil {
		d.failAt(path, k, ErrType, "key %v", err)
		return "", false
	}
	return k.Value, true
}

func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		what := "must be a mapping"
		if path == "" {
			what = "the top level must be a mapping of sections (agent, buffer, uplink, ...)"
		}
		d.fail(path, n, ErrType, "%s, got %s", what, describe(n))
		return
	}
	t := v.Type()
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, ok := d.mappingKey(path, k)
		if !ok {
			continue
		}
		child := joinKey(path, key)
		if seen[key] {
			d.failAt(child, k, ErrDuplicateKey, "duplicate key (first set on line %d)", d.pos[child].Line)
			continue
		}
		seen[key] = true
		d.pos[child] = position{k.Line, k.Column}
		idx, found := fieldIndex(t, key)
		if !found {
			d.fail(child, k, ErrUnknownKey, "unknown key (allowed: %s)", strings.Join(allowedKeys(t), ", "))
			continue
		}
		d.decode(child, val, v.Field(idx))
	}
}

func (d *decoder) decodeSlice(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.fail(path, n, ErrType, "must be a list, got %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		v.SetZero() // an explicit [] empties the list; empty lists are nil
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, el := range n.Content {
		child := fmt.Sprintf("%s[%d]", path, i)
		d.pos[child] = position{el.Line, el.Column}
		d.decode(child, el, out.Index(i))
	}
	v.Set(out)
}

// decodeMap decodes a free-form map (map[string]any), whose values the
// package that owns it validates.
func (d *decoder) decodeMap(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, ErrType, "must be a mapping, got %s", describe(n))
		return
	}
	if m, ok := d.free(path, n).(map[string]any); ok {
		v.Set(reflect.ValueOf(m))
	}
}

// free converts a free-form subtree to Go values (map[string]any, []any,
// nil, bool, int64, float64, string), records the position of every key in
// it, and reports duplicate keys and aliases, which are refused there: an
// alias inside a free map could expand exponentially when the map is
// printed back. It returns nil after a problem.
func (d *decoder) free(path string, n *yaml.Node) any {
	if n.Kind == yaml.AliasNode || n.Tag == unknownAliasTag {
		d.failAt(path, n, ErrInvalid, "aliases (*name) are not supported inside this mapping")
		return nil
	}
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, el := range n.Content {
			out[i] = d.free(fmt.Sprintf("%s[%d]", path, i), el)
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		first := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key, ok := d.mappingKey(path, k)
			if !ok {
				continue
			}
			child := joinKey(path, key)
			if line, dup := first[key]; dup {
				d.failAt(child, k, ErrDuplicateKey, "duplicate key (first set on line %d)", line)
				continue
			}
			first[key] = k.Line
			d.pos[child] = position{k.Line, k.Column} // so that a later check can point at this key
			out[key] = d.free(child, val)
		}
		return out
	}
	s, err := resolveScalar(n)
	if err != nil {
		d.failAt(path, n, ErrType, "%v", err)
		return nil
	}
	if s.big {
		d.failAt(path, n, ErrInvalid, "integer %s is out of range", n.Value)
		return nil
	}
	return s.value
}

func (d *decoder) decodeSize(path string, n *yaml.Node, s scalar, v reflect.Value) {
	switch {
	case n.Kind == yaml.ScalarNode && s.kind == kindInt:
		x, ok := s.value.(int64)
		if !ok {
			d.fail(path, n, ErrInvalid, "size %s is too large", n.Value)
			return
		}
		if x < 0 {
			d.fail(path, n, ErrInvalid, "must not be negative, got %d", x)
			return
		}
		v.SetInt(x)
	case n.Kind == yaml.ScalarNode && s.kind == kindStr:
		size, err := ParseSize(n.Value)
		if err != nil {
			d.fail(path, n, ErrInvalid, "invalid size %s: %v", quote(n.Value), err)
			return
		}
		v.SetInt(int64(size))
	default:
		d.fail(path, n, ErrType, "must be a size such as \"64KiB\" or a number of bytes, got %s", describe(n))
	}
}

func (d *decoder) decodeDuration(path string, n *yaml.Node, s scalar, v reflect.Value) {
	if n.Kind != yaml.ScalarNode || s.kind != kindStr {
		d.fail(path, n, ErrType, "must be a duration with a unit such as \"15m\" or \"6h\", got %s", describe(n))
		return
	}
	x, err := ParseDuration(n.Value)
	if err != nil {
		d.fail(path, n, ErrInvalid, "invalid duration: %v", err)
		return
	}
	v.SetInt(int64(x))
}

// describe names a node's YAML type for messages: `a list`, `string "x"`.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return "a block string"
	}
	s, err := resolveScalar(n)
	if err != nil {
		return "a value tagged " + quote(explicitTag(n))
	}
	switch s.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "boolean " + n.Value
	case kindInt:
		return "integer " + n.Value
	case kindFloat:
		return "number " + n.Value
	}
	return "string " + quote(n.Value)
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlName returns the yaml key of a struct field, or "" when it has none.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

func fieldIndex(t reflect.Type, key string) (int, bool) {
	for i := range t.NumField() {
		if n := yamlName(t.Field(i)); n != "" && n == key {
			return i, true
		}
	}
	return 0, false
}

// allowedKeys lists the keys a user may write in a struct, in field order
// (derived fields such as the Secret password are left out).
func allowedKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if n := yamlName(f); n != "" && f.Type != secretType {
			keys = append(keys, n)
		}
	}
	return keys
}
