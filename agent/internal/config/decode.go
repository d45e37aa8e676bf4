package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// The types the decoder treats specially; read-only.
var (
	sizeType     = reflect.TypeFor[Size]()
	durationType = reflect.TypeFor[Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

// decoder walks a goccy AST into a Config with strict rules: every key must
// be known, no key may repeat, every value must have the expected YAML type.
// It collects every problem instead of stopping at the first, and records the
// position of every key it meets (pos) so that later validation errors can
// be located. A decoder is used once, by one goroutine.
type decoder struct {
	errs    []*Error
	pos     map[string]token.Position
	anchors map[string]ast.Node
}

func newDecoder() *decoder {
	return &decoder{pos: make(map[string]token.Position), anchors: make(map[string]ast.Node)}
}

// fail records a problem at key path; the line is the key's (or the list
// element's) when known, else tk's.
func (d *decoder) fail(path string, tk *token.Token, kind error, format string, args ...any) {
	e := &Error{Key: path, Msg: fmt.Sprintf(format, args...), Err: kind}
	if p, ok := d.pos[path]; ok {
		e.Line, e.Column = p.Line, p.Column
	} else if tk != nil && tk.Position != nil {
		e.Line, e.Column = tk.Position.Line, tk.Position.Column
	}
	d.errs = append(d.errs, e)
}

// failAt records a problem at key path on the line of tk.
func (d *decoder) failAt(path string, tk *token.Token, kind error, format string, args ...any) {
	e := &Error{Key: path, Msg: fmt.Sprintf(format, args...), Err: kind}
	if tk != nil && tk.Position != nil {
		e.Line, e.Column = tk.Position.Line, tk.Position.Column
	}
	d.errs = append(d.errs, e)
}

// decodeFile decodes the single document of f over cfg.
func (d *decoder) decodeFile(f *ast.File, cfg *Config) {
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		return // empty file: all defaults
	}
	if len(docs) > 1 {
		tk := docs[1].Start
		if tk == nil {
			tk = docs[1].Body.GetToken()
		}
		d.fail("", tk, ErrSyntax, "more than one YAML document; write the configuration as one document")
		return
	}
	d.decode("", docs[0].Body, reflect.ValueOf(cfg).Elem())
}

// resolve strips anchors and tags and follows aliases.
func (d *decoder) resolve(path string, n ast.Node) (ast.Node, bool) {
	for range 64 {
		switch t := n.(type) {
		case *ast.AnchorNode:
			if t.Name != nil {
				d.anchors[t.Name.GetToken().Value] = t.Value
			}
			n = t.Value
		case *ast.AliasNode:
			name := ""
			if t.Value != nil {
				name = t.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.fail(path, t.GetToken(), ErrSyntax, "unknown alias %q", "*"+name)
				return nil, false
			}
			n = target
		case *ast.TagNode:
			n = t.Value
		default:
			return n, true
		}
	}
	d.fail(path, n.GetToken(), ErrSyntax, "too many nested anchors, aliases or tags")
	return nil, false
}

// decode decodes n into v (addressable). A null or missing value keeps v.
func (d *decoder) decode(path string, n ast.Node, v reflect.Value) {
	n, ok := d.resolve(path, n)
	if !ok || n == nil {
		return
	}
	if _, isNull := n.(*ast.NullNode); isNull {
		return
	}
	switch v.Type() {
	case sizeType:
		d.decodeSize(path, n, v)
		return
	case durationType:
		d.decodeDuration(path, n, v)
		return
	case secretType:
		d.fail(path, n.GetToken(), ErrInvalid, "cannot be set in the file; use uplink.password_file or the %s environment variable", PasswordEnv)
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
		s, ok := scalarText(n)
		if !ok {
			d.fail(path, n.GetToken(), ErrType, "must be a string, got %s", describe(n))
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.fail(path, n.GetToken(), ErrType, "must be true or false, got %s", describe(n))
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		in, ok := n.(*ast.IntegerNode)
		if s, isStr := n.(*ast.StringNode); isStr && s.GetToken().Type == token.StringType && looksInteger(s.Value) {
			d.fail(path, n.GetToken(), ErrInvalid, "integer %s is out of range", s.Value)
			return
		}
		if !ok {
			d.fail(path, n.GetToken(), ErrType, "must be an integer, got %s", describe(n))
			return
		}
		x, ok := intValue(in)
		if !ok || v.OverflowInt(x) {
			d.fail(path, n.GetToken(), ErrInvalid, "integer %s is out of range", in.GetToken().Value)
			return
		}
		v.SetInt(x)
	default:
		// Unreachable for Config; kept so that a new field type fails loudly
		// in the tests rather than being skipped.
		d.fail(path, n.GetToken(), ErrType, "unsupported field type %s", v.Type())
	}
}

// mappingValues returns the entries of a mapping node.
func mappingValues(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

func (d *decoder) decodeStruct(path string, n ast.Node, v reflect.Value) {
	entries, ok := mappingValues(n)
	if !ok {
		what := "must be a mapping"
		if path == "" {
			what = "the top level must be a mapping of sections (agent, buffer, uplink, ...)"
		}
		d.fail(path, n.GetToken(), ErrType, "%s, got %s", what, describe(n))
		return
	}
	t := v.Type()
	seen := make(map[string]bool, len(entries))
	for _, mv := range entries {
		keyTk := mv.Key.GetToken()
		if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge {
			d.failAt(path, keyTk, ErrSyntax, "merge keys (<<) are not supported")
			continue
		}
		key, ok := scalarText(mv.Key)
		if !ok {
			d.fail(path, keyTk, ErrType, "keys must be strings, got %s", describe(mv.Key))
			continue
		}
		child := joinKey(path, key)
		if seen[key] {
			d.failAt(child, keyTk, ErrDuplicateKey, "duplicate key (first set on line %d)", d.pos[child].Line)
			continue
		}
		seen[key] = true
		d.pos[child] = *keyTk.Position
		idx, found := fieldIndex(t, key)
		if !found {
			d.fail(child, keyTk, ErrUnknownKey, "unknown key (allowed: %s)", strings.Join(allowedKeys(t), ", "))
			continue
		}
		d.decode(child, mv.Value, v.Field(idx))
	}
}

func (d *decoder) decodeSlice(path string, n ast.Node, v reflect.Value) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.fail(path, n.GetToken(), ErrType, "must be a list, got %s", describe(n))
		return
	}
	if len(seq.Values) == 0 {
		v.SetZero() // an explicit [] empties the list; empty lists are nil
		return
	}
	out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, el := range seq.Values {
		child := fmt.Sprintf("%s[%d]", path, i)
		if tk := el.GetToken(); tk != nil && tk.Position != nil {
			d.pos[child] = *tk.Position
		}
		d.decode(child, el, out.Index(i))
	}
	v.Set(out)
}

// decodeMap decodes a free-form map (map[string]any) with goccy itself.
func (d *decoder) decodeMap(path string, n ast.Node, v reflect.Value) {
	if _, ok := mappingValues(n); !ok {
		d.fail(path, n.GetToken(), ErrType, "must be a mapping, got %s", describe(n))
		return
	}
	if !d.checkFree(path, n) {
		return
	}
	m := reflect.New(v.Type())
	if err := yaml.NodeToValue(n, m.Interface()); err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			d.fail(path, ye.GetToken(), ErrInvalid, "%s", ye.GetMessage())
		} else {
			d.fail(path, n.GetToken(), ErrInvalid, "decode mapping: %v", err)
		}
		return
	}
	v.Set(m.Elem())
}

