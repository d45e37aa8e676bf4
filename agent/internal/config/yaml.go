package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file reads YAML: it parses a file into go.yaml.in/yaml/v3 nodes (one
// document, with lines and columns) and gives every scalar its YAML 1.2 core
// schema meaning. yaml/v3's own tag resolution mixes YAML 1.1 rules in
// (014 is octal, 1_000 is an integer), so the decoder never trusts the tags
// that yaml/v3 guessed for plain scalars: resolveScalar applies the 1.2 core
// schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution) to the text.

// scalarKind is the YAML 1.2 core schema type of a scalar.
type scalarKind int

const (
	kindNull scalarKind = iota
	kindBool
	kindInt
	kindFloat
	kindStr
)

// scalar is a resolved scalar: its type and value (nil, bool, int64,
// float64 or string). big marks an integer outside int64, whose value is
// the text.
type scalar struct {
	kind  scalarKind
	value any
	big   bool
}

// The YAML 1.2 core schema's plain scalar forms.
var (
	coreNull  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	coreBool  = regexp.MustCompile(`^(?:true|True|TRUE|false|False|FALSE)$`)
	coreInt10 = regexp.MustCompile(`^[-+]?[0-9]+$`)
	coreInt8  = regexp.MustCompile(`^0o[0-7]+$`)
	coreInt16 = regexp.MustCompile(`^0x[0-9a-fA-F]+$`)
	coreFloat = regexp.MustCompile(`^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$`)
	coreInf   = regexp.MustCompile(`^[-+]?\.(?:inf|Inf|INF)$`)
	coreNaN   = regexp.MustCompile(`^\.(?:nan|NaN|NAN)$`)
)

const (
	styleQuoted = yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
)

// isPlain reports whether n is a plain, untagged scalar (its type comes
// from its text).
func isPlain(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Style&(styleQuoted|yaml.TaggedStyle) == 0
}

// explicitTag returns the tag written in the file ("!!int", "!custom"), or
// "" when there is none.
func explicitTag(n *yaml.Node) string {
	if n.Style&yaml.TaggedStyle != 0 {
		return n.ShortTag()
	}
	return ""
}

// resolveScalar gives a scalar node its YAML 1.2 core schema type and value.
// Quoted and block scalars are strings; plain scalars are typed by their
// text; an explicit standard tag (!!str, !!int, !!float, !!bool, !!null)
// forces the type, and any other tag is refused.
func resolveScalar(n *yaml.Node) (scalar, error) {
	tag := explicitTag(n)
	switch {
	case tag == "" && !isPlain(n), tag == "!!str":
		return scalar{kindStr, n.Value, false}, nil
	case tag == "":
		return resolvePlain(n.Value), nil
	}
	s := resolvePlain(n.Value)
	want := map[string]scalarKind{"!!null": kindNull, "!!bool": kindBool, "!!int": kindInt, "!!float": kindFloat}
	k, ok := want[tag]
	if !ok {
		return scalar{}, fmt.Errorf("tag %s is not supported (only !!str, !!int, !!float, !!bool and !!null)", quote(tag))
	}
	if k == kindFloat && s.kind == kindInt && !s.big {
		return scalar{kindFloat, float64(s.value.(int64)), false}, nil
	}
	if s.kind != k {
		return scalar{}, fmt.Errorf("%s is not a valid %s value", quote(n.Value), tag)
	}
	return s, nil
}

// resolvePlain types the text of a plain scalar by the YAML 1.2 core schema.
func resolvePlain(v string) scalar {
	switch {
	case coreNull.MatchString(v):
		return scalar{kindNull, nil, false}
	case coreBool.MatchString(v):
		return scalar{kindBool, v[0] == 't' || v[0] == 'T', false}
	case coreInt10.MatchString(v), coreInt8.MatchString(v), coreInt16.MatchString(v):
		base, digits := 10, v
		if strings.HasPrefix(v, "0o") {
			base, digits = 8, v[2:]
		} else if strings.HasPrefix(v, "0x") {
			base, digits = 16, v[2:]
		}
		x, err := strconv.ParseInt(digits, base, 64)
		if err != nil {
			return scalar{kindInt, v, true}
		}
		return scalar{kindInt, x, false}
	case coreFloat.MatchString(v):
		x, err := strconv.ParseFloat(v, 64)
		if err != nil { // out of range: ±Inf, as YAML processors do
			x = math.Inf(1)
			if v[0] == '-' {
				x = math.Inf(-1)
			}
		}
		return scalar{kindFloat, x, false}
	case coreInf.MatchString(v):
		if v[0] == '-' {
			return scalar{kindFloat, math.Inf(-1), false}
		}
		return scalar{kindFloat, math.Inf(1), false}
	case coreNaN.MatchString(v):
		return scalar{kindFloat, math.NaN(), false}
	}
	return scalar{kindStr, v, false}
}

// parseYAML parses data (without a byte order mark) as one YAML document
// and returns the document's root node, or nil when the file holds no
// document (empty, or only comments). Errors are *Error values with
// ErrSyntax and the line when it is known.
func parseYAML(data []byte) (*yaml.Node, *Error) {
	return parseDoc(acceptYAML12(data), true)
}

// parseDoc is parseYAML; retry allows one more parse to locate an unknown
// alias.
func parseDoc(data []byte, retry bool) (*yaml.Node, *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		e := yamlSyntaxError(data, err)
		if strings.HasSuffix(e.Msg, "found unknown escape character") && retry {
			// yaml/v3 does not know YAML 1.2's "\/" escape (JSON's).
			if fixed := slashEscapes(data); fixed != nil {
				if root, e2 := parseDoc(fixed, false); e2 == nil || !strings.HasSuffix(e2.Msg, "found unknown escape character") {
					return root, e2
				}
			}
		}
		if name, ok := strings.CutPrefix(e.Msg, "unknown alias \"*"); ok && retry {
			// Parse again with the alias marked, so that the decoder
			// reports it under its key.
			if root, _ := parseDoc(markAlias(data, strings.TrimSuffix(name, `"`)), false); root != nil {
				return root, nil
			}
		}
		return nil, e
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		e := &Error{Msg: "more than one YAML document; write the configuration as one document", Err: ErrSyntax}
		if err == nil {
			e.Line, e.Column = next.Line, next.Column
		} else {
			e.Line = yamlSyntaxError(data, err).Line
		}
		return nil, e
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// yaml12Directive matches a %YAML directive line in the prologue.
var yaml12Directive = regexp.MustCompile(`^%YAML[ \t]+(1\.[0-9]+)`)

// acceptYAML12 lets a "%YAML 1.x" directive through: yaml/v3 refuses every
// version but 1.1, while YAML 1.2 processors accept 1.x documents. The
// directive only selects the version; this reader always applies YAML 1.2
// rules. Only the prologue (before the first document content) is looked
// at, and the line keeps its length, so positions do not move.
func acceptYAML12(data []byte) []byte {
	var out []byte
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data) - off
		}
		line := data[off : off+end]
		trimmed := bytes.TrimSpace(line)
		switch {
		case len(trimmed) == 0 || trimmed[0] == '#':
		case line[0] == '%':
			if m := yaml12Directive.FindSubmatchIndex(line); m != nil && string(line[m[2]:m[3]]) != "1.1" {
				if out == nil {
					out = bytes.Clone(data)
				}
				v := out[off+m[2] : off+m[3]]
				copy(v, "1.1")
				for i := 3; i < len(v); i++ {
					v[i] = ' '
				}
			}
		default:
			if out == nil {
				return data
			}
			return out
		}
		off += end + 1
	}
	if out == nil {
		return data
	}
	return out
}

