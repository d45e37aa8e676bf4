package baseline

import (
	"bytes"
	"path"
	"strings"
)

// This file decides whether a kernel module can be loaded, as kmod's
// modprobe would: configuration files *.conf of /etc/modprobe.d,
// /run/modprobe.d, /usr/local/lib/modprobe.d, /lib/modprobe.d and
// /usr/lib/modprobe.d (a name in an earlier directory hiding the same name in
// a later one, all applied in the lexical order of their names), backslash
// continuation, module names with '-' and '_' equal, the first matching
// "install" command winning ("blacklist" only stops loading by alias). A
// kernel without loadable-module support, or without the driver, cannot load
// it either.

// modprobeRules holds the install and blacklist directives of modprobe.d.
type modprobeRules struct {
	Install   [][3]string // pattern, command, where (in order)
	Blacklist map[string]string
}

// modName normalises a module name as kmod does.
func modName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// parseModprobe adds the directives in b to m.
func parseModprobe(b []byte, file string, m *modprobeRules) {
	var buf strings.Builder
	start := 0
	for n, l := range strings.Split(string(b), "\n") {
		if buf.Len() == 0 {
			start = n + 1
		}
		if t := strings.TrimRight(l, " \t\r"); strings.HasSuffix(t, "\\") {
			buf.WriteString(t[:len(t)-1] + " ")
			continue
		}
		buf.WriteString(l)
		line := strings.TrimSpace(buf.String())
		buf.Reset()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		where := file + ":" + itoa(start)
		switch f[0] {
		case "install":
			if len(f) >= 3 {
				m.Install = append(m.Install, [3]string{modName(f[1]), strings.Join(f[2:], " "), where})
			}
		case "blacklist":
			if _, ok := m.Blacklist[modName(f[1])]; !ok {
				m.Blacklist[modName(f[1])] = where
			}
		}
	}
}

// modprobe returns the merged modprobe.d directives.
func (e *env) modprobe() (modprobeRules, []error) {
	type res struct {
		m    modprobeRules
		errs []error
	}
	r, _ := memoize(e, "modprobe", func() (res, error) {
		m := modprobeRules{Blacklist: map[string]string{}}
		byName := map[string]string{}
		for _, d := range []string{"etc/modprobe.d", "run/modprobe.d", "usr/local/lib/modprobe.d", "lib/modprobe.d", "usr/lib/modprobe.d"} {
			for _, p := range e.root.Glob(d + "/*.conf") {
				if _, ok := byName[path.Base(p)]; !ok {
					byName[path.Base(p)] = p
				}
			}
		}
		var errs []error
		for _, n := range sortedKeys(byName) {
			b, err := e.root.ReadRel(byName[n])
			if err != nil {
				if !isNotExist(err) {
					errs = append(errs, err)
				}
				continue
			}
			parseModprobe(b, "/"+byName[n], &m)
		}
		return res{m, errs}, nil
	})
	return r.m, r.errs
}

// installCommand returns the install command kmod runs for a module.
func (m modprobeRules) installCommand(mod string) (cmd, where string, ok bool) {
	for _, in := range m.Install {
		if match, _ := path.Match(in[0], mod); match {
			return in[1], in[2], true
		}
	}
	return "", "", false
}

// blocks reports whether an install command loads nothing.
func blocksLoad(cmd string) bool {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return false
	}
	b := path.Base(f[0])
	return (b == "false" || b == "true") && len(f) == 1
}

// moduleState says whether a module can be loaded: disabled is true when it
// cannot (with the reason), false with the reason it can.
func (e *env) moduleState(name string) (disabled bool, why string, err error) {
	mod := modName(name)
	if b, rerr := e.read("proc", "modules"); rerr == nil {
		if parseModules(b)[mod] {
			return false, mod + " is loaded (/proc/modules)", nil
		}
	} else if !isNotExist(rerr) {
		return false, "", rerr
	} else if e.root.Exists("proc", "sys", "kernel") {
		if e.root.Exists("sys", "module", mod) {
			return false, mod + " is built into a kernel without loadable-module support (/sys/module/" + mod + ")", nil
		}
		return true, "kernel without loadable-module support (no /proc/modules) and no built-in " + mod, nil
	}
	m, _ := e.modprobe()
	if cmd, where, ok := m.installCommand(mod); ok && blocksLoad(cmd) {
		return true, "install " + name + " " + cmd + " (" + where + ")", nil
	}
	rel := ""
	if b, rerr := e.read("proc", "sys", "kernel", "osrelease"); rerr == nil {
		rel = strings.TrimSpace(string(b))
	}
	if rel != "" {
		for _, dir := range []string{"lib/modules/" + rel, "usr/lib/modules/" + rel} {
			ms, ok := e.kernelModules(dir)
			if !ok {
				continue
			}
			if ms.builtin[mod] {
				return false, mod + " is built into kernel " + rel + " (/" + dir + "/modules.builtin); modprobe.d cannot disable it", nil
			}
			if !ms.dep[mod] {
				return true, "kernel " + rel + " has no " + mod + " driver (/" + dir + "/modules.dep)", nil
			}
			break
		}
	}
	if where, ok := m.Blacklist[mod]; ok {
		return false, mod + " only blacklisted (" + where + "); modprobe " + name + " still loads it without an install " + name + " /bin/false line", nil
	}
	return false, mod + " can be loaded: no install " + name + " /bin/false in modprobe.d", nil
}

// moduleSets are the modules a kernel's modules.dep and modules.builtin list.
type moduleSets struct{ dep, builtin map[string]bool }

// kernelModules reads dir's modules.dep (false when it cannot be read) and
// modules.builtin once per scan.
func (e *env) kernelModules(dir string) (moduleSets, bool) {
	r, err := memoize(e, "kmods:"+dir, func() (moduleSets, error) {
		ms := moduleSets{dep: map[string]bool{}, builtin: map[string]bool{}}
		err := e.root.scanLines(maxPackageDB, addModule(ms.dep), strings.Split(dir+"/modules.dep", "/")...)
		if err == nil {
			_ = e.root.scanLines(maxPackageDB, addModule(ms.builtin), strings.Split(dir+"/modules.builtin", "/")...)
		}
		return ms, err
	})
	return r, err == nil
}

// addModule returns a line handler that adds the module a modules.dep or
// modules.builtin line names ("kernel/net/sctp/sctp.ko.xz: ...") to set.
func addModule(set map[string]bool) func([]byte) {
	return func(l []byte) {
		p, _, _ := bytes.Cut(l, []byte(":"))
		base := path.Base(string(bytes.TrimSpace(p)))
		if i := strings.Index(base, ".ko"); i > 0 {
			set[modName(base[:i])] = true
		}
	}
}

// modulesDisabled is the shared body of the "module X disabled" checks.
func modulesDisabled(e *env, names ...string) outcome {
	var v verdict
	for _, n := range names {
		off, why, err := e.moduleState(n)
		switch {
		case err != nil:
			v.err(err)
		case off:
			v.ok("%s", why)
		default:
			v.no("%s", why)
		}
	}
	return v.outcome()
}

// uncommonProtocols is LNX-KRN-004: DCCP, SCTP, RDS and TIPC cannot load.
func uncommonProtocols(e *env) outcome {
	return modulesDisabled(e, "dccp", "sctp", "rds", "tipc")
}

// uncommonFilesystems is LNX-KRN-005: filesystems an ICS host does not
// mount cannot load.
func uncommonFilesystems(e *env) outcome {
	return modulesDisabled(e, "cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "udf")
}