// checkFree walks a free-form subtree, records the position of every key in
// it, and reports duplicate keys (at any depth) and aliases, which are refused there: an alias inside a free map
// could expand exponentially when the map is printed back.
func (d *decoder) checkFree(path string, n ast.Node) bool {
	ok := true
	switch t := n.(type) {
	case *ast.AliasNode:
		d.failAt(path, t.GetToken(), ErrInvalid, "aliases (*name) are not supported inside this mapping")
		return false
	case *ast.AnchorNode:
		return d.checkFree(path, t.Value)
	case *ast.TagNode:
		return d.checkFree(path, t.Value)
	case *ast.SequenceNode:
		for i, el := range t.Values {
			ok = d.checkFree(fmt.Sprintf("%s[%d]", path, i), el) && ok
		}
	case *ast.MappingNode, *ast.MappingValueNode:
		entries, _ := mappingValues(n)
		seen := make(map[string]int, len(entries))
		for _, mv := range entries {
			keyTk := mv.Key.GetToken()
			key, _ := scalarText(mv.Key)
			if key == "" {
				key = keyTk.Value
			}
			child := joinKey(path, key)
			if first, dup := seen[key]; dup {
				d.failAt(child, keyTk, ErrDuplicateKey, "duplicate key (first set on line %d)", first)
				ok = false
				continue
			}
			seen[key] = keyTk.Position.Line
			d.pos[child] = *keyTk.Position // so that a later check can point at this key
			ok = d.checkFree(child, mv.Value) && ok
		}
	}
	return ok
}

