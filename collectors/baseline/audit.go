package baseline

import (
	"path"
	"strconv"
	"strings"
	"unicode"
)

// This file reads the audit rules the kernel gets at boot. When
// /etc/audit/rules.d holds *.rules files, augenrules builds the rule set:
// the files in natural (ls -v) order, blank and comment lines dropped, the
// last -D moved to the top and the last -e to the end. Otherwise auditctl
// loads /etc/audit/audit.rules line by line: -D deletes the rules before it
// and nothing after "-e 2" is accepted. Each rule is parsed as auditctl
// parses it; a line auditctl rejects loads nothing.

// auditRule is one loaded rule.
type auditRule struct {
	List, Action string            // exit/always for -a; "watch" for -w
	Syscalls     []string          // -S (lowercase), "all"
	Fields       map[string]string // -F name=value (op folded into the value for != etc.)
	Path, Perms  string            // -w path -p perms, or -F path=/dir= with perm=
	Where        string
}

// auditSet is the loaded rule set.
type auditSet struct {
	Rules   []auditRule
	Enabled string   // last -e value ("" when none)
	Files   []string // files read
	Bad     []string // lines auditctl would reject
}

// natLess orders names as ls -v: digit runs compare by value.
func natLess(a, b string) bool {
	for a != "" && b != "" {
		if unicode.IsDigit(rune(a[0])) && unicode.IsDigit(rune(b[0])) {
			i, j := 0, 0
			for i < len(a) && unicode.IsDigit(rune(a[i])) {
				i++
			}
			for j < len(b) && unicode.IsDigit(rune(b[j])) {
				j++
			}
			na, _ := strconv.Atoi(a[:i])
			nb, _ := strconv.Atoi(b[:j])
			if na != nb {
				return na < nb
			}
			a, b = a[i:], b[j:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

// auditRules returns the rule set that would be loaded.
func (e *env) auditRules() (*auditSet, []error) {
	type res struct {
		s    *auditSet
		errs []error
	}
	r, _ := memoize(e, "auditrules", func() (res, error) {
		files, errs := e.readGlob("etc/audit/rules.d/*.rules")
		names := sortedKeys(files)
		for i := 1; i < len(names); i++ { // insertion sort by natural order
			for j := i; j > 0 && natLess(path.Base(names[j]), path.Base(names[j-1])); j-- {
				names[j], names[j-1] = names[j-1], names[j]
			}
		}
		s := &auditSet{}
		if len(names) > 0 {
			var body []string
			var where []string
			for _, n := range names {
				s.Files = append(s.Files, "/"+n)
				for i, l := range strings.Split(string(files[n]), "\n") {
					t := strings.TrimSpace(l)
					switch {
					case t == "" || strings.HasPrefix(t, "#"):
					case strings.HasPrefix(t, "-e"):
						s.Enabled = auditArg(t)
					case strings.HasPrefix(t, "-D"), strings.HasPrefix(t, "-f"), strings.HasPrefix(t, "-b"), strings.HasPrefix(t, "--backlog_wait_time"):
					default:
						body = append(body, t)
						where = append(where, "/"+n+":"+strconv.Itoa(i+1))
					}
				}
			}
			for i, l := range body {
				s.add(l, where[i])
			}
			return res{s, errs}, nil
		}
		b, err := e.readOptional("etc", "audit", "audit.rules")
		if err != nil {
			return res{s, append(errs, err)}, nil
		}
		if b == nil {
			return res{s, errs}, nil
		}
		s.Files = append(s.Files, "/etc/audit/audit.rules")
		for i, l := range strings.Split(string(b), "\n") {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if s.Enabled == "2" {
				s.Bad = append(s.Bad, "/etc/audit/audit.rules:"+strconv.Itoa(i+1)+": after -e 2 (immutable), not loaded")
				continue
			}
			switch {
			case strings.HasPrefix(t, "-D"):
				s.Rules = nil
			case strings.HasPrefix(t, "-e"):
				s.Enabled = auditArg(t)
			case strings.HasPrefix(t, "-f"), strings.HasPrefix(t, "-b"), strings.HasPrefix(t, "-r"), strings.HasPrefix(t, "--backlog_wait_time"), strings.HasPrefix(t, "--loginuid-immutable"):
			default:
				s.add(t, "/etc/audit/audit.rules:"+strconv.Itoa(i+1))
			}
		}
		return res{s, errs}, nil
	})
	return r.s, r.errs
}

func auditArg(l string) string {
	f := strings.Fields(l)
	if len(f) >= 2 {
		return f[1]
	}
	return strings.TrimSpace(strings.TrimPrefix(f[0], "-e"))
}

// add parses one rule line as auditctl does; a rejected line is recorded.
func (s *auditSet) add(l, where string) {
	r, ok := parseAuditRule(l)
	if !ok {
		s.Bad = append(s.Bad, where+": "+l)
		return
	}
	r.Where = where
	if r.Action == "delete" {
		return
	}
	s.Rules = append(s.Rules, r)
}

// parseAuditRule parses -w/-a/-A rules.
func parseAuditRule(l string) (auditRule, bool) {
	f := strings.Fields(l)
	r := auditRule{Fields: map[string]string{}}
	for i := 0; i < len(f); i++ {
		next := func() (string, bool) {
			if i+1 >= len(f) {
				return "", false
			}
			i++
			return f[i], true
		}
		switch f[i] {
		case "-w":
			p, ok := next()
			if !ok || !strings.HasPrefix(p, "/") {
				return r, false
			}
			r.List, r.Action, r.Path = "exit", "watch", p
		case "-W", "-d":
			if _, ok := next(); !ok {
				return r, false
			}
			r.Action = "delete"
		case "-p":
			p, ok := next()
			if !ok || strings.Trim(p, "rwxa") != "" {
				return r, false
			}
			r.Perms = p
		case "-k":
			k, ok := next()
			if !ok {
				return r, false
			}
			r.Fields["key"] = k
		case "-a", "-A":
			v, ok := next()
			if !ok {
				return r, false
			}
			a, b, ok := strings.Cut(v, ",")
			if !ok {
				return r, false
			}
			lists := []string{"task", "exit", "user", "exclude", "filesystem", "io_uring"}
			acts := []string{"always", "never"}
			switch {
			case contains(lists, a) && contains(acts, b):
				r.List, r.Action = a, b
			case contains(acts, a) && contains(lists, b):
				r.List, r.Action = b, a
			default:
				return r, false
			}
		case "-S":
			v, ok := next()
			if !ok {
				return r, false
			}
			for _, s := range strings.Split(v, ",") {
				r.Syscalls = append(r.Syscalls, strings.ToLower(s))
			}
		case "-F":
			v, ok := next()
			if !ok {
				return r, false
			}
			i := strings.IndexAny(v, "=!<>&")
			if i <= 0 {
				return r, false
			}
			name := v[:i]
			op := ""
			for i < len(v) && strings.IndexByte("=!<>&", v[i]) >= 0 {
				op += string(v[i])
				i++
			}
			val := v[i:]
			if op != "=" {
				val = op + val
			}
			switch name {
			case "path", "dir":
				r.Path = val
			case "perm":
				r.Perms = val
			}
			r.Fields[name] = val
		case "-C":
			if _, ok := next(); !ok {
				return r, false
			}
		default:
			return r, false
		}
	}
	if r.Action == "" {
		return r, false
	}
	if r.Action == "watch" && r.Perms == "" {
		r.Perms = "rwxa"
	}
	return r, true
}

// watches reports the rule that audits writes or attribute changes to p
// (a watch on p or on a directory above it).
func (s *auditSet) watches(p string) (auditRule, bool) {
	for _, r := range s.Rules {
		if r.Path == "" || (r.Action != "watch" && r.Action != "always") || r.List != "exit" {
			continue
		}
		if r.Path != p && !strings.HasPrefix(p, strings.TrimSuffix(r.Path, "/")+"/") {
			continue
		}
		if strings.ContainsAny(r.Perms, "wa") {
			return r, true
		}
	}
	return auditRule{}, false
}

// syscall reports the rule that audits a system call at exit for arch
// ("b64" or "b32"), unless an earlier never rule suppresses it.
func (s *auditSet) syscall(name, arch string) (auditRule, bool) {
	for _, r := range s.Rules {
		if r.List != "exit" || len(r.Syscalls) == 0 {
			continue
		}
		if a, ok := r.Fields["arch"]; ok && a != arch {
			continue
		}
		if !contains(r.Syscalls, name) && !contains(r.Syscalls, "all") {
			continue
		}
		if r.Action == "never" {
			if len(r.Fields) == 0 || (len(r.Fields) == 1 && r.Fields["arch"] != "") {
				return r, false
			}
			continue
		}
		return r, true
	}
	return auditRule{}, false
}

// auditArch returns the audit arch of the host: b32 on 32-bit kernels.
func (e *env) auditArch() string {
	b, err := e.read("proc", "sys", "kernel", "arch")
	if err == nil {
		a := strings.TrimSpace(string(b))
		if strings.HasPrefix(a, "arm") && !strings.HasPrefix(a, "arm64") || a == "i686" || a == "i386" {
			return "b32"
		}
	}
	return "b64"
}

// auditRequire checks rule coverage: system calls and watched paths.
func auditRequire(e *env, syscalls []string, watches [][]string) outcome {
	s, errs := e.auditRules()
	var v verdict
	for _, err := range errs {
		v.err(err)
	}
	if len(s.Files) == 0 {
		if len(errs) > 0 {
			return v.outcome()
		}
		return fail("no audit rules (/etc/audit/rules.d/*.rules, /etc/audit/audit.rules)")
	}
	arch := e.auditArch()
	for _, sc := range syscalls {
		if r, ok := s.syscall(sc, arch); ok {
			v.ok("syscall %s (arch %s) audited by %s", sc, arch, r.Where)
		} else if r.Where != "" {
			v.no("syscall %s suppressed by the never rule at %s", sc, r.Where)
		} else {
			v.no("no loaded rule audits syscall %s (arch %s)", sc, arch)
		}
	}
	for _, alts := range watches {
		found := false
		for _, p := range alts {
			if r, ok := s.watches(p); ok {
				v.ok("writes to %s audited by %s", p, r.Where)
				found = true
				break
			}
		}
		if !found {
			v.no("no loaded rule watches writes to %s", strings.Join(alts, " or "))
		}
	}
	for _, b := range s.Bad {
		v.good = append(v.good, "not loaded: "+b)
	}
	v.good = append(v.good, "rules read: "+joinList(s.Files))
	return v.outcome()
}
