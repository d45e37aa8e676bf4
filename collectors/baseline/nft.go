package baseline

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// This file reads an nftables ruleset file as `nft -f` loads it (tables and
// chains in block or command form, add/insert rule, define and $variables,
// named and anonymous sets, ranges, service names from the services table,
// include) and evaluates what the input hook does with a packet.

// nftRuleset is a loaded nftables configuration.
type nftRuleset struct {
	Tables []*nftTable
	Files  []string
	Err    string // why nft -f would reject the file ("" when valid)
}

// nftTable is one table.
type nftTable struct {
	Family, Name string
	Chains       []*nftChain
	Sets         map[string][]string // element tokens
}

// nftChain is one chain; a base chain has a hook.
type nftChain struct {
	Name, Type, Hook, Policy string
	Rules                    []nftRule
}

// nftRule is one rule: its match expressions and verdict.
type nftRule struct {
	Matches []nftMatch
	Verdict string // accept, drop, reject, jump, goto, return, continue, queue or "" (none)
	Target  string // chain of jump/goto
	Where   string
}

// nftMatch is one match expression: key (e.g. "tcp dport"), negation and
// values (numbers, ranges, prefixes or names, already resolved).
type nftMatch struct {
	Key  string
	Op   string // "==", "!=", "<", ">", "<=", ">="
	Vals []string
}

// nftSource gives the loader files, globs and the services table.
type nftSource struct {
	read     func(abs string) ([]byte, error)
	glob     func(absPattern string) []string
	services func(name, proto string) (int, bool)
}

type nftLoader struct {
	src  nftSource
	rs   *nftRuleset
	vars map[string][]string
}

// loadNft loads a ruleset file.
func loadNft(src nftSource, file string) (*nftRuleset, error) {
	b, err := src.read(file)
	if err != nil {
		return nil, err
	}
	l := &nftLoader{src: src, rs: &nftRuleset{}, vars: map[string][]string{}}
	l.load(file, b, 0)
	return l.rs, nil
}

func (l *nftLoader) fail(where, format string, a ...any) {
	if l.rs.Err == "" {
		l.rs.Err = where + ": " + fmt.Sprintf(format, a...)
	}
}

// nftTok is one token with its line.
type nftTok struct {
	s    string
	line int
	str  bool // was a quoted string
}

// nftTokens splits nft syntax into tokens; newlines become ";" tokens.
func nftTokens(b []byte) ([]nftTok, string) {
	var out []nftTok
	s := string(b)
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i += 2
			line++
		case c == '\n':
			out = append(out, nftTok{";", line, false})
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, "line " + strconv.Itoa(line) + ": unterminated string"
			}
			out = append(out, nftTok{s[i+1 : i+1+j], line, true})
			i += j + 2
		case strings.IndexByte("{};,=", c) >= 0:
			if c == '=' && i+1 < len(s) && s[i+1] == '=' {
				out = append(out, nftTok{"==", line, false})
				i += 2
				continue
			}
			out = append(out, nftTok{string(c), line, false})
			i++
		case c == '!' && i+1 < len(s) && s[i+1] == '=':
			out = append(out, nftTok{"!=", line, false})
			i += 2
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\r\n{};,#\"", s[j]) < 0 && !(s[j] == '=' && j > i) && !(s[j] == '!' && j+1 < len(s) && s[j+1] == '=') {
				j++
			}
			if j == i {
				j++
			}
			out = append(out, nftTok{s[i:j], line, false})
			i = j
		}
	}
	return out, ""
}

// load parses one file.
func (l *nftLoader) load(file string, b []byte, depth int) {
	l.rs.Files = append(l.rs.Files, file)
	toks, err := nftTokens(b)
	if err != "" {
		l.fail(file, "%s", err)
		return
	}
	p := &nftParser{l: l, file: file, toks: toks, depth: depth}
	p.top()
}

type nftParser struct {
	l     *nftLoader
	file  string
	toks  []nftTok
	i     int
	depth int
}

func (p *nftParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].s
	}
	return ""
}
func (p *nftParser) next() string  { t := p.peek(); p.i++; return t }
func (p *nftParser) eof() bool     { return p.i >= len(p.toks) }
func (p *nftParser) where() string { return p.file + ":" + strconv.Itoa(p.lineAt(p.i)) }
func (p *nftParser) lineAt(i int) int {
	if i >= len(p.toks) {
		i = len(p.toks) - 1
	}
	if i < 0 {
		return 1
	}
	return p.toks[i].line
}

