package baseline

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
)

// This file reads sshd_config the way OpenSSH 9.x sshd does (servconf.c):
// keywords case-insensitive, "Keyword value" or "Keyword=value", comments
// from a word that starts with '#', quoted arguments, Include with globs
// (sorted, relative to /etc/ssh, expanded in place, a Match inside an included
// file ending with that file), the first value of a keyword winning, and Match
// blocks applied for a given connection: the first value among the matching
// Match blocks overrides the global one. Lines sshd rejects make the whole
// configuration invalid, as `sshd -t` reports.

// sshdConn is the connection a check is about, as `sshd -T -C` takes it.
type sshdConn struct {
	User, Host, Addr, LAddr, RDomain string
	LPort                            int
}

// String formats the connection like the -C argument of sshd -T.
func (c sshdConn) String() string {
	var f []string
	add := func(k, v string) {
		if v != "" {
			f = append(f, k+"="+v)
		}
	}
	add("user", c.User)
	add("host", c.Host)
	add("addr", c.Addr)
	add("laddr", c.LAddr)
	if c.LPort > 0 {
		add("lport", strconv.Itoa(c.LPort))
	}
	add("rdomain", c.RDomain)
	return strings.Join(f, ",")
}

// sshdDirective is one keyword line.
type sshdDirective struct {
	Key   string   // lowercased, aliases resolved
	Args  []string // arguments after quote removal
	Where string   // absolute file:line
	Match int      // index of the enclosing Match block, -1 when global
}

// sshdMatch is one Match line.
type sshdMatch struct {
	Criteria [][2]string // lowercased attribute, pattern list; ["all", ""] for Match all
	Where    string
	Text     string
}

// sshdConf is a parsed sshd configuration.
type sshdConf struct {
	Directives []sshdDirective
	Matches    []sshdMatch
	Files      []string // files read, absolute
	Err        string   // why sshd would reject the configuration ("" when valid)
	authSet    bool     // an active AuthenticationMethods line was read
	// groups returns the group names of a user (primary and supplementary),
	// and whether the user exists; nil means no user exists.
	groups func(user string) ([]string, bool)
}

// sshdSource reads files and expands globs for the loader; paths are
// absolute as on the inspected host.
type sshdSource struct {
	read func(abs string) ([]byte, error)
	glob func(absPattern string) []string
}

// sshdMaxDepth is OpenSSH's SERVCONF_MAX_DEPTH.
const sshdMaxDepth = 16

// loadSSHD parses the main file and its includes.
func loadSSHD(src sshdSource, main string) (*sshdConf, error) {
	b, err := src.read(main)
	if err != nil {
		return nil, err
	}
	c := &sshdConf{}
	c.parse(src, main, b, -1, 0)
	return c, nil
}

func (c *sshdConf) fail(where, format string, a ...any) {
	if c.Err == "" {
		c.Err = where + ": " + fmt.Sprintf(format, a...)
	}
}