// lineRE finds the "line N: " that yaml/v3 puts in its messages.
var lineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// zeroBasedProblems are the messages of yaml/v3's parser (as opposed to its
// scanner), whose line numbers it reports 0-based.
var zeroBasedProblems = []string{
	"did not find expected", "found duplicate %", "found incompatible YAML document", "found undefined tag handle",
}

// yamlSyntaxError turns a yaml/v3 parse error into a located *Error.
func yamlSyntaxError(data []byte, err error) *Error {
	msg := err.Error()
	e := &Error{Err: ErrSyntax, Cause: err}
	m := lineRE.FindStringSubmatch(msg)
	if m != nil {
		msg = msg[len(m[0]):]
	}
	if strings.HasPrefix(msg, "unknown anchor '") {
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		e.Msg = fmt.Sprintf("unknown alias %s", quote("*"+name))
		e.Line = aliasLine(data, name)
		return e
	}
	e.Msg = "invalid YAML: " + msg
	switch {
	case m != nil && m[1] != "":
		e.Line, _ = strconv.Atoi(m[1])
		for _, p := range zeroBasedProblems {
			if strings.HasPrefix(msg, p) {
				e.Line++
				break
			}
		}
	case strings.Contains(msg, "control characters") || strings.Contains(msg, "UTF-8") || strings.Contains(msg, "UTF-16"):
		e.Line, e.Msg = badCharLine(data), "invalid YAML: "+msg+" (is this a YAML text file?)"
	default:
		e.Line = 1 // yaml/v3 leaves the line out when it is the first
	}
	return e
}