// stmt returns the tokens up to the next ";" or newline at brace depth 0;
// a "{" opening a block is included with its contents when block is true.
func (p *nftParser) stmt() []nftTok {
	var out []nftTok
	depth := 0
	for !p.eof() {
		t := p.toks[p.i]
		if depth == 0 && (t.s == ";" || t.s == "}") && !t.str {
			break
		}
		p.i++
		if !t.str {
			switch t.s {
			case "{":
				depth++
			case "}":
				depth--
			case ";":
				if depth > 0 { // newlines inside a set are separators
					t.s = ","
				}
			}
		}
		out = append(out, t)
	}
	return out
}

// skipSep skips statement separators.
func (p *nftParser) skipSep() {
	for !p.eof() && p.peek() == ";" {
		p.i++
	}
}

func nftStrs(t []nftTok) []string {
	out := make([]string, len(t))
	for i, x := range t {
		out[i] = x.s
	}
	return out
}

// top parses top-level commands.
func (p *nftParser) top() {
	for {
		p.skipSep()
		if p.eof() {
			return
		}
		where := p.where()
		switch kw := p.peek(); kw {
		case "}":
			p.l.fail(where, "syntax error, unexpected '}'")
			p.i++
		case "table":
			p.i++
			p.tableCmd(where, true)
		case "add", "create", "insert":
			p.i++
			p.addCmd(where, kw == "insert")
		case "chain", "rule", "element":
			p.addCmd(where, false)
		case "flush", "delete", "destroy":
			p.i++
			p.deleteCmd(where, kw)
		case "define", "redefine":
			p.i++
			st := p.stmt()
			if len(st) < 3 || st[1].s != "=" {
				p.l.fail(where, "syntax error in define")
				continue
			}
			p.l.vars[st[0].s] = nftStrs(st[2:])
		case "undefine":
			p.i++
			st := p.stmt()
			if len(st) > 0 {
				delete(p.l.vars, st[0].s)
			}
		case "include":
			p.i++
			st := p.stmt()
			if len(st) != 1 || !st[0].str {
				p.l.fail(where, "syntax error in include")
				continue
			}
			p.include(where, st[0].s)
		default:
			p.l.fail(where, "syntax error, unexpected %s", kw)
			p.stmt()
			if p.peek() == "}" {
				p.i++
			}
		}
	}
}

// include loads the files matching a pattern (relative to /etc/nftables
// search path /etc).
func (p *nftParser) include(where, pat string) {
	if p.depth >= 16 {
		p.l.fail(where, "include nested too deeply")
		return
	}
	if !strings.HasPrefix(pat, "/") {
		pat = "/etc/" + pat
	}
	files := p.l.src.glob(pat)
	if len(files) == 0 && !strings.ContainsAny(pat, "*?[") {
		p.l.fail(where, "File not found: %s", pat)
		return
	}
	for _, f := range files {
		b, err := p.l.src.read(f)
		if err != nil {
			p.l.fail(where, "include %s: %v", f, err)
			continue
		}
		p.l.load(f, b, p.depth+1)
	}
}

// family returns the family and name of "[family] name".
func nftFamily(t []string) (fam, name string, rest []string, ok bool) {
	switch {
	case len(t) >= 2 && contains([]string{"ip", "ip6", "inet", "arp", "bridge", "netdev"}, t[0]):
		return t[0], t[1], t[2:], true
	case len(t) >= 1:
		return "ip", t[0], t[1:], true
	}
	return "", "", nil, false
}

func (l *nftLoader) table(fam, name string, create bool) *nftTable {
	for _, t := range l.rs.Tables {
		if t.Family == fam && t.Name == name {
			return t
		}
	}
	if !create {
		return nil
	}
	t := &nftTable{Family: fam, Name: name, Sets: map[string][]string{}}
	l.rs.Tables = append(l.rs.Tables, t)
	return t
}

func (t *nftTable) chain(name string, create bool) *nftChain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	if !create {
		return nil
	}
	c := &nftChain{Name: name}
	t.Chains = append(t.Chains, c)
	return c
}