// parse adds the directives of one file. match is the Match block in force
// where the file was included (-1 for global).
func (c *sshdConf) parse(src sshdSource, file string, b []byte, match int, depth int) {
	c.Files = append(c.Files, file)
	for n, raw := range strings.Split(string(b), "\n") {
		where := file + ":" + strconv.Itoa(n+1)
		line := strings.TrimRight(raw, " \t\r\f\v")
		kw, rest := sshdStrdelim(line)
		if kw == "" {
			kw, rest = sshdStrdelim(rest)
		}
		if kw == "" || strings.HasPrefix(kw, "#") {
			continue
		}
		key := strings.ToLower(kw)
		if strings.TrimSpace(rest) == "" {
			c.fail(where, "no argument after keyword %q", kw)
			continue
		}
		if key == "match" {
			m, err := parseSSHDMatch(rest)
			if err != "" {
				c.fail(where, "Bad Match condition: %s", err)
				continue
			}
			m.Where, m.Text = where, "Match "+strings.TrimSpace(rest)
			c.Matches = append(c.Matches, m)
			match = len(c.Matches) - 1
			continue
		}
		args, ok := sshdArgv(rest)
		if !ok {
			c.fail(where, "invalid quotes")
			continue
		}
		if alias, ok := sshdAliases()[key]; ok {
			key = alias
		}
		info, known := sshdKeywords()[key]
		if !known {
			c.fail(where, "Bad configuration option: %s", kw)
			continue
		}
		if info.deprecated {
			continue
		}
		if match >= 0 && !info.inMatch && !sshdMatchAll(c.Matches[match]) {
			c.fail(where, "Directive '%s' is not allowed within a Match block", kw)
			continue
		}
		if key == "include" {
			if depth >= sshdMaxDepth {
				c.fail(where, "Too many recursive configuration includes")
				continue
			}
			for _, pat := range args {
				if !strings.HasPrefix(pat, "/") && !strings.HasPrefix(pat, "~") {
					pat = "/etc/ssh/" + pat
				}
				for _, f := range src.glob(pat) {
					fb, err := src.read(f)
					if err != nil {
						c.fail(where, "Include %s: %v", f, err)
						continue
					}
					c.parse(src, f, fb, match, depth+1)
				}
			}
			continue
		}
		if msg := info.validate(key, args); msg != "" {
			c.fail(where, "%s: %s", kw, msg)
			continue
		}
		globalActive := match < 0 || sshdMatchAll(c.Matches[match])
		if key == "authenticationmethods" {
			// sshd rejects "any" once an active line has set the list
			if c.authSet && slices.Contains(args, "any") {
				c.fail(where, "\"any\" must appear alone in %s", kw)
				continue
			}
			c.authSet = c.authSet || globalActive
		}
		c.Directives = append(c.Directives, sshdDirective{Key: key, Args: args, Where: where, Match: match})
	}
}

// sshdMatchAll reports whether a Match block is "Match all". Keywords that
// are not allowed in Match blocks are still accepted by sshd there, because
// the block is active while the global options are read.
func sshdMatchAll(m sshdMatch) bool { return len(m.Criteria) == 1 && m.Criteria[0][0] == "all" }