func (d *decoder) decodeSize(path string, n ast.Node, v reflect.Value) {
	switch t := n.(type) {
	case *ast.IntegerNode:
		x, ok := intValue(t)
		if !ok {
			d.fail(path, n.GetToken(), ErrInvalid, "size %s is too large", t.GetToken().Value)
			return
		}
		if x < 0 {
			d.fail(path, n.GetToken(), ErrInvalid, "must not be negative, got %d", x)
			return
		}
		v.SetInt(x)
	case *ast.StringNode:
		s, err := ParseSize(t.Value)
		if err != nil {
			d.fail(path, n.GetToken(), ErrInvalid, "invalid size %q: %v", t.Value, err)
			return
		}
		v.SetInt(int64(s))
	default:
		d.fail(path, n.GetToken(), ErrType, "must be a size such as \"64KiB\" or a number of bytes, got %s", describe(n))
	}
}

func (d *decoder) decodeDuration(path string, n ast.Node, v reflect.Value) {
	s, ok := n.(*ast.StringNode)
	if !ok {
		d.fail(path, n.GetToken(), ErrType, "must be a duration with a unit such as \"15m\" or \"6h\", got %s", describe(n))
		return
	}
	x, err := ParseDuration(s.Value)
	if err != nil {
		d.fail(path, n.GetToken(), ErrInvalid, "invalid duration: %v", err)
		return
	}
	v.SetInt(int64(x))
}

// looksInteger reports whether s is an optionally signed run of digits (an
// integer literal that goccy could not fit and kept as a string).
func looksInteger(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// intValue returns the value of an integer node as int64; false when it does
// not fit.
func intValue(n *ast.IntegerNode) (int64, bool) {
	switch x := n.Value.(type) {
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// scalarText returns the text of a scalar node as written (a number or a
// boolean given for a string field keeps its spelling: site: 042 is "042").
func scalarText(n ast.Node) (string, bool) {
	switch t := n.(type) {
	case *ast.StringNode:
		return t.Value, true
	case *ast.LiteralNode:
		if t.Value == nil {
			return "", true
		}
		return t.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// describe names a node's YAML type for messages: `a list`, `string "x"`.
func describe(n ast.Node) string {
	switch t := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("string %q", t.Value)
	case *ast.LiteralNode:
		return "a block string"
	case *ast.IntegerNode:
		return "integer " + t.GetToken().Value
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "number " + n.GetToken().Value
	case *ast.BoolNode:
		return "boolean " + t.GetToken().Value
	case *ast.NullNode:
		return "null"
	}
	return n.Type().String()
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