// tableCmd parses "table [family] name [{ ... }]".
func (p *nftParser) tableCmd(where string, block bool) {
	var head []string
	for !p.eof() && p.peek() != "{" && p.peek() != ";" && p.peek() != "}" {
		head = append(head, p.next())
	}
	fam, name, _, ok := nftFamily(head)
	if !ok {
		p.l.fail(where, "syntax error in table")
		return
	}
	t := p.l.table(fam, name, true)
	if p.peek() != "{" {
		return
	}
	p.i++
	for {
		p.skipSep()
		if p.eof() {
			p.l.fail(where, "syntax error, unexpected end of file (missing '}')")
			return
		}
		w := p.where()
		switch p.peek() {
		case "}":
			p.i++
			return
		case "chain":
			p.i++
			n := p.next()
			c := t.chain(n, true)
			if p.peek() == "{" {
				p.i++
				p.chainBody(t, c)
			}
		case "set", "map":
			kind := p.next()
			n := p.next()
			if p.peek() != "{" {
				p.l.fail(w, "syntax error in %s", kind)
				continue
			}
			p.i++
			p.setBody(t, n)
		case "flags", "comment":
			p.stmt()
		default:
			p.l.fail(w, "syntax error, unexpected %s in table", p.peek())
			p.stmt()
		}
	}
}

// setBody parses a set/map block.
func (p *nftParser) setBody(t *nftTable, name string) {
	if _, ok := t.Sets[name]; !ok {
		t.Sets[name] = []string{}
	}
	for {
		p.skipSep()
		if p.eof() {
			return
		}
		if p.peek() == "}" {
			p.i++
			return
		}
		st := nftStrs(p.stmt())
		if len(st) >= 3 && st[0] == "elements" && st[1] == "=" {
			t.Sets[name] = append(t.Sets[name], nftElems(st[2:])...)
		}
	}
}

// nftElems returns the elements of "{ a, b }" or a single value.
func nftElems(t []string) []string {
	var out []string
	for _, x := range t {
		if x != "{" && x != "}" && x != "," && x != ";" {
			out = append(out, x)
		}
	}
	return out
}

// chainBody parses the contents of a chain block.
func (p *nftParser) chainBody(t *nftTable, c *nftChain) {
	for {
		p.skipSep()
		if p.eof() {
			p.l.fail(p.file, "syntax error, unexpected end of file (missing '}')")
			return
		}
		if p.peek() == "}" {
			p.i++
			return
		}
		w := p.where()
		st := p.stmt()
		p.chainStmt(t, c, nftStrs(st), w, false)
	}
}

// chainStmt applies a chain property or a rule.
func (p *nftParser) chainStmt(t *nftTable, c *nftChain, st []string, where string, insert bool) {
	if len(st) == 0 {
		return
	}
	switch st[0] {
	case "type":
		// type filter hook input priority 0
		if len(st) < 6 || st[2] != "hook" || st[4] != "priority" {
			p.l.fail(where, "syntax error in chain type")
			return
		}
		c.Type, c.Hook = st[1], st[3]
		return
	case "policy":
		if len(st) != 2 || (st[1] != "accept" && st[1] != "drop") {
			p.l.fail(where, "syntax error in chain policy")
			return
		}
		c.Policy = st[1]
		return
	case "comment", "devices":
		return
	}
	r, err := p.rule(t, st, where)
	if err != "" {
		p.l.fail(where, "%s", err)
		return
	}
	if insert {
		c.Rules = append([]nftRule{r}, c.Rules...)
	} else {
		c.Rules = append(c.Rules, r)
	}
}