// sshdStrdelim splits off the first word the way OpenSSH's strdelim does:
// at whitespace or at one '=' (with the whitespace around it), honouring a
// leading double quote.
func sshdStrdelim(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t")
	if s == "" {
		return "", ""
	}
	if s[0] == '"' {
		if i := strings.IndexByte(s[1:], '"'); i >= 0 {
			word, rest = s[1:i+1], s[i+2:]
		} else {
			return "", ""
		}
	} else {
		i := strings.IndexAny(s, " \t=")
		if i < 0 {
			return s, ""
		}
		word, rest = s[:i], s[i:]
	}
	rest = strings.TrimLeft(rest, " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	return word, rest
}

// sshdArgv splits arguments as OpenSSH's argv_split with comments: words
// separated by blanks, single or double quotes group, a backslash escapes a
// quote, a backslash or a space, and a word starting with '#' ends the line.
func sshdArgv(s string) ([]string, bool) {
	var out []string
	i := 0
	for i < len(s) {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		if s[i] == '#' {
			break
		}
		var w strings.Builder
		var quote byte
		for ; i < len(s); i++ {
			ch := s[i]
			switch {
			case ch == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
				i++
				w.WriteByte(s[i])
				continue
			case quote == 0 && (ch == ' ' || ch == '\t'):
			case quote == 0 && (ch == '"' || ch == '\''):
				quote = ch
				continue
			case quote != 0 && ch == quote:
				quote = 0
				continue
			default:
				w.WriteByte(ch)
				continue
			}
			break
		}
		if quote != 0 {
			return nil, false
		}
		out = append(out, w.String())
	}
	return out, true
}

// parseSSHDMatch parses the criteria of a Match line as match_cfg_line does.
func parseSSHDMatch(s string) (sshdMatch, string) {
	var m sshdMatch
	rest := s
	for {
		var attr string
		attr, rest = sshdStrdelim(rest)
		if attr == "" || strings.HasPrefix(attr, "#") {
			break
		}
		a := strings.ToLower(attr)
		if a == "all" {
			next, _ := sshdStrdelim(rest)
			if len(m.Criteria) > 0 || (next != "" && !strings.HasPrefix(next, "#")) {
				return m, "'all' cannot be combined with other Match attributes"
			}
			m.Criteria = append(m.Criteria, [2]string{"all", ""})
			return m, ""
		}
		var arg string
		arg, rest = sshdStrdelim(rest)
		if arg == "" || strings.HasPrefix(arg, "#") {
			return m, "Missing Match criteria for " + attr
		}
		switch a {
		case "user", "group", "host", "rdomain":
		case "address", "localaddress":
			if sshdAddrMatchList("", arg) == -2 {
				return m, "invalid address list " + arg
			}
		case "localport":
			if p, err := strconv.Atoi(arg); err != nil || p <= 0 || p > 65535 {
				return m, "Invalid LocalPort " + arg
			}
		default:
			return m, "Unsupported Match attribute " + attr
		}
		m.Criteria = append(m.Criteria, [2]string{a, arg})
	}
	if len(m.Criteria) == 0 {
		return m, "One or more attributes required for Match"
	}
	return m, ""
}

// matches evaluates a Match block for a connection. Criteria whose value the
// connection does not give do not match (as sshd -T -C).
func (c *sshdConf) matches(m sshdMatch, ci sshdConn) bool {
	for _, cr := range m.Criteria {
		arg := cr[1]
		switch cr[0] {
		case "all":
			return true
		case "user":
			if ci.User == "" || sshMatchPatternList(ci.User, arg, false) != 1 {
				return false
			}
		case "group":
			if ci.User == "" || c.groups == nil {
				return false
			}
			gs, ok := c.groups(ci.User)
			if !ok || !sshGroupMatch(gs, arg) {
				return false
			}
		case "host":
			if ci.Host == "" || sshMatchPatternList(strings.ToLower(ci.Host), arg, true) != 1 {
				return false
			}
		case "address":
			if ci.Addr == "" || sshdAddrMatchList(ci.Addr, arg) != 1 {
				return false
			}
		case "localaddress":
			if ci.LAddr == "" || sshdAddrMatchList(ci.LAddr, arg) != 1 {
				return false
			}
		case "localport":
			if p, _ := strconv.Atoi(arg); ci.LPort == 0 || p != ci.LPort {
				return false
			}
		case "rdomain":
			if ci.RDomain == "" || sshMatchPatternList(ci.RDomain, arg, false) != 1 {
				return false
			}
		}
	}
	return true
}

// sshGroupMatch is ga_match_pattern_list: a negated match of any group wins.
func sshGroupMatch(groups []string, pattern string) bool {
	found := false
	for _, g := range groups {
		switch sshMatchPatternList(g, pattern, false) {
		case -1:
			return false
		case 1:
			found = true
		}
	}
	return found
}

// sshMatchPattern is OpenSSH's match_pattern: '*' and '?' wildcards.
func sshMatchPattern(s, p string) bool {
	for {
		if p == "" {
			return s == ""
		}
		switch p[0] {
		case '*':
			p = p[1:]
			if p == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if sshMatchPattern(s[i:], p) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		s, p = s[1:], p[1:]
	}
}

// sshMatchPatternList is match_pattern_list: 1 when a positive pattern
// matches, -1 when a negated one does, 0 otherwise.
func sshMatchPatternList(s, list string, lower bool) int {
	got := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if lower {
			p = strings.ToLower(p)
		}
		if sshMatchPattern(s, p) {
			if neg {
				return -1
			}
			got = 1
		}
	}
	return got
}

// sshdAddrMatchList is addr_match_list: CIDR entries preferred, wildcard
// patterns otherwise; -1 for a negated match, -2 for an invalid network (host
// bits set, mask too long), 1 for a match, 0 for none. An empty addr only
// validates the list.
func sshdAddrMatchList(addr, list string) int {
	var a netip.Addr
	if addr != "" {
		var err error
		if a, err = netip.ParseAddr(addr); err != nil {
			return 0
		}
		a = a.Unmap()
	}
	ret := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if p == "" {
			return -2
		}
		pfx, r := sshdCIDR(p)
		matched := false
		switch r {
		case -2:
			return -2
		case 0:
			matched = addr != "" && pfx.Addr().Is4() == a.Is4() && pfx.Contains(a)
		default:
			matched = addr != "" && sshMatchPattern(addr, p)
		}
		if matched {
			if neg {
				return -1
			}
			ret = 1
		}
	}
	return ret
}

