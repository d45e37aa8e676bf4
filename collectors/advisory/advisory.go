// Package advisory matches identified devices and installed software against
// a list of known ICS vulnerabilities (advisories), offline.
//
// # The list
//
// An advisory list is one JSON document; the binary embeds one
// (advisories.json, built from published advisory texts: CISA ICS
// advisories, vendor SSA/SEVD/PSIRT notices, JVN, CVE records of the vendor
// or CERT), and `edgeward advisories update FILE` or the config key
// advisories.file replaces it without a new binary. Its format,
// "edgeward.advisories/v1":
//
//	{
//	  "format": "edgeward.advisories/v1",
//	  "updated": "2026-12-01",            // date of the list, YYYY-MM-DD
//	  "advisories": [{
//	    "id": "ICSA-21-152-01",           // advisory id, unique in the list
//	    "aliases": ["SSA-434534", "CVE-2020-15782"],
//	    "title": "Siemens SIMATIC S7-1200 and S7-1500 CPU families",
//	    "vendor": "Siemens",
//	    "published": "2021-06-01",        // optional, YYYY-MM-DD
//	    "cvss": {"version": "3.1", "score": 8.1, "vector": "AV:N/AC:H/..."},
//	    "source": "https://...",          // where the entry was taken from
//	    "note": "...",                    // optional: how the text was read
//	    "affected": [{
//	      "product": "SIMATIC S7-1200 CPU family",       // as the advisory names it
//	      "vendors": ["siemens*"],                       // patterns
//	      "products": ["*s71200*"],                      // patterns
//	      "exclude": ["*plcsim*"],                       // optional patterns
//	      "versions": ["< V4.5.0"],                      // ranges, any may hold
//	      "condition": "..."                             // optional
//	    }]
//	  }]
//	}
//
// Patterns are matched against normalised strings: lower-case letters and
// digits only, every other character dropped ("BMX P34 2020" is
// "bmxp342020", "S7-1200" is "s71200"); "*" matches any run. A subject
// matches an affected entry when its vendor (if it has one) matches a
// vendors pattern, one of its product strings matches a products pattern
// and no exclude pattern, and its version is in one of the ranges (see
// ParseRange and ParseVersion; "*" is every version, and is the only range
// a subject without a version can match). A condition the agent cannot
// check (a serial number range, a setting) is carried into the match as
// evidence rather than dropped.
//
// Load validates everything: a malformed list is refused with the entry
// and field that is wrong, and the previous (or embedded) list stays.
package advisory

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Format is the value of a list's "format" field.
const Format = "edgeward.advisories/v1"

// MaxListBytes bounds an advisory list file.
const MaxListBytes = 16 << 20

//go:embed advisories.json
var embedded []byte

// ErrInvalid is wrapped by every error about a malformed list.
var ErrInvalid = errors.New("invalid advisory list")

// List is a validated advisory list.
type List struct {
	Format     string     `json:"format"`
	Updated    string     `json:"updated"`
	Advisories []Advisory `json:"advisories"`
}

// Advisory is one published advisory.
type Advisory struct {
	ID        string     `json:"id"`
	Aliases   []string   `json:"aliases,omitempty"`
	Title     string     `json:"title"`
	Vendor    string     `json:"vendor"`
	Published string     `json:"published,omitempty"`
	CVSS      CVSS       `json:"cvss"`
	Source    string     `json:"source"`
	Note      string     `json:"note,omitempty"`
	Affected  []Affected `json:"affected"`
}

// CVSS is an advisory's base score (the highest of its vulnerabilities).
type CVSS struct {
	Version string  `json:"version"`
	Score   float64 `json:"score"`
	Vector  string  `json:"vector,omitempty"`
}

// Affected is one affected product of an advisory.
type Affected struct {
	Product   string   `json:"product"`
	Vendors   []string `json:"vendors"`
	Products  []string `json:"products"`
	Exclude   []string `json:"exclude,omitempty"`
	Versions  []string `json:"versions"`
	Condition string   `json:"condition,omitempty"`

	vendors, products, exclude []glob
	ranges                     []Range
}

// Embedded returns the list built into the binary.
func Embedded() (*List, error) { return Parse("embedded advisories.json", embedded) }

// Load reads and validates the list in the file at path.
func Load(path string) (*List, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read advisory list: %w", err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, MaxListBytes+1)); err != nil {
		return nil, fmt.Errorf("read advisory list %s: %w", path, err)
	}
	if b.Len() > MaxListBytes {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrInvalid, path, MaxListBytes)
	}
	return Parse(path, b.Bytes())
}

