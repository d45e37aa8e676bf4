package baseline

import (
	"context"
	"errors"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// env is the state of one scan: the root, the role, the site policy and a
// memo of facts read once and shared by several probes. It is used by one
// goroutine.
type env struct {
	ctx    context.Context
	root   fsRoot
	role   string
	site   *SitePolicy
	now    time.Time
	cfg    *Config
	memo   map[string]any
	memErr map[string]error
}

// memoize returns f's result, computed once per scan under key.
func memoize[T any](e *env, key string, f func() (T, error)) (T, error) {
	if v, ok := e.memo[key]; ok {
		return v.(T), e.memErr[key]
	}
	v, err := f()
	e.memo[key] = v
	e.memErr[key] = err
	return v, err
}

// read reads a file under the root (bounded) and remembers it for the scan.
func (e *env) read(elem ...string) ([]byte, error) {
	return memoize(e, "file:"+rel(elem...), func() ([]byte, error) { return e.root.ReadFile(elem...) })
}

// readOptional reads a file that may be absent: (nil, nil) when it does not
// exist.
func (e *env) readOptional(elem ...string) ([]byte, error) {
	b, err := e.read(elem...)
	if err != nil && isNotExist(err) {
		return nil, nil
	}
	return b, err
}

// readGlob reads every file matching pattern (sorted). Unreadable files are
// returned as errors beside the contents of the readable ones.
func (e *env) readGlob(pattern string) (map[string][]byte, []error) {
	out := map[string][]byte{}
	var errs []error
	for _, p := range e.root.Glob(pattern) {
		b, err := e.read(strings.Split(p, "/")...)
		if err != nil {
			if !isNotExist(err) && !errors.Is(err, ErrNotRegular) {
				errs = append(errs, err)
			}
			continue
		}
		out[p] = b
	}
	return out, errs
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// abs returns the absolute path on the inspected host, for evidence.
func abs(elem ...string) string { return "/" + path.Clean(strings.Join(elem, "/")) }

// readAbs reads an absolute host path under the root.
func (e *env) readAbs(p string) ([]byte, error) {
	return e.read(strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")...)
}

// sshd returns the parsed sshd configuration (nil when there is no
// sshd_config), whether sshd is installed, and a read error for the main file.
func (e *env) sshd() (*sshdConf, bool, error) {
	type res struct {
		cfg       *sshdConf
		installed bool
	}
	r, err := memoize(e, "sshd", func() (res, error) {
		cfg, err := loadSSHD(sshdSource{read: e.readAbs, glob: absGlob(e.root)}, "/etc/ssh/sshd_config")
		if err != nil {
			if isNotExist(err) {
				return res{installed: e.binary("sshd")}, nil
			}
			return res{installed: true}, err
		}
		cfg.groups = e.userGroups
		return res{cfg: cfg, installed: true}, nil
	})
	return r.cfg, r.installed, err
}

// userGroups returns the primary and supplementary groups of a user from
// /etc/passwd and /etc/group under the root.
func (e *env) userGroups(user string) ([]string, bool) {
	pw, err := e.passwd()
	if err != nil {
		return nil, false
	}
	gb, _ := e.read("etc", "group")
	var gid = -1
	for _, p := range pw {
		if p.Name == user {
			gid = p.GID
		}
	}
	if gid < 0 {
		return nil, false
	}
	var out []string
	for _, l := range strings.Split(string(gb), "\n") {
		f := strings.Split(strings.TrimSpace(l), ":")
		if len(f) < 4 {
			continue
		}
		if f[2] == strconv.Itoa(gid) {
			out = append(out, f[0])
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == user {
				out = append(out, f[0])
			}
		}
	}
	return out, true
}

// loginAccounts returns the names of accounts with a login shell.
func (e *env) loginAccounts() []string {
	pw, _ := e.passwd()
	var out []string
	for _, p := range pw {
		if p.interactive() {
			out = append(out, p.Name)
		}
	}
	return out
}

// packages returns the installed Debian packages (empty on RPM hosts, whose
// SQLite database is not read) and whether a dpkg database exists.
func (e *env) packages() (map[string]string, bool, error) {
	type res struct {
		pkgs map[string]string
		ok   bool
	}
	r, err := memoize(e, "dpkg", func() (res, error) {
		var d dpkgStatus
		if err := e.root.scanLines(maxPackageDB, d.feed, "var", "lib", "dpkg", "status"); err != nil {
			if isNotExist(err) {
				return res{pkgs: map[string]string{}}, nil
			}
			return res{pkgs: map[string]string{}}, err
		}
		return res{pkgs: d.done(), ok: true}, nil
	})
	return r.pkgs, r.ok, err
}

// installed reports whether any of names is installed as a package, a
// systemd unit (name.service) or a binary.
func (e *env) installed(names ...string) (string, bool) {
	pkgs, _, _ := e.packages()
	for _, n := range names {
		if _, ok := pkgs[n]; ok {
			return "package " + n, true
		}
		if e.unitExists(n + ".service") {
			return "unit " + n + ".service", true
		}
		if e.binary(n) {
			return "binary " + n, true
		}
	}
	return "", false
}

// binary reports whether an executable named n exists in the usual dirs.
func (e *env) binary(n string) bool {
	for _, d := range []string{"usr/sbin", "usr/bin", "sbin", "bin", "usr/local/bin", "usr/local/sbin", "opt/" + n} {
		if e.root.Exists(append(strings.Split(d, "/"), n)...) {
			return true
		}
	}
	return false
}

// unitDirs are the systemd unit directories, highest precedence first.
func unitDirs() []string {
	return []string{"etc/systemd/system", "run/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"}
}

// unitExists reports whether a unit file exists.
func (e *env) unitExists(unit string) bool {
	for _, d := range unitDirs() {
		if e.root.Exists(append(strings.Split(d, "/"), unit)...) {
			return true
		}
	}
	return false
}

// unitMasked reports whether /etc/systemd/system/unit links to /dev/null or
// is empty.
func (e *env) unitMasked(unit string) bool {
	p := e.root.Path("etc", "systemd", "system", unit)
	if t, err := os.Readlink(p); err == nil {
		return t == "/dev/null"
	}
	st, err := os.Stat(p)
	return err == nil && st.Size() == 0 && st.Mode().IsRegular()
}

// unitEnabled reports whether unit is wanted by a target in
// /etc/systemd/system/*.wants (and not masked).
func (e *env) unitEnabled(unit string) bool {
	if e.unitMasked(unit) {
		return false
	}
	return len(e.root.Glob("etc/systemd/system/*.wants/"+unit)) > 0 ||
		len(e.root.Glob("etc/systemd/system/*.requires/"+unit)) > 0
}

// procs returns the command names (comm) of running processes.
func (e *env) procs() (map[string]bool, error) {
	return memoize(e, "procs", func() (map[string]bool, error) {
		m := map[string]bool{}
		dirs := e.root.Glob("proc/[0-9]*/comm")
		if len(dirs) == 0 && !e.root.Exists("proc", "1") {
			return m, &readError{path: "proc", err: os.ErrNotExist}
		}
		for _, p := range dirs {
			b, err := e.root.ReadRel(p)
			if err != nil {
				continue // the process exited
			}
			m[strings.TrimSpace(string(b))] = true
		}
		return m, nil
	})
}

// running reports whether a process with one of names runs, or the systemd
// unit name.service is active (an invocation link under run/systemd/units).
func (e *env) running(names ...string) (string, bool) {
	ps, _ := e.procs()
	for _, n := range names {
		c := n
		if len(c) > 15 {
			c = c[:15]
		}
		if ps[c] {
			return "process " + n, true
		}
		if e.root.Exists("run", "systemd", "units", "invocation:"+n+".service") {
			return "unit " + n + ".service active", true
		}
	}
	return "", false
}

// listeners returns the listening sockets of /proc/net.
func (e *env) listeners() ([]listener, error) {
	return memoize(e, "listeners", func() ([]listener, error) {
		var out []listener
		var firstErr error
		found := false
		for _, f := range []struct{ file, proto string }{{"tcp", "tcp"}, {"tcp6", "tcp"}, {"udp", "udp"}, {"udp6", "udp"}} {
			b, err := e.read("proc", "net", f.file)
			if err != nil {
				if !isNotExist(err) && firstErr == nil {
					firstErr = err
				}
				continue
			}
			found = true
			out = append(out, parseProcNet(b, f.proto)...)
		}
		if !found && firstErr == nil {
			firstErr = &readError{path: "proc/net/tcp", err: os.ErrNotExist}
		}
		return out, firstErr
	})
}

// pamServices returns the PAM services that carry the system-wide stacks on
// Debian (common-*) and RHEL (system-auth, password-auth).
func (e *env) pamServices() []string {
	var out []string
	for _, s := range []string{"common-auth", "common-password", "common-account", "system-auth", "password-auth"} {
		if e.root.Exists("etc", "pam.d", s) {
			out = append(out, s)
		}
	}
	return out
}

// passwd returns /etc/passwd entries.
func (e *env) passwd() ([]passwdEntry, error) {
	b, err := e.read("etc", "passwd")
	if err != nil {
		return nil, err
	}
	return parsePasswd(b), nil
}

// fileAge returns how long ago the file was modified.
func (e *env) fileAge(elem ...string) (time.Duration, bool) {
	st, err := os.Stat(e.root.Path(elem...))
	if err != nil {
		return 0, false
	}
	return max(e.now.Sub(st.ModTime()), 0), true // clock skew: a future mtime is "now"
}

// days formats a duration in whole days.
func days(d time.Duration) int { return int(d.Hours() / 24) }