// sshdCIDR is addr_pton_cidr: 0 with the prefix, -1 when not an address,
// -2 when the mask is invalid for the family or host bits are set.
func sshdCIDR(p string) (netip.Prefix, int) {
	addr, mask, hasMask := strings.Cut(p, "/")
	bits := -1
	if hasMask {
		n, err := strconv.Atoi(mask)
		if err != nil || mask == "" || mask[0] < '0' || mask[0] > '9' || n > 128 {
			return netip.Prefix{}, -1
		}
		bits = n
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, -1
	}
	if bits < 0 {
		bits = a.BitLen()
	}
	if bits > a.BitLen() {
		return netip.Prefix{}, -2
	}
	pfx := netip.PrefixFrom(a, bits)
	if pfx.Masked().Addr() != a {
		return netip.Prefix{}, -2
	}
	return pfx, 0
}

// lookup returns the directives that decide key for a connection: those of
// the matching Match blocks when any sets the key, else the global ones.
func (c *sshdConf) lookup(ci sshdConn, key string) []sshdDirective {
	var global, matched []sshdDirective
	active := make([]bool, len(c.Matches))
	for i, m := range c.Matches {
		active[i] = c.matches(m, ci)
	}
	for _, d := range c.Directives {
		if d.Key != key {
			continue
		}
		if d.Match < 0 {
			global = append(global, d)
		} else if active[d.Match] {
			matched = append(matched, d)
		}
	}
	if len(matched) > 0 {
		return matched
	}
	return global
}

// value returns the effective value of a single-valued keyword for a
// connection, in the form `sshd -T` prints it, and where it was set ("" for
// the compiled-in default).
func (c *sshdConf) value(ci sshdConn, key string) (string, string) {
	ds := c.lookup(ci, key)
	if len(ds) == 0 {
		return sshdDefault(key), ""
	}
	if info := sshdKeywords()[key]; info.list {
		var all []string
		for _, d := range ds {
			all = append(all, d.Args...)
		}
		return strings.Join(all, " "), ds[0].Where
	}
	return sshdCanon(key, ds[0].Args), ds[0].Where
}

// matchText returns the Match line a directive belongs to, for evidence.
func (c *sshdConf) matchText(where string) string {
	for _, d := range c.Directives {
		if d.Where == where && d.Match >= 0 {
			return c.Matches[d.Match].Text + " (" + c.Matches[d.Match].Where + ")"
		}
	}
	return ""
}

// sshdKeyword describes how sshd parses one keyword.
type sshdKeyword struct {
	inMatch    bool
	list       bool // arguments accumulate over lines (AllowUsers, ...)
	deprecated bool // accepted and ignored
	kind       string
}

// validate checks the arguments of a keyword as sshd does for the kinds the
// checks read; other keywords take any non-empty arguments.
func (k sshdKeyword) validate(key string, args []string) string {
	one := func() string {
		if len(args) != 1 {
			return "extra arguments at end of line"
		}
		return ""
	}
	switch k.kind {
	case "flag", "int", "time", "enum":
		if m := one(); m != "" {
			return m
		}
	}
	v := strings.ToLower(args[0])
	switch k.kind {
	case "flag":
		if v != "yes" && v != "no" {
			return "unsupported option " + args[0]
		}
	case "int":
		if n, err := strconv.Atoi(args[0]); err != nil || n < 0 {
			return "integer value " + args[0]
		}
	case "time":
		if _, ok := sshdConvtime(args[0]); !ok {
			return "invalid time value " + args[0]
		}
	case "enum":
		if key == "permittunnel" {
			v = args[0] // sshd compares PermitTunnel values case-sensitively
		}
		if _, ok := sshdEnums()[key][v]; !ok {
			return "unsupported option " + args[0]
		}
	}
	if key == "authenticationmethods" {
		return sshdAuthMethods(args)
	}
	return ""
}

