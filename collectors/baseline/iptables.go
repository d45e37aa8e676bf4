package baseline

import (
	"fmt"
	"strconv"
	"strings"
)

// loadIptables reads an iptables-save file (rules.v4, /etc/sysconfig/iptables)
// as iptables-restore loads it into the same model as nftables: the filter
// table's built-in chains with their policies, user chains, -A/-I rules with
// their matches (protocol, ports and ranges, multiport, services by name,
// sources with negation, input interface, conntrack state) and targets.
// Options the model does not know make the rule never match.
func loadIptables(b []byte, file string, fam string, services func(name, proto string) (int, bool)) *nftRuleset {
	rs := &nftRuleset{Files: []string{file}}
	fail := func(n int, format string, a ...any) {
		if rs.Err == "" {
			rs.Err = fmt.Sprintf("%s:%d: ", file, n) + fmt.Sprintf(format, a...)
		}
	}
	var t *nftTable
	inTable := ""
	for n, raw := range strings.Split(string(b), "\n") {
		n++
		l := strings.TrimSpace(raw)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		switch {
		case strings.HasPrefix(l, "*"):
			if inTable != "" {
				fail(n, "table %s not committed (COMMIT expected)", inTable)
			}
			inTable = l[1:]
			t = nil
			if inTable == "filter" {
				t = &nftTable{Family: fam, Name: "filter", Sets: map[string][]string{}}
				rs.Tables = append(rs.Tables, t)
			}
			continue
		case l == "COMMIT":
			if inTable == "" {
				fail(n, "COMMIT without a table")
			}
			inTable = ""
			continue
		}
		if inTable == "" {
			fail(n, "rule outside a table")
			continue
		}
		if t == nil {
			continue // nat, mangle, raw: not the inbound filter
		}
		if strings.HasPrefix(l, ":") {
			f := strings.Fields(l[1:])
			if len(f) < 2 {
				fail(n, "bad chain line")
				continue
			}
			c := t.chain(f[0], true)
			switch f[0] {
			case "INPUT":
				c.Hook, c.Type = "input", "filter"
			case "FORWARD":
				c.Hook, c.Type = "forward", "filter"
			case "OUTPUT":
				c.Hook, c.Type = "output", "filter"
			}
			if f[1] != "-" {
				c.Policy = strings.ToLower(f[1])
			}
			continue
		}
		args, ok := shellFields(l)
		if !ok || len(args) < 2 {
			fail(n, "bad rule")
			continue
		}
		where := fmt.Sprintf("%s:%d", file, n)
		r, chain, insert, err := iptablesRule(args, fam, services)
		if err != "" {
			fail(n, "%s", err)
			continue
		}
		r.Where = where
		c := t.chain(chain, false)
		if c == nil {
			fail(n, "chain %s does not exist", chain)
			continue
		}
		if r.Target != "" && t.chain(r.Target, false) == nil {
			fail(n, "chain %s does not exist", r.Target)
			continue
		}
		if insert {
			c.Rules = append([]nftRule{r}, c.Rules...)
		} else {
			c.Rules = append(c.Rules, r)
		}
	}
	if inTable != "" {
		fail(strings.Count(string(b), "\n")+1, "COMMIT expected for table %s", inTable)
	}
	return rs
}

