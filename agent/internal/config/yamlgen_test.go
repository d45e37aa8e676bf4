package config

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// This file generates the corpus of the differential YAML test: configuration
// documents built from a random tree of sections, lists and scalars and
// rendered in random YAML styles (block and flow, nested both ways; plain,
// single-quoted, double-quoted, literal and folded scalars; anchors and
// aliases; explicit keys; directives; comments; CRLF; a byte order mark).

// gen is one generator; its randomness is seeded so that a failure names a
// document that can be produced again.
type gen struct {
	r *rand.Rand
}

// gnode is a document tree before rendering.
type gnode struct {
	keys   []string // mapping keys, in order (nil for a list or a scalar)
	vals   []*gnode // mapping values or list items
	list   bool
	text   string // scalar text (the value a string should have)
	scalar bool
	// plainOK allows writing the scalar plain; false forces quoting (a string
	// field whose text would otherwise read as another type).
	plainOK bool
	// plainOnly writes the scalar plain always (a boolean or a number for a
	// typed field, which quoting would make a string).
	plainOnly bool
	anchor    string // set on the node that carries &anchor
	alias     string // set on a node written as *alias
}

func mapping(kv ...any) *gnode {
	n := &gnode{keys: []string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		n.keys = append(n.keys, kv[i].(string))
		n.vals = append(n.vals, kv[i+1].(*gnode))
	}
	return n
}

func list(items ...*gnode) *gnode { return &gnode{list: true, vals: items} }

// str is a scalar that must stay a string: it is quoted when its plain form
// would read as something else.
func str(s string) *gnode {
	return &gnode{scalar: true, text: s, plainOK: resolvePlain(s).kind == kindStr && !yaml11Typed(s)}
}

// anyScalar is a scalar written plain whenever YAML syntax allows it,
// whatever type it then has.
func anyScalar(s string) *gnode { return &gnode{scalar: true, text: s, plainOK: true} }

// typed is a boolean or a number for a typed field: always written plain.
func typed(s string) *gnode { return &gnode{scalar: true, text: s, plainOK: true, plainOnly: true} }