// slashEscapes returns data with each "\/" escape inside a double-quoted
// scalar written as "/", or nil when there is none. It follows quoted
// scalars, comments and block scalars well enough to leave "\/" in plain
// and single-quoted scalars alone.
func slashEscapes(data []byte) []byte {
	var out []byte
	found := false
	lineStart, blockIndent := true, -1 // blockIndent >= 0: inside a block scalar deeper than it
	indent := 0
	var prev byte = '\n' // last non-blank byte before i on this line, '\n' at line start
	for i := 0; i < len(data); i++ {
		c := data[i]
		if lineStart {
			indent = 0
			for i+indent < len(data) && data[i+indent] == ' ' {
				indent++
			}
			lineStart = false
			rest := data[i+indent:]
			if blockIndent >= 0 && (indent > blockIndent || len(rest) == 0 || rest[0] == '\n' || rest[0] == '\r') {
				j := bytes.IndexByte(rest, '\n')
				if j < 0 {
					return finish(append(out, data[i:]...), nil, found)
				}
				out = append(out, data[i:i+indent+j+1]...)
				i += indent + j
				lineStart = true
				continue
			}
			blockIndent = -1
		}
		nodeStart := prev == '\n' || strings.IndexByte(":-?[{,", prev) >= 0
		switch {
		case c == '\n':
			lineStart, prev = true, '\n'
			out = append(out, c)
			continue
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			j := bytes.IndexByte(data[i:], '\n')
			if j < 0 {
				return finish(append(out, data[i:]...), nil, found)
			}
			out = append(out, data[i:i+j]...)
			i += j - 1
			continue
		case nodeStart && (c == '|' || c == '>'):
			blockIndent = indent
		case nodeStart && c == '\'':
			j := i + 1
			for j < len(data) && !(data[j] == '\'' && (j+1 >= len(data) || data[j+1] != '\'')) {
				if data[j] == '\'' {
					j++
				}
				j++
			}
			out = append(out, data[i:min(j+1, len(data))]...)
			i, prev = j, '\''
			continue
		case nodeStart && c == '"':
			out = append(out, c)
			j := i + 1
			for ; j < len(data) && data[j] != '"'; j++ {
				if data[j] == '\\' && j+1 < len(data) {
					if data[j+1] == '/' {
						found = true
					} else {
						out = append(out, '\\')
					}
					j++
				}
				out = append(out, data[j])
			}
			if j < len(data) {
				out = append(out, '"')
			}
			i, prev = j, '"'
			continue
		}
		out = append(out, c)
		switch {
		case (c == ' ' || c == '\t') && (prev == '!' || prev == '&'):
			prev = ':' // after a tag or an anchor, a node starts
		case c == '!' || c == '&':
			if nodeStart {
				prev = c
			}
		case c != ' ' && c != '\t' && c != '\r' && prev != '!' && prev != '&':
			prev = c
		}
	}
	return finish(out, nil, found)
}

// finish returns out followed by rest when found, else nil.
func finish(out, rest []byte, found bool) []byte {
	if !found {
		return nil
	}
	return append(out, rest...)
}

// unknownAliasTag marks, in a second parse, an alias whose anchor is not
// defined; the decoder reports it under its key.
const unknownAliasTag = "!edgeward-unknown-alias"

// aliasRE matches the alias *name as a whole token.
func aliasRE(name string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[\s\[\{,:-])\*` + regexp.QuoteMeta(name) + `($|[\s\]\},])`)
}

// markAlias replaces each alias *name with a tagged plain scalar.
func markAlias(data []byte, name string) []byte {
	return aliasRE(name).ReplaceAll(data, []byte("${1}"+unknownAliasTag+" "+name+"${2}"))
}

// aliasLine returns the line of the first "*name" alias in data, or 0.
func aliasLine(data []byte, name string) int {
	loc := aliasRE(name).FindIndex(data)
	if loc == nil {
		return 0
	}
	return 1 + bytes.Count(data[:loc[0]+1], []byte("\n"))
}

// badCharLine returns the line of the first byte that is not valid UTF-8 or
// is a control character YAML refuses.
func badCharLine(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if (r == utf8.RuneError && size <= 1) || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return line
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return line
}

// maxQuoted bounds how much of a value an error message shows.
const maxQuoted = 64

// quote returns s as a Go-quoted string for a message, cut to maxQuoted
// runes: control characters and invalid UTF-8 are escaped, so no raw byte
// of a broken file reaches the terminal.
func quote(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == maxQuoted {
			return strconv.Quote(s[:i]) + fmt.Sprintf("… (%d bytes)", len(s))
		}
		n++
	}
	return strconv.Quote(s)
}