// sshdAuthMethods validates AuthenticationMethods as sshd does: "any"
// alone, or lists of method names (case-sensitive), keyboard-interactive
// with an optional ":submethod".
func sshdAuthMethods(args []string) string {
	if len(args) == 1 && args[0] == "any" {
		return ""
	}
	for _, list := range args {
		for _, m := range strings.Split(list, ",") {
			name, _, _ := strings.Cut(m, ":")
			switch name {
			case "publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic":
			default:
				return "invalid authentication method list " + list
			}
		}
	}
	return ""
}

// sshdEnums maps the accepted values of the multi-state keywords to what
// sshd -T prints.
func sshdEnums() map[string]map[string]string {
	fwd := map[string]string{"yes": "yes", "all": "yes", "no": "no", "local": "local", "remote": "remote"}
	return map[string]map[string]string{
		"permitrootlogin":            {"without-password": "without-password", "prohibit-password": "without-password", "forced-commands-only": "forced-commands-only", "yes": "yes", "no": "no"},
		"allowtcpforwarding":         fwd,
		"allowstreamlocalforwarding": fwd,
		"gatewayports":               {"clientspecified": "clientspecified", "yes": "yes", "no": "no"},
		"permittunnel":               {"ethernet": "ethernet", "point-to-point": "point-to-point", "yes": "yes", "no": "no"},
		"compression":                {"yes": "yes", "delayed": "yes", "no": "no"},
	}
}

// sshdKeywords lists the keywords of OpenSSH 9.2 sshd (Debian 12), with
// whether they are allowed in Match blocks.
func sshdKeywords() map[string]sshdKeyword {
	m := map[string]sshdKeyword{}
	inMatch := "acceptenv allowagentforwarding allowgroups allowstreamlocalforwarding allowtcpforwarding allowusers authenticationmethods authorizedkeyscommand authorizedkeyscommanduser authorizedkeysfile authorizedprincipalscommand authorizedprincipalscommanduser authorizedprincipalsfile banner casignaturealgorithms channeltimeout chrootdirectory clientalivecountmax clientaliveinterval denygroups denyusers disableforwarding exposeauthinfo forcecommand gatewayports gssapiauthentication hostbasedacceptedalgorithms hostbasedauthentication hostbasedusesnamefrompacketonly ignorerhosts include ipqos kbdinteractiveauthentication kerberosauthentication loglevel maxauthtries maxsessions passwordauthentication permitemptypasswords permitlisten permitopen permitrootlogin permittty permittunnel permituserrc pubkeyacceptedalgorithms pubkeyauthentication pubkeyauthoptions rekeylimit revokedkeys setenv streamlocalbindmask streamlocalbindunlink trustedusercakeys unusedconnectiontimeout x11displayoffset x11forwarding x11uselocalhost"
	global := "addressfamily ciphers compression debianbanner fingerprinthash gssapicleanupcredentials gssapikeyexchange gssapistrictacceptorcheck gssapistorecredentialsonrekey gssapikexalgorithms hostcertificate hostkey hostkeyagent hostkeyalgorithms ignoreuserknownhosts kerberosgetafstoken kerberosorlocalpasswd kerberosticketcleanup kexalgorithms listenaddress logingracetime logverbose macs maxstartups modulifile permituserenvironment persourcemaxstartups persourcenetblocksize pidfile port printlastlog printmotd requiredrsasize securitykeyprovider strictmodes subsystem syslogfacility tcpkeepalive usedns usepam versionaddendum xauthlocation"
	for _, k := range strings.Fields(inMatch) {
		m[k] = sshdKeyword{inMatch: true}
	}
	for _, k := range strings.Fields(global) {
		m[k] = sshdKeyword{}
	}
	for _, k := range strings.Fields("protocol rsaauthentication rhostsrsaauthentication useprivilegeseparation uselogin keyregenerationinterval serverkeybits pamauthenticationviakbdint afstokenpassing showpatchlevel") {
		m[k] = sshdKeyword{deprecated: true, inMatch: true}
	}
	set := func(kind string, keys ...string) {
		for _, k := range keys {
			x := m[k]
			x.kind = kind
			m[k] = x
		}
	}
	set("flag", "passwordauthentication", "permitemptypasswords", "kbdinteractiveauthentication", "usepam", "x11forwarding",
		"allowagentforwarding", "disableforwarding", "pubkeyauthentication", "hostbasedauthentication", "ignorerhosts",
		"strictmodes", "x11uselocalhost", "permittty", "permituserrc", "gssapiauthentication", "kerberosauthentication", "printmotd", "tcpkeepalive", "usedns")
	set("int", "maxauthtries", "clientalivecountmax", "maxsessions")
	set("time", "clientaliveinterval", "logingracetime")
	set("enum", "permitrootlogin", "allowtcpforwarding", "allowstreamlocalforwarding", "gatewayports", "permittunnel", "compression")
	for _, k := range []string{"allowusers", "denyusers", "allowgroups", "denygroups", "acceptenv", "listenaddress", "hostkey", "port", "setenv"} {
		x := m[k]
		x.list = true
		m[k] = x
	}
	return m
}

