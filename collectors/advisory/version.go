package advisory

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Version comparison across vendor version schemes.
//
// A version string is split into tokens: runs of digits (numbers, leading
// zeros ignored) and runs of letters (words, lower-cased); everything else
// ("." "-" "_" " " quotes) only separates tokens. A leading "v", "ver",
// "version" or "r" (V4.5, Ver.1.30, R520.2) is dropped. "V4.5 SP1" is then
// [4 5 sp 1], "520.2TCU2" [520 2 tcu 2], "1.606G" [1 606 g], "'07'" [7].
//
// The leading numbers compare first, a missing one being 0 (2.9 = 2.9.0,
// V15 SP1 = V15.0 SP1), then the remaining tokens pairwise, a missing
// token again being the number 0. Words are pre-release words (alpha, beta, rc, pre, dev,
// preview) or, all others, post-release words (sp, update, hf, tcu, patch,
// a letter suffix). At one position:
//
//	pre-release word < 0 = missing < post-release word < any number ≥ 1
//
// so 2.3 beta < 2.3 < 2.3 SP1 < 2.3 SP2 < 2.3.1 and 1.606 < 1.606G < 1.606H <
// 1.607. Two words of the same kind compare alphabetically (sp and
// servicepack, upd and update are the same word). Numbers compare by
// value.

// token is one part of a version.
type token struct {
	num  uint64
	word string // "" for a number
}

// wordRank: -1 pre-release, +1 post-release.
func (t token) rank() int {
	switch t.word {
	case "alpha", "beta", "rc", "pre", "dev", "preview":
		return -1
	}
	return 1
}

// Version is a parsed version string.
type Version struct {
	raw  string
	toks []token
	core int // the leading numbers: toks[:core]
}

// String returns the version as it was written.
func (v Version) String() string { return v.raw }

var wordAliases = map[string]string{"servicepack": "sp", "upd": "update"}

// ParseVersion parses s. It fails when s holds no digit.
func ParseVersion(s string) (Version, error) {
	v := Version{raw: strings.TrimSpace(s)}
	low := strings.ToLower(v.raw)
	for _, p := range []string{"version", "ver", "v", "r"} {
		if rest, ok := strings.CutPrefix(low, p); ok && rest != "" && (unicode.IsDigit(rune(rest[0])) || rest[0] == '.' || rest[0] == ' ') {
			low = rest
			break
		}
	}
	digits := false
	for i := 0; i < len(low); {
		c := rune(low[i])
		switch {
		case unicode.IsDigit(c):
			j := i
			for j < len(low) && unicode.IsDigit(rune(low[j])) {
				j++
			}
			n, err := strconv.ParseUint(low[i:j], 10, 64)
			if err != nil {
				return Version{}, fmt.Errorf("version %q: number %s too large", s, low[i:j])
			}
			v.toks = append(v.toks, token{num: n})
			digits = true
			i = j
		case c >= 'a' && c <= 'z':
			j := i
			for j < len(low) && low[j] >= 'a' && low[j] <= 'z' {
				j++
			}
			w := low[i:j]
			if a, ok := wordAliases[w]; ok {
				w = a
			}
			v.toks = append(v.toks, token{word: w})
			i = j
		default:
			i++
		}
	}
	switch {
	case !digits:
		return Version{}, fmt.Errorf("version %q: no number", s)
	case v.toks[0].word != "":
		return Version{}, fmt.Errorf("version %q: does not start with a number", s)
	case strings.ContainsAny(low, "<>=,*"):
		return Version{}, fmt.Errorf("version %q: operator or wildcard inside a version", s)
	}
	for v.core < len(v.toks) && v.toks[v.core].word == "" {
		v.core++
	}
	return v, nil
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
// The leading numbers compare first, padded with zeros ("V15 SP1" equals
// "V15.0 SP1"), then the rest token by token.
func (v Version) Compare(w Version) int {
	for i := 0; i < max(v.core, w.core); i++ {
		if c := compareTokens(tokenAt(v.toks[:v.core], i), tokenAt(w.toks[:w.core], i)); c != 0 {
			return c
		}
	}
	a, b := v.toks[v.core:], w.toks[w.core:]
	for i := 0; i < max(len(a), len(b)); i++ {
		if c := compareTokens(tokenAt(a, i), tokenAt(b, i)); c != 0 {
			return c
		}
	}
	return 0
}

func tokenAt(ts []token, i int) token {
	if i < len(ts) {
		return ts[i]
	}
	return token{} // the number 0
}

// order places a token on the line pre-release word < 0 < post-release
// word < numbers ≥ 1.
func order(t token) int {
	switch {
	case t.word != "":
		return t.rank() * 2 // -2 or +2
	case t.num == 0:
		return 0
	}
	return 3
}

func compareTokens(a, b token) int {
	oa, ob := order(a), order(b)
	switch {
	case oa != ob:
		return sign(oa - ob)
	case a.word != "":
		return strings.Compare(a.word, b.word)
	case a.num < b.num:
		return -1
	case a.num > b.num:
		return 1
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// Range is one version range of an advisory: every clause must hold. A
// clause is an operator (<, <=, >, >=, =) and a version; a bare version
// means =; "*" alone means every version.
type Range struct {
	raw     string
	all     bool
	clauses []clause
}

type clause struct {
	op string
	v  Version
}

// String returns the range as it was written.
func (r Range) String() string { return r.raw }

// ParseRange parses a range such as "< 2.9.2", ">= 20, < 33.013",
// "= V4.5 SP1" or "*".
func ParseRange(s string) (Range, error) {
	r := Range{raw: strings.TrimSpace(s)}
	if r.raw == "*" {
		r.all = true
		return r, nil
	}
	if r.raw == "" {
		return Range{}, fmt.Errorf("empty version range")
	}
	for _, part := range strings.Split(r.raw, ",") {
		part = strings.TrimSpace(part)
		op := "="
		for _, o := range []string{"<=", ">=", "<", ">", "="} {
			if rest, ok := strings.CutPrefix(part, o); ok {
				op, part = o, strings.TrimSpace(rest)
				break
			}
		}
		v, err := ParseVersion(part)
		if err != nil {
			return Range{}, fmt.Errorf("version range %q: %w", s, err)
		}
		r.clauses = append(r.clauses, clause{op: op, v: v})
	}
	return r, nil
}

// Contains reports whether v is in the range.
func (r Range) Contains(v Version) bool {
	if r.all {
		return true
	}
	for _, c := range r.clauses {
		d := v.Compare(c.v)
		ok := false
		switch c.op {
		case "<":
			ok = d < 0
		case "<=":
			ok = d <= 0
		case ">":
			ok = d > 0
		case ">=":
			ok = d >= 0
		case "=":
			ok = d == 0
		}
		if !ok {
			return false
		}
	}
	return true
}