// Parse validates the list in data; name is the file name errors quote.
// Unknown fields are refused, so a typo cannot silently drop a match rule.
func Parse(name string, data []byte) (*List, error) {
	var l List
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&l); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrInvalid, name, line, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: %s: data after the list", ErrInvalid, name)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	return &l, nil
}

func (l *List) validate() error {
	if l.Format != Format {
		return fmt.Errorf("format %q, want %q", l.Format, Format)
	}
	if _, err := time.Parse(time.DateOnly, l.Updated); err != nil {
		return fmt.Errorf("updated %q: want a date YYYY-MM-DD", l.Updated)
	}
	if len(l.Advisories) == 0 {
		return errors.New("no advisories")
	}
	seen := map[string]int{}
	for i := range l.Advisories {
		a := &l.Advisories[i]
		at := fmt.Sprintf("advisories[%d] (%s)", i, a.ID)
		switch {
		case strings.TrimSpace(a.ID) == "":
			return fmt.Errorf("advisories[%d]: id: empty", i)
		case a.Title == "" || a.Vendor == "":
			return fmt.Errorf("%s: title and vendor are required", at)
		case a.CVSS.Score < 0 || a.CVSS.Score > 10:
			return fmt.Errorf("%s: cvss.score %v: must be 0 to 10", at, a.CVSS.Score)
		case a.CVSS.Version == "":
			return fmt.Errorf("%s: cvss.version: empty", at)
		case !strings.HasPrefix(a.Source, "https://") && !strings.HasPrefix(a.Source, "http://"):
			return fmt.Errorf("%s: source %q: want the URL the entry was taken from", at, a.Source)
		case len(a.Affected) == 0:
			return fmt.Errorf("%s: affected: empty", at)
		}
		if j, dup := seen[a.ID]; dup {
			return fmt.Errorf("%s: id repeats advisories[%d]", at, j)
		}
		seen[a.ID] = i
		if a.Published != "" {
			if _, err := time.Parse(time.DateOnly, a.Published); err != nil {
				return fmt.Errorf("%s: published %q: want YYYY-MM-DD", at, a.Published)
			}
		}
		for j := range a.Affected {
			if err := a.Affected[j].compile(); err != nil {
				return fmt.Errorf("%s: affected[%d] (%s): %v", at, j, a.Affected[j].Product, err)
			}
		}
	}
	return nil
}

func (f *Affected) compile() error {
	if f.Product == "" {
		return errors.New("product: empty")
	}
	var err error
	if f.vendors, err = compilePatterns("vendors", f.Vendors, true); err != nil {
		return err
	}
	if f.products, err = compilePatterns("products", f.Products, true); err != nil {
		return err
	}
	if f.exclude, err = compilePatterns("exclude", f.Exclude, false); err != nil {
		return err
	}
	if len(f.Versions) == 0 {
		return errors.New(`versions: empty (write "*" for every version)`)
	}
	for _, v := range f.Versions {
		r, err := ParseRange(v)
		if err != nil {
			return fmt.Errorf("versions: %v", err)
		}
		f.ranges = append(f.ranges, r)
	}
	return nil
}

// compilePatterns turns glob patterns into globs over normalised strings. A
// pattern must keep at least three letters or digits (so that "*" alone
// cannot match every product).
func compilePatterns(field string, pats []string, required bool) ([]glob, error) {
	if required && len(pats) == 0 {
		return nil, fmt.Errorf("%s: empty", field)
	}
	out := make([]glob, 0, len(pats))
	for _, p := range pats {
		n := normalizePattern(p)
		if len(strings.ReplaceAll(n, "*", "")) < 3 {
			return nil, fmt.Errorf("%s: pattern %q: needs at least three letters or digits", field, p)
		}
		out = append(out, glob(strings.Split(n, "*")))
	}
	return out, nil
}

// glob is a pattern whose only wildcard is "*" (any run of characters),
// held as the literal parts between the stars.
type glob []string

// match reports whether the whole of s matches g: s starts with the first
// part, ends with the last, and holds the parts between in order. Taking
// each middle part at its leftmost place is enough: a later place leaves
// no more room for the parts after it.
func (g glob) match(s string) bool {
	if len(g) == 1 {
		return s == g[0]
	}
	first, last := g[0], g[len(g)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, part := range g[1 : len(g)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return true
}

// matchAny reports whether s matches one of gs.
func matchAny(gs []glob, s string) bool {
	return slices.ContainsFunc(gs, func(g glob) bool { return g.match(s) })
}

// Normalize lower-cases s and keeps only its letters and digits.
func Normalize(s string) string { return normalize(s, false) }

func normalizePattern(s string) string { return normalize(s, true) }

func normalize(s string, star bool) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || (star && r == '*') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