// sshdAliases maps alternative keyword names to the canonical one.
func sshdAliases() map[string]string {
	return map[string]string{
		"challengeresponseauthentication": "kbdinteractiveauthentication",
		"skeyauthentication":              "kbdinteractiveauthentication",
		"pubkeyacceptedkeytypes":          "pubkeyacceptedalgorithms",
		"hostbasedacceptedkeytypes":       "hostbasedacceptedalgorithms",
		"dsaauthentication":               "pubkeyauthentication",
		"kerberostgtpassing":              "kerberosgetafstoken",
	}
}

// sshdDefault returns OpenSSH's compiled-in default as sshd -T prints it.
func sshdDefault(key string) string {
	return map[string]string{
		"permitrootlogin": "without-password", "maxauthtries": "6", "clientaliveinterval": "0", "clientalivecountmax": "3",
		"passwordauthentication": "yes", "permitemptypasswords": "no", "kbdinteractiveauthentication": "yes", "usepam": "no",
		"x11forwarding": "no", "allowtcpforwarding": "yes", "allowagentforwarding": "yes", "allowstreamlocalforwarding": "yes",
		"permittunnel": "no", "gatewayports": "no", "disableforwarding": "no", "logingracetime": "120", "maxsessions": "10",
		"pubkeyauthentication": "yes", "hostbasedauthentication": "no", "ignorerhosts": "yes", "authenticationmethods": "any",
		"x11uselocalhost": "yes", "permituserenvironment": "no", "strictmodes": "yes", "permittty": "yes", "compression": "yes",
	}[key]
}

// sshdCanon formats the arguments of a keyword as sshd -T prints them.
func sshdCanon(key string, args []string) string {
	if len(args) == 0 {
		return ""
	}
	info := sshdKeywords()[key]
	v := args[0]
	switch info.kind {
	case "flag":
		return strings.ToLower(v)
	case "int":
		n, _ := strconv.Atoi(v)
		return strconv.Itoa(n)
	case "time":
		n, _ := sshdConvtime(v)
		return strconv.Itoa(n)
	case "enum":
		return sshdEnums()[key][strings.ToLower(v)]
	}
	return strings.Join(args, " ")
}

// sshdConvtime is OpenSSH's convtime: digits with an optional unit s, m, h,
// d or w (either case), concatenated ("1h30m").
func sshdConvtime(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	total := 0
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, false
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, false
		}
		s = s[i:]
		mul := 1
		if s != "" {
			switch s[0] {
			case 's', 'S':
			case 'm', 'M':
				mul = 60
			case 'h', 'H':
				mul = 3600
			case 'd', 'D':
				mul = 86400
			case 'w', 'W':
				mul = 604800
			default:
				return 0, false
			}
			s = s[1:]
		}
		total += n * mul
	}
	return total, true
}