// addCmd parses add/create/insert commands.
func (p *nftParser) addCmd(where string, insert bool) {
	obj := p.next()
	switch obj {
	case "table":
		p.tableCmd(where, true)
	case "chain":
		st := nftStrs(p.stmt())
		fam, tname, rest, ok := nftFamily(st)
		if !ok || len(rest) == 0 {
			p.l.fail(where, "syntax error in add chain")
			return
		}
		t := p.l.table(fam, tname, false)
		if t == nil {
			p.l.fail(where, "No such file or directory; table %s %s does not exist", fam, tname)
			return
		}
		c := t.chain(rest[0], true)
		body := rest[1:]
		if len(body) > 0 && body[0] == "{" {
			var cur []string
			for _, x := range body[1:] {
				if x == ";" || x == "}" || x == "," {
					p.chainStmt(t, c, cur, where, false)
					cur = nil
					continue
				}
				cur = append(cur, x)
			}
		}
	case "rule":
		st := nftStrs(p.stmt())
		fam, tname, rest, ok := nftFamily(st)
		if !ok || len(rest) < 2 {
			p.l.fail(where, "syntax error in add rule")
			return
		}
		t := p.l.table(fam, tname, false)
		var c *nftChain
		if t != nil {
			c = t.chain(rest[0], false)
		}
		if c == nil {
			p.l.fail(where, "No such file or directory; chain %s %s %s does not exist", fam, tname, rest[0])
			return
		}
		rs := rest[1:]
		if len(rs) >= 2 && (rs[0] == "position" || rs[0] == "handle" || rs[0] == "index") {
			rs = rs[2:]
		}
		p.chainStmt(t, c, rs, where, insert)
	case "element":
		st := nftStrs(p.stmt())
		fam, tname, rest, ok := nftFamily(st)
		if !ok || len(rest) < 2 {
			p.l.fail(where, "syntax error in add element")
			return
		}
		t := p.l.table(fam, tname, false)
		if t == nil {
			p.l.fail(where, "table %s %s does not exist", fam, tname)
			return
		}
		if _, ok := t.Sets[rest[0]]; !ok {
			p.l.fail(where, "set %s does not exist", rest[0])
			return
		}
		t.Sets[rest[0]] = append(t.Sets[rest[0]], nftElems(rest[1:])...)
	case "set", "map":
		st := p.stmt()
		_ = st
	default:
		p.l.fail(where, "syntax error, unexpected %s", obj)
		p.stmt()
	}
}

// deleteCmd parses flush/delete commands that change what is loaded.
func (p *nftParser) deleteCmd(where, verb string) {
	st := nftStrs(p.stmt())
	if len(st) == 0 {
		p.l.fail(where, "syntax error in %s", verb)
		return
	}
	switch st[0] {
	case "ruleset":
		if verb == "flush" {
			p.l.rs.Tables = nil
		}
	case "table":
		fam, name, _, ok := nftFamily(st[1:])
		if !ok {
			return
		}
		for i, t := range p.l.rs.Tables {
			if t.Family == fam && t.Name == name {
				if verb == "flush" {
					for _, c := range t.Chains {
						c.Rules = nil
					}
				} else {
					p.l.rs.Tables = append(p.l.rs.Tables[:i], p.l.rs.Tables[i+1:]...)
				}
				return
			}
		}
		if verb != "destroy" {
			p.l.fail(where, "No such file or directory; table %s %s", fam, name)
		}
	case "chain":
		fam, name, rest, ok := nftFamily(st[1:])
		if !ok || len(rest) == 0 {
			return
		}
		if t := p.l.table(fam, name, false); t != nil {
			for i, c := range t.Chains {
				if c.Name == rest[0] {
					if verb == "flush" {
						c.Rules = nil
					} else {
						t.Chains = append(t.Chains[:i], t.Chains[i+1:]...)
					}
					return
				}
			}
		}
		if verb != "destroy" {
			p.l.fail(where, "No such file or directory; chain %s", rest[0])
		}
	}
}

// nftKeys are the match keys understood, by their leading tokens.
var nftKeys = [][]string{
	{"tcp", "dport"}, {"tcp", "sport"}, {"udp", "dport"}, {"udp", "sport"}, {"th", "dport"}, {"th", "sport"},
	{"sctp", "dport"}, {"ip", "saddr"}, {"ip", "daddr"}, {"ip6", "saddr"}, {"ip6", "daddr"}, {"ip", "protocol"},
	{"ip6", "nexthdr"}, {"meta", "l4proto"}, {"meta", "nfproto"}, {"meta", "iif"}, {"meta", "iifname"},
	{"meta", "oif"}, {"meta", "oifname"}, {"meta", "pkttype"}, {"ct", "state"}, {"ct", "status"}, {"icmp", "type"}, {"icmpv6", "type"},
	{"iif"}, {"iifname"}, {"oif"}, {"oifname"}, {"l4proto"},
}

