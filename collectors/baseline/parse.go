package baseline

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
)

// lines returns the non-empty lines of b with comments (# to end of line) and
// surrounding space removed.
func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxRead)
	for sc.Scan() {
		l := sc.Text()
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// parseKeyValues parses "key = value", "key=value" and "key value" lines
// (login.defs, pwquality.conf, auditd.conf, os-release, ...). Later lines win;
// section headers ([Journal]) are skipped; quotes around values are removed.
// A key without a value maps to "".
func parseKeyValues(b []byte) map[string]string {
	m := map[string]string{}
	for _, l := range lines(b) {
		if strings.HasPrefix(l, "[") {
			continue
		}
		i := strings.IndexAny(l, "= \t")
		if i < 0 {
			m[l] = ""
			continue
		}
		k := strings.TrimSpace(l[:i])
		v := strings.TrimSpace(l[i+1:])
		v = strings.TrimSpace(strings.TrimPrefix(v, "="))
		v = strings.Trim(v, `"'`)
		m[k] = v
	}
	return m
}

// sshdConfig is the global part of an sshd_config (before the first Match),
// keywords lowercased, first value wins as in sshd.
type sshdConfig map[string]string

// sshdDefaults are OpenSSH's compiled-in defaults (OpenSSH 8.x / 9.x) for the
// keywords the checks read.
func sshdDefaults() map[string]string {
	return map[string]string{
		"permitrootlogin":              "prohibit-password",
		"maxauthtries":                 "6",
		"clientaliveinterval":          "0",
		"clientalivecountmax":          "3",
		"passwordauthentication":       "yes",
		"permitemptypasswords":         "no",
		"kbdinteractiveauthentication": "yes",
		"usepam":                       "no",
	}
}

// parseSSHD parses sshd_config text into keyword/value pairs in file order.
// Include lines are returned as ("include", patterns) for the reader to
// expand. Parsing stops at the first Match block.
func parseSSHD(b []byte) [][2]string {
	var out [][2]string
	for _, l := range lines(b) {
		f := strings.Fields(l)
		k := strings.ToLower(f[0])
		if i := strings.IndexByte(k, '='); i > 0 { // Keyword=value
			f = append([]string{k[:i], k[i+1:]}, f[1:]...)
			k = f[0]
		}
		if k == "match" {
			break
		}
		v := strings.TrimSpace(strings.TrimPrefix(strings.Join(f[1:], " "), "="))
		out = append(out, [2]string{k, v})
	}
	return out
}

// dpkgInstalled parses /var/lib/dpkg/status into installed package names and
// versions.
func dpkgInstalled(b []byte) map[string]string {
	pkgs := map[string]string{}
	var name, status, version string
	flush := func() {
		if name != "" && strings.HasSuffix(status, " installed") && !strings.Contains(status, "not-installed") {
			pkgs[name] = version
		}
		name, status, version = "", "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), maxRead)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "":
			flush()
		case strings.HasPrefix(l, "Package: "):
			name = strings.TrimSpace(l[len("Package: "):])
		case strings.HasPrefix(l, "Status: "):
			status = strings.TrimSpace(l[len("Status: "):])
		case strings.HasPrefix(l, "Version: "):
			version = strings.TrimSpace(l[len("Version: "):])
		}
	}
	flush()
	return pkgs
}

// listener is one listening socket from /proc/net/{tcp,tcp6,udp,udp6}.
type listener struct {
	Proto string // tcp or udp
	Addr  netip.Addr
	Port  int
}

// String formats a listener as "tcp/0.0.0.0:22".
func (l listener) String() string {
	return l.Proto + "/" + netip.AddrPortFrom(l.Addr, uint16(l.Port)).String()
}

// wildcard reports whether the socket listens on every interface.
func (l listener) wildcard() bool { return l.Addr.IsUnspecified() }

// loopback reports whether the socket listens on loopback only.
func (l listener) loopback() bool { return l.Addr.IsLoopback() }