// sshdConns returns the connections worth evaluating for users: every
// combination of a concrete value that satisfies each Match criterion and one
// that satisfies none, so that every Match block that can apply to one of the
// users is applied at least once. The list is capped.
func (c *sshdConf) sshdConns(users []string) []sshdConn {
	vals := map[string][]string{"host": {"client.invalid"}, "address": {"198.51.100.23"}, "localaddress": {"192.0.2.10"}, "localport": {"22"}}
	for _, d := range c.Directives {
		if d.Key == "port" && d.Match < 0 {
			for _, a := range d.Args {
				vals["localport"] = appendUniq(vals["localport"], a)
			}
		}
	}
	for _, m := range c.Matches {
		for _, cr := range m.Criteria {
			if _, ok := vals[cr[0]]; !ok {
				continue
			}
			for _, p := range strings.Split(cr[1], ",") {
				if strings.HasPrefix(p, "!") {
					continue
				}
				if x := sshdExample(cr[0], p); x != "" {
					vals[cr[0]] = appendUniq(vals[cr[0]], x)
				}
			}
		}
	}
	var out []sshdConn
	for _, u := range users {
		for _, h := range vals["host"] {
			for _, a := range vals["address"] {
				for _, la := range vals["localaddress"] {
					for _, lp := range vals["localport"] {
						p, _ := strconv.Atoi(lp)
						out = append(out, sshdConn{User: u, Host: h, Addr: a, LAddr: la, LPort: p})
						if len(out) >= 2048 {
							return out
						}
					}
				}
			}
		}
	}
	return out
}

// sshdExample returns a concrete value matching one pattern of a Match
// criterion.
func sshdExample(attr, p string) string {
	switch attr {
	case "address", "localaddress":
		if pfx, r := sshdCIDR(p); r == 0 {
			a := pfx.Addr()
			if pfx.Bits() < a.BitLen() {
				a = a.Next()
			}
			return a.String()
		}
		x := strings.NewReplacer("*", "1", "?", "1").Replace(p)
		if _, err := netip.ParseAddr(x); err == nil {
			return x
		}
		return ""
	case "host":
		return strings.ToLower(strings.NewReplacer("*", "x", "?", "x").Replace(p))
	}
	return p
}

func appendUniq(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// sshdUsers returns the user names worth evaluating for "any user" checks:
// the literal names in Match User lines, the accounts with a login shell, and
// one name that matches no pattern.
func (c *sshdConf) sshdUsers(accounts []string) []string {
	out := []string{"edgeward-any-user"}
	for _, a := range accounts {
		out = appendUniq(out, a)
	}
	for _, m := range c.Matches {
		for _, cr := range m.Criteria {
			if cr[0] != "user" {
				continue
			}
			for _, p := range strings.Split(cr[1], ",") {
				if !strings.HasPrefix(p, "!") && !strings.ContainsAny(p, "*?") {
					out = appendUniq(out, p)
				}
			}
		}
	}
	return out
}

// sshdEvidence formats where a value came from.
func (c *sshdConf) sshdEvidence(key, val, where string) string {
	if where == "" {
		return key + " " + val + " (OpenSSH default)"
	}
	if m := c.matchText(where); m != "" {
		return key + " " + val + " (" + where + ", in " + m + ")"
	}
	return key + " " + val + " (" + where + ")"
}

// absGlob expands an absolute pattern under a root as glob(3) does: sorted,
// and a wildcard never matches the leading dot of a name.
func absGlob(r fsRoot) func(string) []string {
	return func(p string) []string {
		pat := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
		var out []string
		for _, m := range r.Glob(strings.Join(pat, "/")) {
			hidden := false
			for i, c := range strings.Split(m, "/") {
				if i < len(pat) && strings.HasPrefix(c, ".") && !strings.HasPrefix(pat[i], ".") {
					hidden = true
				}
			}
			if !hidden {
				out = append(out, "/"+m)
			}
		}
		return out
	}
}
