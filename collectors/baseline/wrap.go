package baseline

import (
	"io"
	"strings"
	"unicode/utf8"
)

// isWide reports whether a terminal shows r in two columns (East Asian
// wide and fullwidth characters).
func isWide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115F || // Hangul Jamo
		r >= 0x2E80 && r <= 0xA4CF && r != 0x303F || // CJK radicals .. Yi
		r >= 0xAC00 && r <= 0xD7A3 || // Hangul syllables
		r >= 0xF900 && r <= 0xFAFF || // CJK compatibility ideographs
		r >= 0xFE30 && r <= 0xFE4F || // CJK compatibility forms
		r >= 0xFF00 && r <= 0xFF60 || // fullwidth forms
		r >= 0xFFE0 && r <= 0xFFE6 ||
		r >= 0x20000 && r <= 0x3FFFD)
}

// displayWidth is the number of terminal columns s takes; ANSI escape
// sequences take none.
func displayWidth(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b { // skip CSI ... final byte
			j := i + 1
			if j < len(s) && s[j] == '[' {
				j++
				for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
					j++
				}
			}
			i = j + 1
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if isWide(r) {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// padWidth pads s with spaces to n terminal columns.
func padWidth(s string, n int) string {
	if d := n - displayWidth(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

// wrapText breaks text into lines, the first at most first columns wide and
// the others at most rest: at spaces, next to wide characters, and inside a
// word only when the word alone is wider than a line.
func wrapText(text string, first, rest int) []string {
	first, rest = max(first, 10), max(rest, 10)
	var lines []string
	var cur strings.Builder
	curW, limit := 0, first
	flush := func() {
		lines = append(lines, strings.TrimRight(cur.String(), " "))
		cur.Reset()
		curW, limit = 0, rest
	}
	for _, wd := range splitWords(text) {
		word, w := wd.text, displayWidth(wd.text)
		space := curW > 0 && !wd.joined
		need := w
		if space {
			need++
		}
		if curW > 0 && curW+need > limit {
			flush()
			space = false
		}
		if space {
			cur.WriteByte(' ')
			curW++
		}
		for w > limit-curW { // a word wider than a whole line: break it
			head, hw := cutWidth(word, limit-curW)
			if head == "" && curW == 0 { // not even one character fits
				head, hw = cutWidth(word, 2)
			}
			cur.WriteString(head)
			flush()
			word, w = word[len(head):], w-hw
		}
		cur.WriteString(word)
		curW += w
	}
	if cur.Len() > 0 || len(lines) == 0 {
		lines = append(lines, strings.TrimRight(cur.String(), " "))
	}
	return lines
}

// word is a unit wrapText does not break unless it must; joined says it
// follows the previous word without a space.
type word struct {
	text   string
	joined bool
}

// splitWords splits text at spaces; every wide character is a word of its
// own, joined to its neighbours, so that a line may break next to it.
func splitWords(text string) []word {
	var out []word
	var b strings.Builder
	joined, afterSpace := false, true
	end := func() {
		if b.Len() > 0 {
			out = append(out, word{b.String(), joined})
			b.Reset()
		}
	}
	for _, r := range text {
		switch {
		case r == ' ' || r == '\t' || r == '\n':
			end()
			afterSpace = true
		case isWide(r):
			end()
			out = append(out, word{string(r), !afterSpace})
			afterSpace = false
		default:
			if b.Len() == 0 {
				joined = !afterSpace
			}
			b.WriteRune(r)
			afterSpace = false
		}
	}
	end()
	return out
}

// cutWidth returns the longest prefix of s at most n columns wide and its
// width.
func cutWidth(s string, n int) (string, int) {
	w := 0
	for i, r := range s {
		rw := 1
		if isWide(r) {
			rw = 2
		}
		if w+rw > n {
			return s[:i], w
		}
		w += rw
	}
	return s, w
}

// nbsp is a space wrapText does not break at; writeWrapped prints it as a
// space.
const nbsp = "\u00a0"

// joinUnbroken joins items with sep so that wrapText breaks only between
// items (unless one is wider than a line).
func joinUnbroken(items []string, sep string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = strings.ReplaceAll(s, " ", nbsp)
	}
	return strings.Join(out, sep)
}

// writeWrapped writes prefix (which may hold ANSI codes) and text wrapped to
// width columns; the lines after the first are indented by indent spaces.
func writeWrapped(w io.Writer, prefix string, indent int, text string, width int) {
	pad := strings.Repeat(" ", indent)
	if width-displayWidth(prefix) < 12 { // too narrow: the text starts below the prefix
		io.WriteString(w, strings.TrimRight(prefix, " ")+"\n")
		prefix = pad
	}
	for i, l := range wrapText(text, width-displayWidth(prefix), width-indent) {
		l = strings.ReplaceAll(l, nbsp, " ")
		if i == 0 {
			io.WriteString(w, prefix+l+"\n")
		} else {
			io.WriteString(w, pad+l+"\n")
		}
	}
}