// rule parses the tokens of one rule.
func (p *nftParser) rule(t *nftTable, st []string, where string) (nftRule, string) {
	r := nftRule{Where: where}
	// substitute variables
	var toks []string
	for _, x := range st {
		if strings.HasPrefix(x, "$") {
			v, ok := p.l.vars[x[1:]]
			if !ok {
				return r, "unknown identifier '" + x[1:] + "'"
			}
			toks = append(toks, v...)
			continue
		}
		toks = append(toks, x)
	}
	for i := 0; i < len(toks); {
		x := toks[i]
		switch x {
		case "accept", "drop", "return", "continue", "queue":
			r.Verdict = x
			i++
			if x == "queue" {
				for i < len(toks) && toks[i] != "accept" {
					i++
				}
			}
			continue
		case "reject":
			r.Verdict = "reject"
			i++
			if i < len(toks) && toks[i] == "with" {
				for i < len(toks) && toks[i] != "comment" {
					i++
				}
			}
			continue
		case "jump", "goto":
			if i+1 >= len(toks) {
				return r, "syntax error after " + x
			}
			r.Verdict, r.Target = x, toks[i+1]
			if t.chain(r.Target, false) == nil {
				// nft resolves the target when the batch commits; a chain
				// declared later in the file is fine.
				t.chain(r.Target, true)
			}
			i += 2
			continue
		case "counter":
			i++
			for i+1 < len(toks) && (toks[i] == "packets" || toks[i] == "bytes") {
				i += 2
			}
			continue
		case "log":
			i++
			for i+1 < len(toks) && contains([]string{"prefix", "level", "flags", "group", "snaplen", "queue-threshold"}, toks[i]) {
				i += 2
			}
			continue
		case "comment":
			i += 2
			continue
		case "limit":
			// limit rate [over] N/unit [burst N packets|bytes]
			i += 2
			if i < len(toks) && toks[i] == "over" {
				i++
			}
			i++
			if i < len(toks) && toks[i] == "burst" {
				i += 3
			}
			r.Matches = append(r.Matches, nftMatch{Key: "limit"})
			continue
		case "notrack":
			i++
			continue
		}
		var key []string
		for _, k := range nftKeys {
			if i+len(k) <= len(toks) && slicesEqual(toks[i:i+len(k)], k) && len(k) > len(key) {
				key = k
			}
		}
		if key == nil {
			return r, "syntax error, unexpected " + x
		}
		i += len(key)
		m := nftMatch{Key: strings.Join(key, " "), Op: "=="}
		if len(key) == 1 {
			m.Key = "meta " + key[0]
		}
		if i < len(toks) && contains([]string{"!=", "==", "<", ">", "<=", ">=", "eq", "ne", "lt", "gt", "le", "ge"}, toks[i]) {
			m.Op = map[string]string{"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="}[toks[i]]
			if m.Op == "" {
				m.Op = toks[i]
			}
			i++
		}
		if i >= len(toks) {
			return r, "syntax error, missing value after " + m.Key
		}
		var raw []string
		if toks[i] == "{" {
			j := i + 1
			for j < len(toks) && toks[j] != "}" {
				j++
			}
			if j >= len(toks) {
				return r, "syntax error, unterminated set"
			}
			raw = nftElems(toks[i+1 : j])
			i = j + 1
		} else if strings.HasPrefix(toks[i], "@") {
			s, ok := t.Sets[toks[i][1:]]
			if !ok {
				return r, "set '" + toks[i][1:] + "' does not exist"
			}
			raw = s
			i++
		} else {
			raw = []string{toks[i]}
			i++
			for i+1 < len(toks) && toks[i] == "," {
				raw = append(raw, toks[i+1])
				i += 2
			}
		}
		for _, v := range raw {
			n, err := p.l.resolve(m.Key, v)
			if err != "" {
				return r, err
			}
			m.Vals = append(m.Vals, n)
		}
		r.Matches = append(r.Matches, m)
	}
	return r, ""
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// resolve turns a value into its canonical form: port numbers and ranges,
// prefixes, protocol names.
func (l *nftLoader) resolve(key, v string) (string, string) {
	switch {
	case strings.HasSuffix(key, "port"):
		proto := strings.Fields(key)[0]
		if proto == "th" || proto == "sctp" {
			proto = "tcp"
		}
		port := func(s string) (int, string) {
			if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 65535 {
				return n, ""
			}
			if n, ok := l.src.services(s, proto); ok {
				return n, ""
			}
			return 0, "Could not resolve service: " + s
		}
		if a, b, ok := strings.Cut(v, "-"); ok {
			if _, err := strconv.Atoi(a); err == nil {
				lo, e1 := port(a)
				hi, e2 := port(b)
				if e1 != "" || e2 != "" {
					return "", e1 + e2
				}
				return strconv.Itoa(lo) + "-" + strconv.Itoa(hi), ""
			}
		}
		n, err := port(v)
		return strconv.Itoa(n), err
	case strings.HasSuffix(key, "addr"):
		if a, b, ok := strings.Cut(v, "-"); ok {
			if _, err := netip.ParseAddr(a); err == nil {
				if _, err := netip.ParseAddr(b); err == nil {
					return v, ""
				}
			}
		}
		if pfx, err := netip.ParsePrefix(v); err == nil {
			return pfx.Masked().String(), ""
		}
		if a, err := netip.ParseAddr(v); err == nil {
			return netip.PrefixFrom(a, a.BitLen()).String(), ""
		}
		return "", "Could not resolve hostname: " + v
	case key == "meta l4proto" || key == "ip protocol" || key == "ip6 nexthdr":
		if n, ok := map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "icmpv6": "ipv6-icmp", "132": "sctp"}[v]; ok {
			return n, ""
		}
		return v, ""
	}
	return v, ""
}

