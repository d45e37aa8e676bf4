package baseline

import (
	"strconv"
	"strings"
)

// This file reads rsyslog's configuration as rsyslogd does: the main file
// with $IncludeConfig and include(file=...) expanded in place (globs
// sorted), '#' and /* */ comments outside quoted strings, legacy
// "selector action" lines (@host UDP, @@host TCP, & continuation) and
// RainerScript action(type="omfwd"|"omrelp" target=...) statements split
// over any number of lines, in the default ruleset or in a named ruleset
// that an input binds or a call uses.

// syslogTarget is one forwarding action.
type syslogTarget struct {
	Host, Port, Proto string
	Where             string
}

// rsyslogForwarding returns the forwarding actions of the configuration
// rooted at main, and the files read.
func rsyslogForwarding(read func(string) ([]byte, error), glob func(string) []string, main string) ([]syslogTarget, []string, error) {
	var files []string
	var text strings.Builder
	var at []string // file:line of each line of text
	var load func(f string, depth int) error
	load = func(f string, depth int) error {
		b, err := read(f)
		if err != nil {
			return err
		}
		files = append(files, f)
		clean := rsyslogStripComments(string(b))
		for n, l := range strings.Split(clean, "\n") {
			t := strings.TrimSpace(l)
			if inc, ok := strings.CutPrefix(t, "$IncludeConfig"); ok && depth < 8 {
				pat := strings.TrimSpace(inc)
				if strings.HasSuffix(pat, "/") {
					pat += "*"
				}
				for _, g := range glob(pat) {
					_ = load(g, depth+1)
				}
				continue
			}
			if strings.HasPrefix(t, "include(") && depth < 8 {
				p := rsyslogParams(t[len("include("):])
				for _, g := range glob(p["file"]) {
					_ = load(g, depth+1)
				}
				continue
			}
			text.WriteString(l + "\n")
			at = append(at, f+":"+strconv.Itoa(n+1))
		}
		return nil
	}
	if err := load(main, 0); err != nil {
		return nil, nil, err
	}
	all := text.String()
	lineOf := func(off int) string {
		n := strings.Count(all[:off], "\n")
		if n < len(at) {
			return at[n]
		}
		return main
	}
	var out []syslogTarget
	// named rulesets used by an input or a call
	used := map[string]bool{}
	for _, kw := range []string{"input(", "call "} {
		for i := strings.Index(all, kw); i >= 0; {
			rest := all[i+len(kw):]
			if kw == "call " {
				used[strings.Fields(rest + " x")[0]] = true
			} else if p := rsyslogParams(rest); p["ruleset"] != "" {
				used[p["ruleset"]] = true
			}
			j := strings.Index(rest, kw)
			if j < 0 {
				break
			}
			i += len(kw) + j
		}
	}
	// RainerScript actions, with the ruleset block they are in
	depth, rsDepth, rsName := 0, -1, ""
	for i := 0; i < len(all); i++ {
		c := all[i]
		switch {
		case c == '"' || c == '\'':
			j := strings.IndexByte(all[i+1:], c)
			if j < 0 {
				i = len(all)
			} else {
				i += j + 1
			}
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == rsDepth {
				rsDepth, rsName = -1, ""
			}
		case strings.HasPrefix(all[i:], "ruleset("):
			p := rsyslogParams(all[i+len("ruleset("):])
			rsName, rsDepth = p["name"], depth
		case strings.HasPrefix(all[i:], "action(") && (i == 0 || !isIdent(all[i-1])):
			p := rsyslogParams(all[i+len("action("):])
			typ := strings.ToLower(p["type"])
			if (typ == "omfwd" || typ == "omrelp") && p["target"] != "" && (rsName == "" || used[rsName]) {
				proto := strings.ToLower(p["protocol"])
				if typ == "omrelp" {
					proto = "relp"
				} else if proto == "" {
					proto = "udp"
				}
				out = append(out, syslogTarget{Host: p["target"], Port: p["port"], Proto: proto, Where: lineOf(i)})
			}
		}
	}
	// legacy selector lines
	for n, l := range strings.Split(all, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "$") || strings.Contains(t, "(") && !strings.Contains(t, "@") {
			continue
		}
		f := strings.Fields(t)
		act := ""
		switch {
		case t[0] == '&' && len(f) >= 2:
			act = f[1]
		case t[0] == ':' && len(f) >= 4: // :property, op, "value" action
			act = f[len(f)-1]
		case len(f) >= 2 && strings.Contains(f[0], "."):
			act = f[1]
		}
		if !strings.HasPrefix(act, "@") {
			continue
		}
		proto := "udp"
		act = act[1:]
		if strings.HasPrefix(act, "@") {
			proto, act = "tcp", act[1:]
		}
		if strings.HasPrefix(act, "(") {
			if j := strings.IndexByte(act, ')'); j >= 0 {
				act = act[j+1:]
			}
		}
		act, _, _ = strings.Cut(act, ";")
		host, port := act, ""
		if strings.HasPrefix(host, "[") {
			if j := strings.IndexByte(host, ']'); j > 0 {
				host, port = host[1:j], strings.TrimPrefix(host[j+1:], ":")
			}
		} else if h, p, ok := strings.Cut(host, ":"); ok {
			host, port = h, p
		}
		if host != "" {
			where := main
			if n < len(at) {
				where = at[n]
			}
			out = append(out, syslogTarget{Host: host, Port: port, Proto: proto, Where: where})
		}
	}
	return out, files, nil
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// rsyslogStripComments removes /* */ comments that start a token and '#'
// comments outside quoted strings, keeping line breaks so that line numbers
// stay right. Legacy "$Directive" lines are kept whole, as rsyslog's lexer
// reads them as one token ("$IncludeConfig /etc/rsyslog.d/*.conf").
func rsyslogStripComments(s string) string {
	var b strings.Builder
	lineStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if lineStart {
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if j < len(s) && s[j] == '$' {
				k := strings.IndexByte(s[i:], '\n')
				if k < 0 {
					k = len(s) - i
				}
				line := s[i : i+k]
				if h := strings.Index(line, " #"); h >= 0 {
					line = line[:h]
				}
				b.WriteString(line)
				i += k - 1
				lineStart = false
				continue
			}
		}
		lineStart = c == '\n'
		switch {
		case c == '"' || c == '\'':
			j := strings.IndexAny(s[i+1:], string(c)+"\n")
			if j < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(s[i : i+j+2])
			lineStart = s[i+j+1] == '\n'
			i += j + 1
		case c == '/' && i+1 < len(s) && s[i+1] == '*' && (i == 0 || strings.IndexByte(" \t\n(){};", s[i-1]) >= 0):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				j = len(s) - i - 2
			}
			b.WriteString(strings.Repeat("\n", strings.Count(s[i:min(i+4+j, len(s))], "\n")))
			i += j + 3
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			if i < len(s) {
				b.WriteByte('\n')
				lineStart = true
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rsyslogParams parses name="value" pairs up to the closing parenthesis.
func rsyslogParams(s string) map[string]string {
	m := map[string]string{}
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		if i >= len(s) || s[i] == ')' {
			break
		}
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ')' {
			j++
		}
		if j >= len(s) || s[j] == ')' {
			break
		}
		name := strings.ToLower(strings.TrimSpace(s[i:j]))
		j++
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n') {
			j++
		}
		if j < len(s) && (s[j] == '"' || s[j] == '\'') {
			q := s[j]
			k := strings.IndexByte(s[j+1:], q)
			if k < 0 {
				break
			}
			m[name] = s[j+1 : j+1+k]
			i = j + k + 2
			continue
		}
		k := j
		for k < len(s) && s[k] != ' ' && s[k] != ')' && s[k] != '\n' {
			k++
		}
		m[name] = s[j:k]
		i = k
	}
	return m
}
