package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The deliberate differences between this loader (YAML 1.2 core schema) and
// PyYAML (YAML 1.1): plain scalars that YAML 1.1 types and YAML 1.2 does not,
// or types differently. configs/edgeward.example.yaml lists them for users.
var deliberate = []struct {
	name string
	re   *regexp.Regexp
}{
	{"yes/no/on/off are strings", regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$`)},
	{"a leading zero is decimal, not octal", regexp.MustCompile(`^[-+]?0[0-9_]+$`)},
	{"0o17 is octal", regexp.MustCompile(`^0o[0-7]+$`)},
	{"0b101 is a string", regexp.MustCompile(`^[-+]?0b[0-1_]+$`)},
	{"digits with _ are strings", regexp.MustCompile(`^[-+]?[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?$`)},
	{"1:20 (base 60) is a string", regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`)},
	{"dates and times are strings", regexp.MustCompile(`^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$`)},
	{"1e3 is a number", regexp.MustCompile(`^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$`)},
	{"= and << are plain strings or refused", regexp.MustCompile(`^(?:=|<<)$`)},
}

// deliberateDifference names the deliberate difference a plain scalar text
// falls under, if any.
func deliberateDifference(text string) (string, bool) {
	for _, d := range deliberate {
		if d.re.MatchString(text) {
			return d.name, true
		}
	}
	return "", false
}

// pyResult is PyYAML's reading of one document.
type pyResult struct {
	OK    bool   `json:"ok"`
	Data  any    `json:"data"`
	Error string `json:"error"`
}

// pyyaml loads every document with PyYAML (/usr/bin/python3 with
// python3-yaml, which .ci/run installs, or else the first python3 on PATH).
// Without it the test skips, except on Linux under CI, where it fails: the
// Windows lane runs under Wine, where no Python exists.
func pyyaml(t *testing.T, docs []string) []pyResult {
	t.Helper()
	var python string
	var err error
	for _, candidate := range []string{"/usr/bin/python3", "python3"} {
		if python, err = exec.LookPath(candidate); err == nil {
			if err = exec.Command(python, "-c", "import yaml").Run(); err == nil {
				break
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" && runtime.GOOS == "linux" {
			t.Fatalf("PyYAML, the oracle of this test, is missing (apt-get install python3-yaml): %v", err)
		}
		t.Skipf("skipping: PyYAML is not installed (apt-get install python3-yaml): %v", err)
	}
	in := make([]string, len(docs))
	for i, d := range docs {
		in[i] = base64.StdEncoding.EncodeToString([]byte(d))
	}
	stdin, _ := json.Marshal(in)
	cmd := exec.Command(python, "testdata/pyyaml_load.py")
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyyaml_load.py: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	res := make([]pyResult, 0, len(docs))
	for dec.More() {
		var r pyResult
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	if len(res) != len(docs) {
		t.Fatalf("PyYAML answered %d of %d documents", len(res), len(docs))
	}
	return res
}

// leaf is a scalar as this loader reads it, with its text.
type leaf struct {
	value any
	text  string
	plain bool
}

// generic converts a parsed node to Go values whose scalars are leaves,
// following aliases (the corpus has no recursive ones).
func generic(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return generic(n.Alias)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := generic(c)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := generic(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[n.Content[i].Value] = v
		}
		return out, nil
	}
	s, err := resolveScalar(n)
	if err != nil {
		return nil, err
	}
	return leaf{s.value, n.Value, isPlain(n)}, nil
}

// differ compares this loader's reading (ours) with PyYAML's (py) and
// returns the differences that no deliberate difference explains; it counts
// the explained ones in why.
func differ(path string, ours, py any, why map[string]int) []string {
	switch o := ours.(type) {
	case map[string]any:
		p, ok := py.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: mapping vs PyYAML %#v", path, py)}
		}
		var out []string
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			pv, ok := p[k]
			if !ok && resolvePlain(k).kind != kindStr {
				// A key YAML types (1.5, 12, true) is kept as its text.
				pv, ok = p["$key:"+pyRepr(resolvePlain(k).value)]
				if ok {
					why["keys are their text"]++
				}
			}
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: key missing in PyYAML's reading", path, k))
				continue
			}
			out = append(out, differ(path+"."+k, o[k], pv, why)...)
		}
		if len(p) != len(o) {
			out = append(out, fmt.Sprintf("%s: %d keys vs PyYAML's %d", path, len(o), len(p)))
		}
		return out
	case []any:
		p, ok := py.([]any)
		if !ok || len(p) != len(o) {
			return []string{fmt.Sprintf("%s: list of %d vs PyYAML %#v", path, len(o), py)}
		}
		var out []string
		for i := range o {
			out = append(out, differ(fmt.Sprintf("%s[%d]", path, i), o[i], p[i], why)...)
		}
		return out
	case leaf:
		if sameScalar(o.value, py) {
			return nil
		}
		if name, ok := deliberateDifference(o.text); ok && o.plain {
			why[name]++
			return nil
		}
		return []string{fmt.Sprintf("%s: %q read as %#v, PyYAML %#v", path, o.text, o.value, py)}
	}
	return []string{fmt.Sprintf("%s: unexpected %T", path, ours)}
}