// nftPacket is a new inbound connection to evaluate.
type nftPacket struct {
	Family int    // 4 or 6
	Proto  string // tcp or udp
	Port   int
	Src    netip.Addr
	Iif    string // "lo" or another name
}

// matches reports whether m matches the packet; known is false for keys
// that cannot be decided (treated as not matching).
func (m nftMatch) matches(pk nftPacket) (match, known bool) {
	k := m.Key
	in := false
	switch {
	case k == "limit":
		return true, true
	case strings.HasSuffix(k, "dport") || strings.HasSuffix(k, "sport"):
		proto := strings.Fields(k)[0]
		if proto != "th" && proto != pk.Proto {
			return false, true
		}
		if proto == "th" && pk.Proto != "tcp" && pk.Proto != "udp" {
			return false, true
		}
		v := pk.Port
		if strings.HasSuffix(k, "sport") {
			v = 40000
		}
		in = nftInPorts(m, v)
		if m.Op == "!=" {
			return !in, true
		}
		return in, true
	case k == "ip saddr" || k == "ip6 saddr":
		if (k == "ip saddr") != (pk.Family == 4) {
			return false, true
		}
		in = nftInAddrs(m.Vals, pk.Src)
	case k == "ip daddr" || k == "ip6 daddr":
		if (k == "ip daddr") != (pk.Family == 4) {
			return false, true
		}
		// the packet is addressed to some address of this host that is not
		// loopback
		for _, v := range m.Vals {
			if pfx, err := netip.ParsePrefix(v); err != nil || !pfx.Addr().IsLoopback() {
				in = true
			}
		}
	case k == "meta l4proto" || k == "ip protocol" || k == "ip6 nexthdr":
		if k == "ip protocol" && pk.Family != 4 || k == "ip6 nexthdr" && pk.Family != 6 {
			return false, true
		}
		in = contains(m.Vals, pk.Proto)
	case k == "meta nfproto":
		in = contains(m.Vals, "ipv"+strconv.Itoa(pk.Family))
	case k == "meta iif" || k == "meta iifname":
		for _, v := range m.Vals {
			if v == pk.Iif || strings.HasSuffix(v, "*") && strings.HasPrefix(pk.Iif, strings.TrimSuffix(v, "*")) || (pk.Iif != "lo" && v != "lo" && !strings.HasPrefix(v, "lo*")) {
				in = true
			}
		}
	case k == "ct state":
		for _, v := range m.Vals {
			if v == "new" {
				in = true
			}
		}
	case k == "icmp type" || k == "icmpv6 type":
		return false, true
	default:
		return false, false
	}
	if m.Op == "!=" {
		return !in, true
	}
	return in, true
}

func nftInPorts(m nftMatch, v int) bool {
	for _, x := range m.Vals {
		lo, hi := x, x
		if a, b, ok := strings.Cut(x, "-"); ok {
			lo, hi = a, b
		}
		l, _ := strconv.Atoi(lo)
		h, _ := strconv.Atoi(hi)
		switch m.Op {
		case "<":
			if v < l {
				return true
			}
		case ">":
			if v > l {
				return true
			}
		case "<=":
			if v <= l {
				return true
			}
		case ">=":
			if v >= l {
				return true
			}
		default:
			if v >= l && v <= h {
				return true
			}
		}
	}
	return false
}