// yaml11Typed reports whether a text that is a string in YAML 1.2 is typed
// by YAML 1.1 (PyYAML), so that a field that must be a string quotes it.
func yaml11Typed(s string) bool {
	_, deliberate := deliberateDifference(s)
	return deliberate
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// Pools of values that fit the configuration's fields.
var (
	segments   = []string{"gw-01", "plant_a", "Gw.7", "工厂-3", "a:b", `x\y`, "edge~1", "ent-0001", "on", "042", "1e3", "2024-05-01"}
	paths      = []string{"./var/buffer.db", "/var/lib/edgeward/b.db", `C:\ProgramData\edgeward\buffer.db`, "/tmp/a#b.db", "/tmp/a b.db", "/tmp/x: y.db", "~/x.db", "/tmp/日本.db", "var/it's.db", `\\server\share\b.db`, "/tmp/[x].db", "/data/@edge/b.db", "-dash.db", "/tmp/%41.db"}
	brokers    = []string{"tcp://127.0.0.1:1883", "ssl://broker.example:8883", "mqtts://[::1]:8883", "tls://b-2.example:8883", "tcp://localhost:1883"}
	interfaces = []string{"eth0", "eth0:1", "enp3s0", "br-lan", "Ethernet 2", `\Device\NPF_{4F8C-11}`, "wlan0.100", "lo"}
	files      = []string{`C:\captures\a.pcap`, "/data/caps/plant #1.pcapng", "caps/a,b.pcap", "./x.pcap", "/caps/[2024]/b.pcap", `D:\OT\{mb}.pcapng`, "/caps/x: y.pcap", "/caps/'q'.pcap"}
	sizes      = []string{"64MiB", "1GiB", "1.5GiB", "300MB", "2MB"}
	byteCounts = []string{"2097152", "0x200000", "0o10000000", "+3145728"}
	durations  = []string{"15m", "6h", "30d", "90s", "1h30m", "500ms", "45m"}
	freeTexts  = []string{
		"yes", "no", "on", "off", "Yes", "OFF", "true", "False", "TRUE", "null", "~", "Null", "",
		"0", "42", "-7", "+12", "014", "0o14", "0x1F", "0b101", "1_000", "1:20", "190:20:30.15",
		"1.5", "-0.25", ".5", "1.", "1e3", "1.5e3", "6.02e+23", "1E-3", ".inf", "-.Inf", "+.INF", ".nan", ".NaN",
		"2024-05-01", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "12:30",
		"plain text", "a:b", "a: b", "a #b", "a#b", "C:\\dir\\f.txt", "http://x.example/a?b=c#frag", "/usr/bin",
		"it's", `say "hi"`, "tab\there", "line1\nline2", "  padded  ", "ünïcödé", "中文字符", "emoji 🙂", "-", "- x",
		"?", "? x", "[not a list]", "{not: a map}", "*star", "&amp", "!bang", "|pipe", ">gt", "%pct", "@at", "`tick", ",comma",
		"trailing:", "key: value: x", "#hash", "100%", "\\", "a\\nb", "1,000", "0.1.2", "v1.2", "=", "<<",
	}
	keyTexts = []string{"alpha", "beta_2", "gamma-3", "delta.4", "with space", "k:v", "中文键", "x#y", "Zeta", "\"q\"", "it's", "ab"}
)

// document builds one configuration tree that the loader should accept
// (strictness aside) and renders it.
func (g *gen) document() string {
	var top []any
	if g.chance(0.7) {
		a := mapping()
		for _, k := range []string{"id", "enterprise", "site"} {
			if g.chance(0.6) {
				a.keys, a.vals = append(a.keys, k), append(a.vals, str(g.pick(segments...)))
			}
		}
		if len(a.keys) > 1 && g.chance(0.3) { // an anchored scalar used again
			a.vals[0].anchor = "seg"
			a.vals[len(a.vals)-1] = &gnode{alias: "seg"}
		}
		top = append(top, "agent", a)
	}
	if g.chance(0.6) {
		b := mapping("path", str(g.pick(paths...)))
		if g.chance(0.5) {
			b.keys, b.vals = append(b.keys, "max_bytes"), append(b.vals, g.size())
		}
		if g.chance(0.5) {
			b.keys, b.vals = append(b.keys, "max_age"), append(b.vals, anyScalar(g.pick(durations...)))
		}
		top = append(top, "buffer", b)
	}
	if g.chance(0.7) {
		u := mapping()
		n := g.r.IntN(3)
		bl := list()
		for _, i := range g.r.Perm(len(brokers))[:n] {
			bl.vals = append(bl.vals, str(brokers[i]))
		}
		u.keys, u.vals = append(u.keys, "brokers"), append(u.vals, bl)
		if g.chance(0.4) {
			tls := mapping("ca_file", str(g.pick(paths...)))
			if g.chance(0.5) {
				tls.keys = append(tls.keys, "cert_file", "key_file")
				tls.vals = append(tls.vals, str(g.pick(files...)), str(g.pick(paths...)))
			}
			if g.chance(0.3) {
				tls.keys, tls.vals = append(tls.keys, "insecure_skip_verify"), append(tls.vals, typed(g.pick("true", "false", "False", "TRUE")))
			}
			u.keys, u.vals = append(u.keys, "tls"), append(u.vals, tls)
		}
		if g.chance(0.4) {
			u.keys, u.vals = append(u.keys, "in_flight"), append(u.vals, typed(g.pick("1", "8", "0x10", "0o20", "+4", "0064", "1024")))
		}
		if g.chance(0.3) {
			u.keys, u.vals = append(u.keys, "gzip"), append(u.vals, typed(g.pick("true", "false", "True", "FALSE")))
		}
		if g.chance(0.3) {
			u.keys, u.vals = append(u.keys, "heartbeat"), append(u.vals, anyScalar(g.pick(durations[:4]...)))
		}
		if g.chance(0.3) {
			u.keys, u.vals = append(u.keys, "username"), append(u.vals, str(g.pick(segments...)))
		}
		top = append(top, "uplink", u)
	}
	if g.chance(0.8) {
		c := mapping()
		if g.chance(0.5) {
			h := mapping("enabled", typed(g.pick("true", "false")), "interval", anyScalar(g.pick(durations[:5]...)))
			c.keys, c.vals = append(c.keys, "host"), append(c.vals, h)
			if g.chance(0.3) {
				h.anchor = "col"
				c.keys, c.vals = append(c.keys, "baseline"), append(c.vals, &gnode{alias: "col"})
			}
		}
		if !contains(c.keys, "baseline") && g.chance(0.7) {
			b := mapping("role", str(g.pick("auto", "gateway", "workstation", "server")))
			if g.chance(0.8) {
				b.keys, b.vals = append(b.keys, "site_policy"), append(b.vals, g.free(3))
			}
			if g.chance(0.5) {
				b.keys, b.vals = append(b.keys, "self_declared"), append(b.vals, g.free(3))
			}
			c.keys, c.vals = append(c.keys, "baseline"), append(c.vals, b)
		}
		if g.chance(0.6) {
			p := mapping()
			il, fl := list(), list()
			for _, i := range g.r.Perm(len(interfaces))[:g.r.IntN(3)] {
				il.vals = append(il.vals, str(interfaces[i]))
			}
			for _, i := range g.r.Perm(len(files))[:g.r.IntN(4)] {
				fl.vals = append(fl.vals, str(files[i]))
			}
			p.keys, p.vals = append(p.keys, "interfaces", "files"), append(p.vals, il, fl)
			if len(il.vals)+len(fl.vals) > 0 && g.chance(0.5) {
				p.keys, p.vals = append(p.keys, "enabled"), append(p.vals, typed("true"))
			}
			if g.chance(0.6) {
				mb := list(typed(g.pick("502", "0x1F6", "0o766")), typed(g.pick("1502", "5020", "+15020")))
				ports := mapping("modbus", mb)
				if g.chance(0.4) {
					mb.anchor = "ports"
					ports.keys, ports.vals = append(ports.keys, "opcua"), append(ports.vals, &gnode{alias: "ports"})
				} else {
					ports.keys, ports.vals = append(ports.keys, "opcua"), append(ports.vals, list(typed("4840")))
				}
				p.keys, p.vals = append(p.keys, "ports"), append(p.vals, ports)
			}
			c.keys, c.vals = append(c.keys, "passive"), append(c.vals, p)
		}
		top = append(top, "collectors", c)
	}
	if g.chance(0.4) {
		top = append(top, "log", mapping("level", str(g.pick("debug", "info", "warn", "error")), "format", str(g.pick("text", "json"))))
	}
	if g.chance(0.3) {
		top = append(top, "metrics", mapping("listen", str(g.pick("127.0.0.1:9464", "[::1]:9464", "localhost:9464"))))
	}
	g.r.Shuffle(len(top)/2, func(i, j int) {
		top[2*i], top[2*j] = top[2*j], top[2*i]
		top[2*i+1], top[2*j+1] = top[2*j+1], top[2*i+1]
	})
	return g.render(mapping(top...))
}

// size is a size with a unit (a string) or a number of bytes.
func (g *gen) size() *gnode {
	if g.chance(0.5) {
		return typed(g.pick(byteCounts...))
	}
	return str(g.pick(sizes...))
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// free builds a free-form value (site_policy, self_declared) of at most
// depth levels: any scalar, nested lists and mappings.
func (g *gen) free(depth int) *gnode {
	m := mapping()
	for _, i := range g.r.Perm(len(keyTexts))[:1+g.r.IntN(4)] {
		m.keys = append(m.keys, keyTexts[i])
		switch {
		case depth > 1 && g.chance(0.25):
			m.vals = append(m.vals, g.free(depth-1))
		case depth > 1 && g.chance(0.3):
			l := list()
			for range g.r.IntN(4) {
				if depth > 2 && g.chance(0.2) {
					l.vals = append(l.vals, g.free(depth-2))
				} else {
					l.vals = append(l.vals, anyScalar(g.pick(freeTexts...)))
				}
			}
			m.vals = append(m.vals, l)
		default:
			m.vals = append(m.vals, anyScalar(g.pick(freeTexts...)))
		}
	}
	return m
}

// render writes a tree as a YAML document with random styles and
// decorations.
func (g *gen) render(root *gnode) string {
	var b strings.Builder
	if g.chance(0.1) {
		b.WriteString("# generated configuration\n")
	}
	switch g.r.IntN(8) {
	case 0:
		b.WriteString("%YAML 1.2\n---\n")
	case 1:
		b.WriteString("%YAML 1.1\n---\n")
	case 2:
		b.WriteString("%TAG !e! tag:edgeward.example,2024:\n---\n")
	case 3:
		b.WriteString("---\n")
	}
	if g.chance(0.15) {
		b.WriteString(g.flow(root) + "\n")
	} else {
		g.block(&b, root, 0)
	}
	if g.chance(0.1) {
		b.WriteString("...\n")
	}
	s := b.String()
	if g.chance(0.15) {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	if g.chance(0.1) {
		s = "\ufeff" + s
	}
	return s
}

// props returns the anchor and the separator that precede a node.
func props(n *gnode) string {
	if n.anchor != "" {
		return "&" + n.anchor + " "
	}
	return ""
}

// block writes mapping n in block style at indent.
func (g *gen) block(b *strings.Builder, n *gnode, indent int) {
	pad := strings.Repeat(" ", indent)
	for i, k := range n.keys {
		v := n.vals[i]
		if g.chance(0.05) {
			fmt.Fprintf(b, "%s# about %s\n", pad, k)
		}
		explicit := g.chance(0.08)
		if explicit {
			fmt.Fprintf(b, "%s? %s\n%s:", pad, g.key(k, false), pad)
		} else {
			fmt.Fprintf(b, "%s%s:", pad, g.key(k, false))
		}
		g.value(b, v, indent)
	}
}

// value writes the value of a block mapping entry (after the colon).
func (g *gen) value(b *strings.Builder, v *gnode, indent int) {
	step := 1 + g.r.IntN(4)
	switch {
	case v.alias != "":
		fmt.Fprintf(b, " *%s\n", v.alias)
	case v.scalar:
		if !v.plainOnly && g.chance(0.1) && !strings.ContainsAny(v.text, "\n\t") && v.text != "" && strings.TrimSpace(v.text) == v.text {
			ind := strings.Repeat(" ", indent+step)
			fmt.Fprintf(b, " %s%s\n%s%s\n", props(v), g.pick("|-", ">-"), ind, v.text)
			return
		}
		fmt.Fprintf(b, " %s%s", props(v), g.scalar(v, false))
		if g.chance(0.1) {
			b.WriteString(" # note")
		}
		b.WriteString("\n")
	case len(v.vals) == 0 || g.chance(0.3):
		fmt.Fprintf(b, " %s%s\n", props(v), g.flow(v))
	case v.list:
		if v.anchor != "" {
			fmt.Fprintf(b, " &%s", v.anchor)
		}
		b.WriteString("\n")
		seqIndent := indent + step - 1 + g.r.IntN(2) // "- " at the key's column or indented
		for _, it := range v.vals {
			pad := strings.Repeat(" ", seqIndent)
			switch {
			case it.scalar && it.alias == "":
				fmt.Fprintf(b, "%s- %s%s\n", pad, props(it), g.scalar(it, false))
			case it.alias != "":
				fmt.Fprintf(b, "%s- *%s\n", pad, it.alias)
			case !it.list && len(it.keys) > 0 && g.chance(0.5):
				// A block mapping inside a block list: "- a: 1\n  b: 2".
				var inner strings.Builder
				g.block(&inner, it, seqIndent+2)
				s := inner.String()
				fmt.Fprintf(b, "%s- %s", pad, strings.TrimLeft(s, " "))
			default:
				fmt.Fprintf(b, "%s- %s%s\n", pad, props(it), g.flow(it))
			}
		}
	default:
		if v.anchor != "" {
			fmt.Fprintf(b, " &%s", v.anchor)
		}
		b.WriteString("\n")
		g.block(b, v, indent+step)
	}
}

// flow writes n in flow style.
func (g *gen) flow(n *gnode) string {
	if n.alias != "" {
		return "*" + n.alias
	}
	if n.scalar {
		return props(n) + g.scalar(n, true)
	}
	parts := make([]string, len(n.vals))
	for i, v := range n.vals {
		if n.list {
			parts[i] = g.flow(v)
			continue
		}
		k := g.key(n.keys[i], true)
		if g.chance(0.05) {
			k = "? " + k
		}
		parts[i] = k + ": " + g.flow(v)
	}
	sep := g.pick(", ", ",", " , ")
	body := strings.Join(parts, sep)
	if len(parts) > 0 && g.chance(0.1) {
		body += "," // a trailing comma is allowed in flow collections
	}
	if n.list {
		return props(n) + "[" + body + "]"
	}
	return props(n) + "{" + g.pick("", " ") + body + g.pick("", " ") + "}"
}

// key writes a mapping key (quoted when a plain key would not read back as
// the same string).
func (g *gen) key(k string, flow bool) string {
	if safePlain(k, flow) && resolvePlain(k).kind == kindStr && !yaml11Typed(k) && !g.chance(0.15) {
		return k
	}
	return doubleQuote(k, g)
}

// scalar writes a scalar in a random style the context allows.
func (g *gen) scalar(n *gnode, flow bool) string {
	if n.plainOnly || (n.plainOK && safePlain(n.text, flow) && g.chance(0.7)) {
		return n.text
	}
	if !strings.ContainsAny(n.text, "\n\t\\") && g.chance(0.5) {
		return "'" + strings.ReplaceAll(n.text, "'", "''") + "'"
	}
	return doubleQuote(n.text, g)
}

// doubleQuote writes s as a double-quoted scalar, escaping some characters
// in random forms.
func doubleQuote(s string, g *gen) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(g.pick(`\t`, `\x09`))
		case r > 0x7f && r < 0x10000 && g.chance(0.3):
			fmt.Fprintf(&b, `\u%04x`, r)
		case r == '/' && g.chance(0.2):
			b.WriteString(`\/`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// safePlain reports whether s can be written as a plain scalar and read
// back as the same text, in flow or block context.
func safePlain(s string, flow bool) bool {
	if s == "" || s != strings.TrimSpace(s) || strings.ContainsAny(s, "\n\t") {
		return false
	}
	if strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`", rune(s[0])) {
		if !(strings.ContainsRune("-?:", rune(s[0])) && len(s) > 1 && s[1] != ' ' && !(flow && strings.ContainsRune(",[]{}", rune(s[1])))) {
			return false
		}
	}
	if strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.HasSuffix(s, ":") {
		return false
	}
	if flow && strings.ContainsAny(s, ",[]{}") {
		return false
	}
	if s == "---" || s == "..." || strings.HasPrefix(s, "--- ") || s == "<<" || s == "=" {
		return false
	}
	return true
}

// mutate breaks a document in one of the ways people do, for the part of
// the corpus that should be refused (or, where YAML allows it, read the
// same by both).
func (g *gen) mutate(doc string) string {
	lines := strings.Split(doc, "\n")
	i := g.r.IntN(max(1, len(lines)-1))
	switch g.r.IntN(7) {
	case 0: // an unclosed flow collection
		if j := strings.LastIndexAny(doc, "]}"); j >= 0 {
			return doc[:j] + doc[j+1:]
		}
		return doc + "a: [b\n"
	case 1: // a tab used for indentation
		lines[i] = "\t" + lines[i]
	case 2: // a second mapping value on one line
		lines[i] += ": x"
	case 3: // a line dedented into the middle of a block
		lines[i] = " " + lines[i]
	case 4: // an unterminated quoted string
		lines[i] += ` "open`
	case 5: // a second document
		return doc + "---\nlog: {level: info}\n"
	default: // an undefined alias
		lines[i] += " *missing"
	}
	return strings.Join(lines, "\n")
}
