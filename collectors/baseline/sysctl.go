package baseline

import (
	"path"
	"strings"
)

// This file reads the persisted kernel parameters as systemd-sysctl applies
// them at boot: *.conf files of /etc/sysctl.d, /run/sysctl.d,
// /usr/local/lib/sysctl.d, /usr/lib/sysctl.d and /lib/sysctl.d, a file name
// in an earlier directory hiding the same name in a later one, all files
// applied in the lexical order of their names, a later assignment winning.
// Keys use '.' or '/' (a key whose first separator is '/' has the two
// swapped), may carry a leading '-' and may be globs; comments start with
// '#' or ';'. /etc/sysctl.conf is read only through the
// /etc/sysctl.d/99-sysctl.conf link that Debian and RHEL ship.

// sysctlSetting is one persisted assignment.
type sysctlSetting struct {
	Value, Where string
}

// sysctlKey normalises a key to dotted form.
func sysctlKey(k string) string {
	k = strings.TrimPrefix(strings.TrimSpace(k), "-")
	i := strings.IndexAny(k, "./")
	if i >= 0 && k[i] == '/' {
		k = strings.Map(func(r rune) rune {
			switch r {
			case '/':
				return '.'
			case '.':
				return '/'
			}
			return r
		}, k)
	}
	return k
}

// parseSysctlConf parses one sysctl.d file into ordered assignments.
func parseSysctlConf(b []byte, file string) [][3]string {
	var out [][3]string
	for n, l := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			continue // systemd-sysctl warns and skips a line without '='
		}
		out = append(out, [3]string{sysctlKey(k), strings.TrimSpace(v), file + ":" + itoa(n+1)})
	}
	return out
}

// sysctlPersisted returns the value each key gets at boot.
func (e *env) sysctlPersisted() (map[string]sysctlSetting, [][3]string) {
	type res struct {
		m    map[string]sysctlSetting
		glob [][3]string
	}
	r, _ := memoize(e, "sysctlconf", func() (res, error) {
		byName := map[string]string{} // base name → relative path
		for _, d := range []string{"etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d", "lib/sysctl.d"} {
			for _, p := range e.root.Glob(d + "/*.conf") {
				if _, seen := byName[path.Base(p)]; !seen {
					byName[path.Base(p)] = p
				}
			}
		}
		out := res{m: map[string]sysctlSetting{}}
		for _, name := range sortedKeys(byName) {
			p := byName[name]
			b, err := e.root.ReadRel(p)
			if err != nil {
				continue
			}
			for _, a := range parseSysctlConf(b, "/"+p) {
				if strings.ContainsAny(a[0], "*?[") {
					out.glob = append(out.glob, a)
					continue
				}
				out.m[a[0]] = sysctlSetting{Value: a[1], Where: a[2]}
			}
		}
		return out, nil
	})
	return r.m, r.glob
}

// sysctlBoot returns the value a key gets at boot and where it is set.
func (e *env) sysctlBoot(name string) (sysctlSetting, bool) {
	m, globs := e.sysctlPersisted()
	if s, ok := m[name]; ok {
		return s, true // explicit settings win over globs
	}
	var s sysctlSetting
	ok := false
	for _, g := range globs { // later glob assignments win
		if match, _ := path.Match(strings.ReplaceAll(g[0], ".", "/"), strings.ReplaceAll(name, ".", "/")); match {
			s, ok = sysctlSetting{Value: g[1], Where: g[2]}, true
		}
	}
	return s, ok
}

// sysctlRunning returns the running value from /proc/sys.
func (e *env) sysctlRunning(name string) (string, bool, error) {
	p := append([]string{"proc", "sys"}, strings.Split(name, ".")...)
	b, err := e.read(p...)
	if err != nil {
		if isNotExist(err) {
			return "", false, nil
		}
		return "", false, err
	}
	return strings.Join(strings.Fields(string(b)), " "), true, nil
}

// sysctl returns the running value of a sysctl (from /proc/sys) or, when
// /proc/sys is absent, the persisted one, with the source for evidence.
func (e *env) sysctl(name string) (val, src string, ok bool) {
	if v, ok, _ := e.sysctlRunning(name); ok {
		return v, "running", true
	}
	if s, ok := e.sysctlBoot(name); ok {
		return s.Value, s.Where, true
	}
	return "", "", false
}
