package baseline

import (
	"io/fs"
	"os"
	"path"
	"strings"
)

// sudoersLines returns the sudoers rules with #include/@includedir expanded.
func (e *env) sudoersLines() ([]string, []error) {
	var out []string
	var errs []error
	var walk func(p string, depth int)
	walk = func(p string, depth int) {
		b, err := e.root.ReadRel(strings.TrimPrefix(p, "/"))
		if err != nil {
			if !isNotExist(err) {
				errs = append(errs, err)
			}
			return
		}
		for _, raw := range strings.Split(string(b), "\n") {
			l := strings.TrimSpace(raw)
			for _, pre := range []string{"#includedir ", "@includedir "} {
				if d, ok := strings.CutPrefix(l, pre); ok && depth < 4 {
					for _, f := range e.root.Glob(strings.TrimPrefix(strings.TrimSpace(d), "/") + "/*") {
						if base := path.Base(f); !strings.Contains(base, ".") && !strings.HasSuffix(base, "~") {
							walk(f, depth+1)
						}
					}
				}
			}
			for _, pre := range []string{"#include ", "@include "} {
				if f, ok := strings.CutPrefix(l, pre); ok && depth < 4 {
					walk(strings.TrimSpace(f), depth+1)
				}
			}
			if i := strings.IndexByte(l, '#'); i >= 0 {
				l = strings.TrimSpace(l[:i])
			}
			if l != "" {
				out = append(out, l)
			}
		}
	}
	walk("etc/sudoers", 0)
	return out, errs
}

// leastPrivilege is LNX-PRV-001: wheel/sudo/admin members ⊆ site admin list;
// no NOPASSWD or !authenticate except listed accounts; su restricted by
// pam_wheel.
func leastPrivilege(e *env) outcome {
	var v verdict
	rules, errs := e.sudoersLines()
	for _, err := range errs {
		v.err(err)
	}
	for _, l := range rules {
		if strings.HasPrefix(l, "Defaults") {
			if strings.Contains(l, "!authenticate") {
				v.no("sudoers: %s", l)
			}
			continue
		}
		if strings.Contains(l, "NOPASSWD") || strings.Contains(l, "!authenticate") {
			who := strings.Fields(l)[0]
			if !contains(e.site.NopasswdAccounts, strings.TrimPrefix(who, "%")) {
				v.no("sudoers: %s", l)
			}
		}
	}
	su, err := e.pamStack("su")
	if err != nil {
		if !isNotExist(err) {
			v.err(err)
		}
	} else {
		_, ok := findModule(filterPAM(su, "auth"), "pam_wheel")
		v.check(ok, "/etc/pam.d/su pam_wheel: %t", ok)
	}
	var members []string
	if b, err := e.read("etc", "group"); err == nil {
		g := parseGroup(b)
		for _, n := range []string{"wheel", "sudo", "admin"} {
			for _, m := range g[n] {
				if !contains(members, m) {
					members = append(members, m)
				}
			}
		}
	} else {
		v.err(err)
	}
	if len(v.bad) > 0 || len(v.errs) > 0 {
		return v.outcome()
	}
	if len(e.site.AdminUsers) == 0 {
		return notConfigured("admin_users", append(v.good, "admin group members: "+joinList(members))...)
	}
	for _, m := range members {
		v.check(contains(e.site.AdminUsers, m), "admin group member %s on the site admin list", m)
	}
	return v.outcome()
}

// macEnforcing is LNX-PRV-002: SELinux enforcing, or AppArmor enabled with
// profiles in enforce mode.
func macEnforcing(e *env) outcome {
	if b, err := e.read("sys", "fs", "selinux", "enforce"); err == nil {
		if strings.TrimSpace(string(b)) == "1" {
			return pass("SELinux enforcing (/sys/fs/selinux/enforce)")
		}
		return fail("SELinux permissive (/sys/fs/selinux/enforce=0)")
	}
	if b, err := e.read("sys", "module", "apparmor", "parameters", "enabled"); err == nil && strings.TrimSpace(string(b)) == "Y" {
		p, err := e.read("sys", "kernel", "security", "apparmor", "profiles")
		if err != nil {
			if isNotExist(err) {
				return fail("AppArmor enabled but no profiles loaded")
			}
			return errFrom(err, "AppArmor enabled")
		}
		enforce := strings.Count(string(p), "(enforce)")
		if enforce > 0 {
			return pass("AppArmor enabled", itoa(enforce)+" profiles in enforce mode")
		}
		return fail("AppArmor enabled, no profile in enforce mode")
	}
	if b, err := e.readOptional("etc", "selinux", "config"); err == nil && b != nil {
		m := parseKeyValues(b)["SELINUX"]
		if m == "enforcing" {
			return pass("/etc/selinux/config SELINUX=enforcing (running state not readable)")
		}
		return fail("/etc/selinux/config SELINUX=" + orNone(m))
	}
	return fail("neither SELinux nor AppArmor is enabled")
}

// cronRestricted is LNX-PRV-003: cron and at are limited to listed users
// (cron.allow / at.allow exist) and the system crontab and cron directories
// are not readable or writable by group and others.
func cronRestricted(e *env) outcome {
	var v verdict
	cron := e.root.Exists("etc", "crontab") || e.binary("cron") || e.binary("crond")
	at := e.binary("at") || e.binary("atd") || e.root.Exists("etc", "at.deny")
	if !cron && !at {
		return na("neither cron nor at is installed (/etc/crontab, cron, crond, at)")
	}
	owner := ownerOf(e.root.Path())
	perm := func(p string, max fs.FileMode) {
		st, err := os.Stat(e.root.Path(strings.Split(p, "/")...))
		if err != nil {
			if !isNotExist(err) {
				v.err(&readError{path: p, err: err})
			}
			return
		}
		m := st.Mode().Perm()
		uid := ownerOf(e.root.Path(strings.Split(p, "/")...))
		v.check(m&^max == 0 && uid == owner, "/%s mode %04o (max %04o, owner root)", p, m, max)
	}
	if cron {
		v.check(e.root.Exists("etc", "cron.allow"), "/etc/cron.allow exists: %t (without it every user may use crontab)", e.root.Exists("etc", "cron.allow"))
		perm("etc/crontab", 0o600)
		for _, d := range []string{"etc/cron.d", "etc/cron.hourly", "etc/cron.daily", "etc/cron.weekly", "etc/cron.monthly"} {
			perm(d, 0o700)
		}
		perm("etc/cron.allow", 0o640)
	}
	if at {
		v.check(e.root.Exists("etc", "at.allow"), "/etc/at.allow exists: %t (without it every user not in at.deny may use at)", e.root.Exists("etc", "at.allow"))
		perm("etc/at.allow", 0o640)
	}
	return v.outcome()
}
