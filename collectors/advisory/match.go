package advisory

import (
	"fmt"
	"slices"
	"strings"
)

// Field is one named string of a subject, quoted in a match's evidence.
type Field struct {
	Name  string `json:"field"`
	Value string `json:"value"`
}

// Subject is an identified product: a device (Modbus device
// identification, OPC UA build info) or installed software.
type Subject struct {
	// Vendor is who the subject says made it ("" when unknown: only the
	// product patterns then decide).
	Vendor Field
	// Products are the strings that name the product (product code,
	// product name, model name, software name).
	Products []Field
	// Version is the subject's version ("" when unknown).
	Version Field
}

// Match is one advisory a subject matched, with the evidence.
type Match struct {
	Advisory *Advisory
	Affected *Affected
	// Product is the subject's product string that matched Pattern.
	Product Field
	Pattern string
	// Range is the version range that holds ("*": every version).
	Range string
}

// Match returns the advisories s matches, at most one per advisory (its
// first matching affected entry), in list order. A nil List matches
// nothing.
func (l *List) Match(s Subject) []Match {
	if l == nil {
		return nil
	}
	vendor := Normalize(s.Vendor.Value)
	ver, verErr := ParseVersion(s.Version.Value)
	var out []Match
	for i := range l.Advisories {
		a := &l.Advisories[i]
		for j := range a.Affected {
			f := &a.Affected[j]
			if vendor != "" && !matchAny(f.vendors, vendor) {
				continue
			}
			prod, pat, ok := f.matchProduct(s.Products)
			if !ok {
				continue
			}
			rng, ok := f.matchVersion(ver, verErr == nil)
			if !ok {
				continue
			}
			out = append(out, Match{Advisory: a, Affected: f, Product: prod, Pattern: pat, Range: rng})
			break
		}
	}
	return out
}

// matchProduct returns the first product string that a products pattern
// matches and no exclude pattern does.
func (f *Affected) matchProduct(products []Field) (Field, string, bool) {
	for _, p := range products {
		n := Normalize(p.Value)
		if n == "" || matchAny(f.exclude, n) {
			continue
		}
		for k, g := range f.products {
			if g.match(n) {
				return p, f.Products[k], true
			}
		}
	}
	return Field{}, "", false
}

// matchVersion returns the first range that holds for v; a subject
// without a (parsable) version matches only "*".
func (f *Affected) matchVersion(v Version, known bool) (string, bool) {
	for _, r := range f.ranges {
		if r.all || (known && r.Contains(v)) {
			return r.String(), true
		}
	}
	return "", false
}

// Severity grades a CVSS base score as the CVSS v3 qualitative scale does:
// "critical" from 9.0, "high" from 7.0, "medium" from 4.0, "low" above 0,
// else "info".
func Severity(score float64) string {
	switch {
	case score >= 9:
		return "critical"
	case score >= 7:
		return "high"
	case score >= 4:
		return "medium"
	case score > 0:
		return "low"
	}
	return "info"
}

// IDs returns the advisory ids and aliases of ms, without repeats.
func IDs(ms []Match) []string {
	var out []string
	for _, m := range ms {
		for _, id := range append([]string{m.Advisory.ID}, m.Advisory.Aliases...) {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// Summary describes a list in one line.
func (l *List) Summary() string {
	var vendors []string
	for _, a := range l.Advisories {
		if !slices.Contains(vendors, a.Vendor) {
			vendors = append(vendors, a.Vendor)
		}
	}
	return fmt.Sprintf("%d advisories of %s, updated %s", len(l.Advisories), strings.Join(vendors, ", "), l.Updated)
}
