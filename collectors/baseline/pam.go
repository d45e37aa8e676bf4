package baseline

import (
	"errors"
	"path"
	"strconv"
	"strings"
)

// This file reads PAM service files as libpam 1.5 does (pam_handlers.c):
// a logical line is continued by a backslash at the end of a physical line
// (blank and comment lines in between are skipped), a '#' anywhere ends the
// line, the type, control and include keywords are case-insensitive, a
// leading '-' on the type only silences a missing module, a bracketed
// control ([success=ok default=ignore]) and bracketed arguments ([a b]) are
// single words, "include"/"substack" pull in the lines of the same type of
// another file and "@include" pulls in all of its lines. Relative include
// names are files in /etc/pam.d. Lines libpam cannot use (unknown type, no
// module) never run and are dropped.

// pamLine is one rule of a PAM stack.
type pamLine struct {
	Type    string // auth, account, password or session (lowercase)
	Control string // lowercase keyword, or the bracketed value list
	Module  string
	Args    []string
	Where   string // absolute file:line
}

// arg returns the value of name=value in the arguments and whether the bare
// flag or the pair is present.
func (p pamLine) arg(name string) (string, bool) {
	for _, a := range p.Args {
		if a == name {
			return "", true
		}
		if k, v, ok := strings.Cut(a, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// pamRaw is one logical line before include expansion.
type pamRaw struct {
	pamLine
	Include string // file named by include/substack/@include
	All     bool   // @include: every type
}

// errPAMContinuation is a file that ends inside a continued line: libpam
// aborts loading the service.
var errPAMContinuation = errors.New("file ends with a continued line (libpam aborts)")

// pamLogicalLines joins continued lines as _pam_assemble_line does and
// returns each logical line with the number of its first physical line.
func pamLogicalLines(b []byte) ([]string, []int, error) {
	var out []string
	var at []int
	var buf strings.Builder
	start := 0
	pending := false
	for n, l := range strings.Split(string(b), "\n") {
		s := strings.TrimLeft(l, " \n\t")
		if s == "" || s[0] == '#' {
			continue
		}
		if !pending {
			start = n + 1
		}
		if i := strings.IndexByte(s, '#'); i >= 0 {
			buf.WriteString(s[:i])
			out, at = append(out, buf.String()), append(at, start)
			buf.Reset()
			pending = false
			continue
		}
		t := strings.TrimRight(s, " \t\n\r")
		if strings.HasSuffix(t, "\\") {
			buf.WriteString(t[:len(t)-1] + " ")
			pending = true
			continue
		}
		buf.WriteString(s)
		out, at = append(out, buf.String()), append(at, start)
		buf.Reset()
		pending = false
	}
	if pending {
		return out, at, errPAMContinuation
	}
	return out, at, nil
}

// pamWords splits a logical line: words separated by blanks, a word starting
// with '[' running to the matching ']' (brackets dropped from arguments,
// kept for the control; "\]" is a literal ']').
func pamWords(s string, keepBrackets bool) []string {
	var out []string
	for i := 0; i < len(s); {
		if c := s[i]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		if s[i] == '[' {
			var w strings.Builder
			j := i + 1
			for j < len(s) && s[j] != ']' {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == ']' {
					j++
				}
				w.WriteByte(s[j])
				j++
			}
			if keepBrackets {
				out = append(out, "["+w.String()+"]")
			} else {
				out = append(out, w.String())
			}
			i = j + 1
			continue
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

// parsePAM parses a PAM service file named file (absolute, for evidence).
func parsePAM(b []byte, file string) ([]pamRaw, error) {
	ls, at, err := pamLogicalLines(b)
	var out []pamRaw
	for i, l := range ls {
		where := file + ":" + strconv.Itoa(at[i])
		f := pamWords(l, true)
		if len(f) == 0 {
			continue
		}
		typ := strings.ToLower(strings.TrimPrefix(f[0], "-"))
		if typ == "@include" {
			if len(f) >= 2 {
				out = append(out, pamRaw{pamLine: pamLine{Type: "@include", Where: where}, Include: f[1], All: true})
			}
			continue
		}
		if typ != "auth" && typ != "account" && typ != "password" && typ != "session" {
			continue // libpam marks the line as failing; it never runs a module
		}
		if len(f) < 3 {
			continue
		}
		ctl := f[1]
		if !strings.HasPrefix(ctl, "[") {
			ctl = strings.ToLower(ctl)
		}
		if ctl == "include" || ctl == "substack" {
			out = append(out, pamRaw{pamLine: pamLine{Type: typ, Control: ctl, Where: where}, Include: f[2]})
			continue
		}
		out = append(out, pamRaw{pamLine: pamLine{Type: typ, Control: ctl, Module: f[2], Args: pamArgs(l), Where: where}})
	}
	return out, err
}

// pamArgs returns the arguments of a logical line (after type, control and
// module), splitting the original text so that bracketed arguments keep
// their inner spacing.
func pamArgs(l string) []string {
	rest := l
	for k := 0; k < 3; k++ {
		rest = strings.TrimLeft(rest, " \t\r\n")
		if strings.HasPrefix(rest, "[") {
			j := 1
			for j < len(rest) && rest[j] != ']' {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
				}
				j++
			}
			rest = rest[min(j+1, len(rest)):]
			continue
		}
		i := strings.IndexAny(rest, " \t\r\n")
		if i < 0 {
			return []string{}
		}
		rest = rest[i:]
	}
	return pamWords(rest, false)
}

// pamFile returns the absolute path of an included PAM file.
func pamFile(name string) string {
	if strings.HasPrefix(name, "/") {
		return path.Clean(name)
	}
	return "/etc/pam.d/" + name
}

// pamStack returns the rules of a PAM service with includes expanded.
func (e *env) pamStack(service string) ([]pamLine, error) {
	return memoize(e, "pam:"+service, func() ([]pamLine, error) {
		return pamExpand(e.readAbs, pamFile(service), "", 0)
	})
}

// pamExpand loads file and expands its includes; typ limits the lines to
// one type ("" for all).
func pamExpand(read func(string) ([]byte, error), file, typ string, depth int) ([]pamLine, error) {
	b, err := read(file)
	if err != nil {
		return nil, err
	}
	raw, perr := parsePAM(b, file)
	if perr != nil {
		return nil, &readError{path: strings.TrimPrefix(file, "/"), err: perr}
	}
	var out []pamLine
	for _, l := range raw {
		if typ != "" && l.Type != typ && !l.All {
			continue
		}
		if l.Include == "" {
			out = append(out, l.pamLine)
			continue
		}
		if depth >= 8 {
			continue
		}
		sub := typ
		if !l.All {
			sub = l.Type
		}
		inc, err := pamExpand(read, pamFile(l.Include), sub, depth+1)
		// a missing include/substack file fails that line only; a missing
		// @include file makes libpam abort loading the whole service
		if err != nil && (l.All || !isNotExist(err)) {
			return nil, err
		}
		out = append(out, inc...)
	}
	return out, nil
}

// filterPAM returns the lines of one type.
func filterPAM(ls []pamLine, typ string) []pamLine {
	var out []pamLine
	for _, l := range ls {
		if l.Type == typ {
			out = append(out, l)
		}
	}
	return out
}