// pyRepr is Python's repr of a scalar, as the oracle writes a key that is
// not a string.
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e16 {
			return strconv.FormatFloat(x, 'f', 1, 64)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// sameScalar compares one of our scalar values with PyYAML's JSON value.
func sameScalar(v, py any) bool {
	switch x := v.(type) {
	case nil:
		return py == nil
	case bool, string:
		return py == v
	case int64:
		n, ok := py.(json.Number)
		return ok && n.String() == fmt.Sprint(x)
	case float64:
		if m, ok := py.(map[string]any); ok {
			switch m["$float"] {
			case "nan":
				return math.IsNaN(x)
			case "inf":
				return math.IsInf(x, 1)
			case "-inf":
				return math.IsInf(x, -1)
			}
			return false
		}
		n, ok := py.(json.Number)
		if !ok || !strings.ContainsAny(n.String(), ".eE") {
			return false
		}
		f, err := n.Float64()
		return err == nil && f == x
	}
	return false
}

// typedMatches checks the loaded Config against this loader's generic
// reading of the same document, field by field: the strict decoder must
// read each value the way the generic reading does.
func typedMatches(path string, v reflect.Value, ours any) []string {
	if l, ok := ours.(leaf); ok && l.value == nil {
		return nil // null keeps the default
	}
	switch v.Type() {
	case durationType:
		d, err := ParseDuration(ours.(leaf).value.(string))
		if err != nil || Duration(v.Int()) != d {
			return []string{fmt.Sprintf("%s: %v vs %v", path, v.Interface(), ours)}
		}
		return nil
	case sizeType:
		var want Size
		switch x := ours.(leaf).value.(type) {
		case int64:
			want = Size(x)
		case string:
			want, _ = ParseSize(x)
		}
		if Size(v.Int()) != want {
			return []string{fmt.Sprintf("%s: %v vs %v", path, v.Interface(), ours)}
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		var out []string
		for k, val := range ours.(map[string]any) {
			idx, ok := fieldIndex(v.Type(), k)
			if !ok {
				return []string{path + "." + k + ": no such field"}
			}
			out = append(out, typedMatches(joinKey(path, k), v.Field(idx), val)...)
		}
		return out
	case reflect.Slice:
		l := ours.([]any)
		if v.Len() != len(l) {
			return []string{fmt.Sprintf("%s: %d items vs %d", path, v.Len(), len(l))}
		}
		var out []string
		for i := range l {
			out = append(out, typedMatches(fmt.Sprintf("%s[%d]", path, i), v.Index(i), l[i])...)
		}
		return out
	case reflect.Map:
		if fmt.Sprintf("%#v", v.Interface()) != fmt.Sprintf("%#v", unwrap(ours)) { // NaN-safe
			return []string{fmt.Sprintf("%s: %#v vs %#v", path, v.Interface(), unwrap(ours))}
		}
		return nil
	case reflect.String:
		l := ours.(leaf)
		if s, ok := l.value.(string); (ok && v.String() != s) || (!ok && v.String() != l.text) {
			return []string{fmt.Sprintf("%s: %q vs %#v", path, v.String(), l)}
		}
		return nil
	}
	l := ours.(leaf)
	var got any
	switch v.Kind() {
	case reflect.Bool:
		got = v.Bool()
	default:
		got = v.Int()
	}
	if got != l.value {
		return []string{fmt.Sprintf("%s: %v vs %#v", path, got, l)}
	}
	return nil
}

// unwrap replaces leaves with their values.
func unwrap(v any) any {
	switch x := v.(type) {
	case leaf:
		return x.value
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = unwrap(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = unwrap(e)
		}
		return out
	}
	return v
}

// TestYAMLAgreesWithPyYAML is the differential test: a generated corpus of
// configuration documents is read by this loader and by PyYAML, and wherever
// both accept a document they must read the same data, apart from the
// deliberate YAML 1.2 differences listed above (counted). The strict
// decoder's Config must hold what the generic reading holds. Documents
// broken on purpose must be refused by the loader whenever PyYAML finds
// them malformed.
func TestYAMLAgreesWithPyYAML(t *testing.T) {
	t.Parallel()
	g := &gen{r: rand.New(rand.NewPCG(12, 2024))}
	const valid, broken = 700, 150
	docs := make([]string, 0, valid+broken)
	for range valid {
		docs = append(docs, g.document())
	}
	for range broken {
		docs = append(docs, g.mutate(g.document()))
	}
	docs = append(docs, handValid...)
	docs = append(docs, handBroken...)
	py := pyyaml(t, docs)

	loader := Loader{AgentID: func() string { return "diff" }, LookupEnv: func(string) (string, bool) { return "", false }}
	why := map[string]int{}
	var bothAccept, bothRefuse, onlyPyAccepts, onlyOursAccepts, failures int
	refusedBecause := map[string]int{}
	for i, doc := range docs {
		fail := func(format string, args ...any) {
			failures++
			if failures <= 10 {
				t.Errorf("document %d:\n%s\n%s", i, doc, fmt.Sprintf(format, args...))
			}
		}
		c, err := loader.Parse("doc.yaml", []byte(doc))
		if hand := i - valid - broken; hand >= 0 && hand < len(handValid) && err != nil {
			fail("the loader refuses a valid document: %v", err)
		}
		root, perr := parseYAML(bytes.TrimPrefix([]byte(doc), []byte("\ufeff")))
		switch {
		case err != nil && !py[i].OK:
			bothRefuse++
			continue
		case err == nil && !py[i].OK:
			onlyOursAccepts++
			fail("the loader accepts what PyYAML refuses: %s", py[i].Error)
			continue
		case err != nil:
			onlyPyAccepts++
			var ce *Error
			errors.As(err, &ce)
			if errors.Is(err, ErrSyntax) && !strings.Contains(err.Error(), "merge keys") {
				fail("the loader finds a YAML syntax error that PyYAML does not: %v", err)
			}
			refusedBecause[fmt.Sprint(ce.Err)]++
			if testing.Verbose() && onlyPyAccepts < 40 {
				t.Logf("strict refusal: %v", err)
			}
			if perr != nil {
				continue // the strict reading of a document PyYAML accepts
			}
		default:
			bothAccept++
		}
		if perr != nil || root == nil {
			if py[i].Data != nil {
				fail("empty reading, PyYAML %#v (%v)", py[i].Data, perr)
			}
			continue
		}
		ours, gerr := generic(root)
		if gerr != nil {
			if err == nil {
				fail("generic reading fails on an accepted document: %v", gerr)
			}
			continue
		}
		for _, d := range differ("", ours, py[i].Data, why) {
			fail("differs from PyYAML: %s", d)
		}
		if err == nil {
			for _, d := range typedMatches("", reflect.ValueOf(c), ours) {
				fail("Config differs from the document: %s", d)
			}
		}
	}
	t.Logf("corpus: %d documents (%d generated valid, %d generated broken, %d hand-written)", len(docs), valid, broken, len(handValid)+len(handBroken))
	t.Logf("both accept: %d (same data in all, deliberate YAML 1.2 differences counted below); both refuse: %d; "+
		"only PyYAML accepts: %d (strictness: %v); only the loader accepts: %d; unexplained: %d",
		bothAccept, bothRefuse, onlyPyAccepts, refusedBecause, onlyOursAccepts, failures)
	t.Logf("deliberate differences in scalars: %v", why)
	example, err := os.ReadFile("../../../configs/edgeward.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deliberate {
		if !bytes.Contains(example, []byte(d.name)) {
			t.Errorf("configs/edgeward.example.yaml does not list the deliberate difference %q", d.name)
		}
	}
	if bothAccept < 500 {
		t.Errorf("only %d documents accepted by both; want at least 500", bothAccept)
	}
	for _, d := range deliberate[:8] {
		if why[d.name] == 0 {
			t.Errorf("the corpus never exercised the deliberate difference %q", d.name)
		}
	}
}

// handValid are valid documents of the issue and edge cases the generator
// does not write; the loader must accept each.
var handValid = []string{
	"uplink: { brokers: [tcp://127.0.0.1:1883] }\n",
	"collectors: {passive: {files: [C:\\captures\\a.pcap], interfaces: [eth0:1]}}\n",
	"%YAML 1.2\n---\nagent: {id: gw-1}\n",
	"? agent\n: ? id\n  : gw-2\n",
	"agent: {? id : gw-3}\n",
	"collectors:\n  baseline:\n    site_policy: {a: {b: [x:1, 'y: 2', {c: d}]}}\n",
	"collectors:\n  baseline:\n    site_policy:\n      text: |\n        line 1\n        line 2\n      folded: >\n        a\n        b\n\n        c\n      keep: |+\n        x\n\n      strip: >-\n        y\n",
	"\ufeff%YAML 1.2\r\n---\r\nbuffer:\r\n  path: \"C:\\\\tmp\\tb\\u00e9.db\"\r\n",
	"uplink: {\"brokers\": [\"tcp:\\/\\/127.0.0.1:1883\"], \"gzip\": true}\n",
	"agent:\n  id: gw-4 # comment\n  # a whole-line comment\n  site: 'it''s'\n",
	"collectors:\n  baseline:\n    site_policy:\n      big: 9223372036854775807\n      neg: -9223372036854775808\n      hex: 0xFF\n      oct: 0o777\n      f: 3.25\n",
	"collectors:\n  baseline:\n    self_declared: {\"quoted key\": 'v', plain key: w, 'single': \"\\u00e9\\x41\"}\n",
	"agent: !!map {id: !!str 0042}\n",
	"uplink:\n  in_flight: !!int \"12\"\n",
}

// handBroken are malformed documents.
var handBroken = []string{
	"a: [1\n",
	"agent:\n\tid: x\n",
	"agent: {id: x}\n---\nagent: {id: y}\n",
}