// iptablesRule turns the arguments of -A/-I into a rule.
func iptablesRule(a []string, fam string, services func(name, proto string) (int, bool)) (r nftRule, chain string, insert bool, err string) {
	switch a[0] {
	case "-A", "--append":
	case "-I", "--insert":
		insert = true
	default:
		return r, "", false, "unsupported command " + a[0]
	}
	chain = a[1]
	a = a[2:]
	if insert && len(a) > 0 {
		if _, e := strconv.Atoi(a[0]); e == nil {
			a = a[1:] // rule number
		}
	}
	proto := ""
	addrKey := "ip saddr"
	if fam == "ip6" {
		addrKey = "ip6 saddr"
	}
	port := func(s string) (string, string) {
		conv := func(x string) (string, string) {
			if n, e := strconv.Atoi(x); e == nil && n >= 0 && n <= 65535 {
				return x, ""
			}
			if n, ok := services(x, proto); ok {
				return strconv.Itoa(n), ""
			}
			return "", "invalid port/service `" + x + "' specified"
		}
		if lo, hi, ok := strings.Cut(s, ":"); ok {
			if lo == "" {
				lo = "0"
			}
			if hi == "" {
				hi = "65535"
			}
			l, e1 := conv(lo)
			h, e2 := conv(hi)
			if e1+e2 != "" {
				return "", e1 + e2
			}
			return l + "-" + h, ""
		}
		return conv(s)
	}
	neg := false
	for i := 0; i < len(a); i++ {
		o := a[i]
		val := func() string {
			if i+1 < len(a) {
				i++
				return a[i]
			}
			err = "option " + o + " requires an argument"
			return ""
		}
		op := "=="
		if neg {
			op = "!="
		}
		switch o {
		case "!":
			neg = true
			continue
		case "-p", "--protocol":
			proto = strings.ToLower(val())
			if proto == "6" {
				proto = "tcp"
			} else if proto == "17" {
				proto = "udp"
			}
			r.Matches = append(r.Matches, nftMatch{Key: "meta l4proto", Op: op, Vals: []string{proto}})
		case "-s", "--source", "--src":
			var vals []string
			for _, x := range strings.Split(val(), ",") {
				v, e := (&nftLoader{}).resolve("ip saddr", x)
				if e != "" {
					err = "host/network `" + x + "' not found"
				}
				vals = append(vals, v)
			}
			r.Matches = append(r.Matches, nftMatch{Key: addrKey, Op: op, Vals: vals})
		case "-i", "--in-interface":
			v := strings.TrimSuffix(val(), "+")
			if strings.HasSuffix(a[i], "+") {
				v += "*"
			}
			r.Matches = append(r.Matches, nftMatch{Key: "meta iifname", Op: op, Vals: []string{v}})
		case "--dport", "--destination-port", "--sport", "--source-port", "--dports", "--destination-ports", "--sports", "--source-ports":
			if proto != "tcp" && proto != "udp" && proto != "sctp" {
				err = "unknown option " + o + " (needs -p tcp or udp)"
				continue
			}
			key := proto + " dport"
			if strings.Contains(o, "sport") || strings.Contains(o, "source") {
				key = proto + " sport"
			}
			var vals []string
			for _, x := range strings.Split(val(), ",") {
				v, e := port(x)
				if e != "" {
					err = e
				}
				vals = append(vals, v)
			}
			r.Matches = append(r.Matches, nftMatch{Key: key, Op: op, Vals: vals})
		case "--state", "--ctstate":
			r.Matches = append(r.Matches, nftMatch{Key: "ct state", Op: op, Vals: strings.Split(strings.ToLower(val()), ",")})
		case "-m", "--match":
			val()
		case "--comment", "--limit", "--limit-burst", "--log-prefix", "--log-level", "--reject-with":
			val()
		case "--icmp-type", "--icmpv6-type":
			val()
			r.Matches = append(r.Matches, nftMatch{Key: "icmp type", Vals: []string{"x"}})
		case "-j", "--jump", "-g", "--goto":
			t := val()
			switch t {
			case "ACCEPT":
				r.Verdict = "accept"
			case "DROP":
				r.Verdict = "drop"
			case "REJECT":
				r.Verdict = "reject"
			case "RETURN":
				r.Verdict = "return"
			case "LOG", "NFLOG", "ULOG":
			default:
				r.Verdict, r.Target = "jump", t
				if o == "-g" || o == "--goto" {
					r.Verdict = "goto"
				}
			}
		default:
			// An option the model does not know: the rule never matches.
			r.Matches = append(r.Matches, nftMatch{Key: "unknown " + o})
			if i+1 < len(a) && !strings.HasPrefix(a[i+1], "-") {
				i++
			}
		}
		neg = false
	}
	return r, chain, insert, err
}

// shellFields splits a line into words with double and single quotes.
func shellFields(s string) ([]string, bool) {
	var out []string
	var w strings.Builder
	in := false
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0 && c == q:
			q = 0
		case q != 0:
			w.WriteByte(c)
		case c == '"' || c == '\'':
			q, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if q != 0 {
		return nil, false
	}
	if in {
		out = append(out, w.String())
	}
	return out, true
}
