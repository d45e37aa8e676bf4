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

// dpkgStatus collects the installed packages and their versions from the
// lines of /var/lib/dpkg/status, one at a time (feed, then done).
type dpkgStatus struct {
	pkgs                  map[string]string
	name, status, version string
}

// feed takes one line of the status file.
func (d *dpkgStatus) feed(l []byte) {
	if d.pkgs == nil {
		d.pkgs = map[string]string{}
	}
	value := func(key string) string { return string(bytes.TrimSpace(l[len(key):])) }
	switch {
	case len(l) == 0:
		d.flush()
	case bytes.HasPrefix(l, []byte("Package: ")):
		d.name = value("Package: ")
	case bytes.HasPrefix(l, []byte("Status: ")):
		d.status = value("Status: ")
	case bytes.HasPrefix(l, []byte("Version: ")):
		d.version = value("Version: ")
	}
}

func (d *dpkgStatus) flush() {
	if d.name != "" && strings.HasSuffix(d.status, " installed") && !strings.Contains(d.status, "not-installed") {
		d.pkgs[d.name] = d.version
	}
	d.name, d.status, d.version = "", "", ""
}

// done returns the installed packages.
func (d *dpkgStatus) done() map[string]string {
	d.feed(nil)
	return d.pkgs
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