func nftInAddrs(vals []string, a netip.Addr) bool {
	for _, v := range vals {
		if lo, hi, ok := strings.Cut(v, "-"); ok {
			l, e1 := netip.ParseAddr(lo)
			h, e2 := netip.ParseAddr(hi)
			if e1 == nil && e2 == nil && a.Compare(l) >= 0 && a.Compare(h) <= 0 {
				return true
			}
			continue
		}
		if pfx, err := netip.ParsePrefix(v); err == nil && pfx.Contains(a) {
			return true
		}
	}
	return false
}

// verdict returns what the input hook does with a packet: "accept" or
// "drop", and the rule or policy that decided (for evidence).
func (rs *nftRuleset) verdict(pk nftPacket) (string, string) {
	fams := []string{"inet", "ip"}
	if pk.Family == 6 {
		fams = []string{"inet", "ip6"}
	}
	decided := ""
	for _, t := range rs.Tables {
		if !contains(fams, t.Family) {
			continue
		}
		for _, c := range t.Chains {
			if c.Hook != "input" || (c.Type != "filter" && c.Type != "") {
				continue
			}
			v, why := t.run(c, pk, 0)
			if v == "" {
				v = c.Policy
				if v == "" {
					v = "accept"
				}
				why = fmt.Sprintf("policy %s of chain %s %s %s", v, t.Family, t.Name, c.Name)
			}
			if v != "accept" {
				return "drop", why
			}
			decided = why
		}
	}
	if decided == "" {
		decided = "no input chain"
	}
	return "accept", decided
}

// run evaluates chain c; "" when no rule decided.
func (t *nftTable) run(c *nftChain, pk nftPacket, depth int) (string, string) {
	if depth > 16 {
		return "", ""
	}
rules:
	for _, r := range c.Rules {
		for _, m := range r.Matches {
			if ok, _ := m.matches(pk); !ok {
				continue rules
			}
		}
		switch r.Verdict {
		case "accept", "queue":
			return "accept", "rule at " + r.Where
		case "drop", "reject":
			return "drop", "rule at " + r.Where
		case "return":
			return "", ""
		case "jump", "goto":
			if sub := t.chain(r.Target, false); sub != nil {
				if v, why := t.run(sub, pk, depth+1); v != "" {
					return v, why
				}
			}
			if r.Verdict == "goto" {
				return "", ""
			}
		}
	}
	return "", ""
}

// filtersInbound reports whether a new connection to an unused port from an
// outside address is dropped, for IPv4 and IPv6.
func (rs *nftRuleset) filtersInbound() (bool, string) {
	for _, fam := range []int{4, 6} {
		for _, proto := range []string{"tcp", "udp"} {
			pk := nftPacket{Family: fam, Proto: proto, Port: 31337, Src: outsider(rs.prefixes(), fam), Iif: "eth0"}
			if v, why := rs.verdict(pk); v == "accept" {
				return false, fmt.Sprintf("a new IPv%d %s connection to an unused port is accepted (%s)", fam, proto, why)
			}
		}
	}
	return true, "new inbound connections to unused ports are dropped"
}

// prefixes returns the source networks named anywhere in the ruleset.
func (rs *nftRuleset) prefixes() []string {
	var out []string
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				for _, m := range r.Matches {
					if strings.HasSuffix(m.Key, "saddr") {
						out = append(out, m.Vals...)
					}
				}
			}
		}
	}
	return out
}

// outsider returns an address of the family that none of the named source
// networks contains, when there is one.
func outsider(vals []string, fam int) netip.Addr {
	cands := []string{"203.0.113.77", "198.51.100.201", "192.0.2.99", "100.64.7.7", "45.33.32.156", "8.8.4.4", "172.31.255.254", "10.255.255.254"}
	if fam == 6 {
		cands = []string{"2001:db8:ffff::77", "2001:4860::8844", "fd00:ffff::1", "2a00:1450::1"}
	}
	for _, c := range cands {
		a := netip.MustParseAddr(c)
		if !nftInAddrs(vals, a) {
			return a
		}
	}
	return netip.MustParseAddr(cands[0])
}