// parseProcNet parses /proc/net/tcp(6) or udp(6). TCP sockets count when in
// state 0A (LISTEN); UDP sockets when unconnected (07) with a local port.
func parseProcNet(b []byte, proto string) []listener {
	var out []listener
	for i, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if i == 0 || len(f) < 4 {
			continue
		}
		st := f[3]
		if (proto == "tcp" && st != "0A") || (proto == "udp" && st != "07") {
			continue
		}
		hexAddr, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || port == 0 {
			continue
		}
		raw, err := hex.DecodeString(hexAddr)
		if err != nil || (len(raw) != 4 && len(raw) != 16) {
			continue
		}
		// The kernel prints each 32-bit word in host (little-endian) order.
		for w := 0; w+4 <= len(raw); w += 4 {
			raw[w], raw[w+1], raw[w+2], raw[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
		}
		addr, _ := netip.AddrFromSlice(raw)
		out = append(out, listener{Proto: proto, Addr: addr.Unmap(), Port: int(port)})
	}
	return out
}

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	Name  string
	UID   int
	GID   int
	Home  string
	Shell string
}

// interactive reports whether the account has a login shell.
func (p passwdEntry) interactive() bool {
	s := p.Shell
	return s != "" && !strings.HasSuffix(s, "/nologin") && !strings.HasSuffix(s, "/false") && s != "/bin/sync" && !strings.HasSuffix(s, "/shutdown") && !strings.HasSuffix(s, "/halt")
}

// parsePasswd parses /etc/passwd.
func parsePasswd(b []byte) []passwdEntry {
	var out []passwdEntry
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(l), ":")
		if len(f) < 7 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{Name: f[0], UID: uid, GID: gid, Home: f[5], Shell: f[6]})
	}
	return out
}

// parseShadow returns user → password field of /etc/shadow.
func parseShadow(b []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(l), ":")
		if len(f) < 2 || f[0] == "" {
			continue
		}
		m[f[0]] = f[1]
	}
	return m
}

// parseGroup returns group → members of /etc/group (members listed in the
// fourth field; primary-group members are added by the caller).
func parseGroup(b []byte) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(l), ":")
		if len(f) < 4 || f[0] == "" {
			continue
		}
		var mem []string
		for _, u := range strings.Split(f[3], ",") {
			if u = strings.TrimSpace(u); u != "" {
				mem = append(mem, u)
			}
		}
		m[f[0]] = mem
	}
	return m
}

// pamLine is one rule of a PAM stack.
type pamLine struct {
	Type    string // auth, account, password, session, or @include
	Control string
	Module  string
	Args    []string
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

// parsePAM parses a PAM service file. "@include x" becomes Type "@include"
// with Module x; "include"/"substack" controls keep their Module (a service
// name) for the reader to expand. Bracketed controls are kept whole.
func parsePAM(b []byte) []pamLine {
	var out []pamLine
	for _, l := range lines(b) {
		l = strings.TrimPrefix(l, "-")
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "@include" {
			out = append(out, pamLine{Type: "@include", Module: f[1]})
			continue
		}
		if len(f) < 3 {
			continue
		}
		ctl := f[1]
		rest := f[2:]
		if strings.HasPrefix(ctl, "[") {
			j := 1
			for !strings.HasSuffix(ctl, "]") && j < len(f)-1 {
				ctl += " " + f[j+1]
				j++
			}
			rest = f[j+1:]
			if len(rest) == 0 {
				continue
			}
		}
		out = append(out, pamLine{Type: strings.TrimPrefix(f[0], "-"), Control: ctl, Module: rest[0], Args: rest[1:]})
	}
	return out
}

// modprobeRules holds the install and blacklist directives of modprobe.d.
type modprobeRules struct {
	Install   map[string]string // module → command
	Blacklist map[string]bool
}

// parseModprobe adds the directives in b to m. Module names are normalised
// (dashes to underscores) as modprobe does.
func parseModprobe(b []byte, m *modprobeRules) {
	for _, l := range lines(b) {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		mod := strings.ReplaceAll(f[1], "-", "_")
		switch f[0] {
		case "install":
			m.Install[mod] = strings.Join(f[2:], " ")
		case "blacklist":
			m.Blacklist[mod] = true
		}
	}
}

// parseModules returns the loaded module names of /proc/modules.
func parseModules(b []byte) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			m[f[0]] = true
		}
	}
	return m
}

// parseMounts parses /proc/mounts or /etc/fstab into (device, mountpoint,
// fstype, options).
func parseMounts(b []byte) [][4]string {
	var out [][4]string
	for _, l := range lines(b) {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		out = append(out, [4]string{f[0], unescapeMount(f[1]), f[2], f[3]})
	}
	return out
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// atoiOr parses s as an integer, returning def on failure.
func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}