// inboundOpen reports for a port whether a new connection from an outside
// address is accepted, and why.
func (rs *nftRuleset) inboundOpen(proto string, port int) (bool, string) {
	for _, fam := range []int{4, 6} {
		pk := nftPacket{Family: fam, Proto: proto, Port: port, Src: outsider(rs.prefixes(), fam), Iif: "eth0"}
		if v, why := rs.verdict(pk); v == "accept" {
			return true, fmt.Sprintf("%s/%d accepted from any source over IPv%d (%s)", proto, port, fam, why)
		}
	}
	return false, fmt.Sprintf("%s/%d not accepted from outside addresses", proto, port)
}

// acceptsFrom reports whether a new connection from src to port is accepted.
func (rs *nftRuleset) acceptsFrom(proto string, port int, src netip.Addr) bool {
	fam := 4
	if src.Is6() {
		fam = 6
	}
	v, _ := rs.verdict(nftPacket{Family: fam, Proto: proto, Port: port, Src: src, Iif: "eth0"})
	return v == "accept"
}

// forwardDrop reports whether the forward hook drops a new connection by
// default.
func (rs *nftRuleset) forwardDrop() bool {
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			if c.Hook == "forward" && c.Policy == "drop" && (t.Family == "inet" || t.Family == "ip") {
				return true
			}
		}
	}
	return false
}

// hooks lists the base chains, for evidence.
func (rs *nftRuleset) hooks() []string {
	var out []string
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			if c.Hook != "" {
				pol := c.Policy
				if pol == "" {
					pol = "accept"
				}
				out = append(out, fmt.Sprintf("%s %s %s (hook %s, policy %s, %d rules)", t.Family, t.Name, c.Name, c.Hook, pol, len(c.Rules)))
			}
		}
	}
	sort.Strings(out)
	return out
}

// servicesTable parses /etc/services into name/proto → port (aliases too).
func servicesTable(b []byte) map[string]int {
	m := map[string]int{}
	for _, l := range lines(b) {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		port, proto, ok := strings.Cut(f[1], "/")
		n, err := strconv.Atoi(port)
		if !ok || err != nil {
			continue
		}
		for _, name := range append([]string{f[0]}, f[2:]...) {
			if _, dup := m[name+"/"+proto]; !dup {
				m[name+"/"+proto] = n
			}
		}
	}
	return m
}

// builtinServices is used when the root has no etc/services (a fixture or a
// minimal image): the names ICS and management rules use.
func builtinServices() map[string]int {
	m := map[string]int{}
	for name, p := range map[string]int{"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80, "https": 443,
		"ntp": 123, "snmp": 161, "microsoft-ds": 445, "netbios-ssn": 139, "epmap": 135, "ms-wbt-server": 3389, "iso-tsap": 102,
		"mbap": 502, "mqtt": 1883, "opcua-tcp": 4840, "rfb": 5900, "bootps": 67, "tftp": 69, "syslog": 514} {
		m[name+"/tcp"] = p
		m[name+"/udp"] = p
	}
	return m
}

// nftServices returns the services lookup of a root.
func (e *env) services() func(name, proto string) (int, bool) {
	m, _ := memoize(e, "services", func() (map[string]int, error) {
		b, err := e.readOptional("etc", "services")
		if err != nil || b == nil {
			return builtinServices(), nil
		}
		return servicesTable(b), nil
	})
	return func(name, proto string) (int, bool) {
		n, ok := m[name+"/"+proto]
		return n, ok
	}
}

// dropsSomething reports whether an input base chain drops by policy or has a
// drop or reject rule: the ruleset filters at least some inbound traffic.
func (rs *nftRuleset) dropsSomething() bool {
	for _, t := range rs.Tables {
		if t.Family != "inet" && t.Family != "ip" && t.Family != "ip6" {
			continue
		}
		for _, c := range t.Chains {
			if c.Hook != "input" {
				continue
			}
			if c.Policy == "drop" || t.chainDrops(c, 0) {
				return true
			}
		}
	}
	return false
}

func (t *nftTable) chainDrops(c *nftChain, depth int) bool {
	if depth > 16 {
		return false
	}
	for _, r := range c.Rules {
		switch r.Verdict {
		case "drop", "reject":
			return true
		case "jump", "goto":
			if sub := t.chain(r.Target, false); sub != nil && t.chainDrops(sub, depth+1) {
				return true
			}
		}
	}
	return false
}
