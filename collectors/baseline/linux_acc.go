package baseline

import (
	"errors"
	"path"
	"slices"
	"strconv"
	"strings"
)

// pamModules returns the rules of the system-wide PAM stacks of type typ.
func pamModules(e *env, typ string) ([]pamLine, []string, error) {
	var out []pamLine
	var used []string
	for _, s := range e.pamServices() {
		st, err := e.pamStack(s)
		if err != nil {
			return nil, used, err
		}
		used = append(used, "/etc/pam.d/"+s)
		out = append(out, filterPAM(st, typ)...)
	}
	return out, used, nil
}

// findModule returns the first rule whose module contains name.
func findModule(ls []pamLine, name string) (pamLine, bool) {
	for _, l := range ls {
		if strings.Contains(l.Module, name) {
			return l, true
		}
	}
	return pamLine{}, false
}

// passwordQuality is LNX-ACC-001: pam_pwquality (or pam_cracklib) in the
// password stack with minlen ≥ min_password_length and minclass ≥ 3 or three
// required credit classes.
func passwordQuality(e *env) outcome {
	pw, used, err := pamModules(e, "password")
	if err != nil {
		return errFrom(err)
	}
	if len(used) == 0 {
		return errOut("no system PAM stack found (etc/pam.d/common-password or system-auth)")
	}
	l, ok := findModule(pw, "pam_pwquality")
	if !ok {
		l, ok = findModule(pw, "pam_cracklib")
	}
	if !ok {
		return fail("neither pam_pwquality nor pam_cracklib in " + joinList(used))
	}
	conf := map[string]string{}
	if b, err := e.readOptional("etc", "security", "pwquality.conf"); err == nil {
		conf = parseKeyValues(b)
	} else {
		return errFrom(err)
	}
	files, _ := e.readGlob("etc/security/pwquality.conf.d/*.conf")
	for _, k := range sortedKeys(files) {
		for kk, vv := range parseKeyValues(files[k]) {
			conf[kk] = vv
		}
	}
	for _, a := range l.Args { // module arguments override the file
		if k, v, ok := strings.Cut(a, "="); ok {
			conf[k] = v
		}
	}
	var v verdict
	v.ok("%s in the password stack", l.Module)
	minlen := atoiOr(conf["minlen"], 8) // pwquality default 8
	if _, set := conf["minlen"]; !set && strings.Contains(l.Module, "cracklib") {
		minlen = 9
	}
	v.check(minlen >= e.site.MinPasswordLength, "minlen %d (site minimum %d)", minlen, e.site.MinPasswordLength)
	minclass := atoiOr(conf["minclass"], 0)
	credits := 0
	for _, c := range []string{"dcredit", "ucredit", "lcredit", "ocredit"} {
		if atoiOr(conf[c], 0) < 0 {
			credits++
		}
	}
	v.check(minclass >= 3 || credits >= 3, "minclass %d, required credit classes %d", minclass, credits)
	return v.outcome()
}

// passwordAgeing is LNX-ACC-002: PASS_MAX_DAYS 1..90, PASS_MIN_DAYS ≥ 1,
// PASS_WARN_AGE ≥ 7, remember ≥ 5.
func passwordAgeing(e *env) outcome {
	b, err := e.read("etc", "login.defs")
	if err != nil {
		return errFrom(err)
	}
	kv := parseLoginDefs(b)
	var v verdict
	item := func(name string, dflt int, ok func(int) bool) {
		n, note := getdefNum(kv, name, dflt)
		if note != "" {
			note = ", " + note
		}
		v.check(ok(n), "%s = %d (/etc/login.defs%s)", name, n, note)
	}
	item("PASS_MAX_DAYS", -1, func(n int) bool { return n >= 1 && n <= 90 })
	item("PASS_MIN_DAYS", -1, func(n int) bool { return n >= 1 })
	item("PASS_WARN_AGE", -1, func(n int) bool { return n >= 7 })
	pw, _, err := pamModules(e, "password")
	if err != nil {
		v.err(err)
		return v.outcome()
	}
	remember := 0
	for _, l := range pw {
		if strings.Contains(l.Module, "pam_pwhistory") || strings.Contains(l.Module, "pam_unix") {
			if r, ok := l.arg("remember"); ok {
				remember = max(remember, atoiOr(r, 0))
			} else if strings.Contains(l.Module, "pam_pwhistory") {
				if hb, err := e.readOptional("etc", "security", "pwhistory.conf"); err == nil {
					remember = max(remember, atoiOr(parseKeyValues(hb)["remember"], 10))
				}
			}
		}
	}
	v.check(remember >= 5, "password history remember %d", remember)
	return v.outcome()
}

// loginLockout is LNX-ACC-003: pam_faillock (or pam_tally2) in the auth stack
// with deny 1..5 and unlock_time ≥ 600 s or 0.
func loginLockout(e *env) outcome {
	auth, used, err := pamModules(e, "auth")
	if err != nil {
		return errFrom(err)
	}
	if len(used) == 0 {
		return errOut("no system PAM stack found (etc/pam.d/common-auth or system-auth)")
	}
	conf := map[string]string{}
	l, ok := findModule(auth, "pam_faillock")
	if ok {
		b, err := e.readOptional("etc", "security", "faillock.conf")
		if err != nil {
			return errFrom(err)
		}
		conf = parseKeyValues(b)
		if _, set := conf["deny"]; !set {
			conf["deny"] = "3" // pam_faillock default
		}
		if _, set := conf["unlock_time"]; !set {
			conf["unlock_time"] = "600"
		}
	} else if l, ok = findModule(auth, "pam_tally2"); !ok {
		return fail("neither pam_faillock nor pam_tally2 in " + joinList(used))
	}
	for _, a := range l.Args {
		if k, v, ok := strings.Cut(a, "="); ok {
			conf[k] = v
		}
	}
	var v verdict
	v.ok("%s in the auth stack", l.Module)
	deny := atoiOr(conf["deny"], 0)
	v.check(deny >= 1 && deny <= 5, "deny %s", orNone(conf["deny"]))
	ut := conf["unlock_time"]
	uti := atoiOr(ut, -1)
	if ut == "never" {
		uti = 0
	}
	v.check(uti == 0 || uti >= 600, "unlock_time %s", orNone(ut))
	return v.outcome()
}

// emptyPasswords is LNX-ACC-004 (critical): no account has an empty
// password now, in /etc/shadow or (without a shadow entry) in /etc/passwd.
func emptyPasswords(e *env) outcome {
	var v verdict
	b, err := e.read("etc", "shadow")
	shadow := map[string]string{}
	if err != nil {
		v.err(err)
	} else {
		shadow = parseShadow(b)
		var empty []string
		for u, h := range shadow {
			if h == "" {
				empty = append(empty, u)
			}
		}
		v.check(len(empty) == 0, "accounts with an empty password in /etc/shadow: %s", joinList(sortStrings(empty)))
	}
	if pb, err := e.read("etc", "passwd"); err == nil {
		var empty []string
		for _, l := range strings.Split(string(pb), "\n") {
			f := strings.Split(strings.TrimSpace(l), ":")
			if len(f) >= 7 && f[1] == "" {
				if _, shadowed := shadow[f[0]]; !shadowed {
					empty = append(empty, f[0])
				}
			}
		}
		v.check(len(empty) == 0, "accounts with an empty password field in /etc/passwd and no shadow entry: %s", joinList(empty))
	} else {
		v.err(err)
	}
	return v.outcome()
}

// emptyPasswordsAccepted is LNX-ACC-008 (high): no PAM auth stack runs
// pam_unix with nullok (an account whose password is emptied later could
// log in without one) and sshd does not permit empty passwords for any
// connection.
func emptyPasswordsAccepted(e *env) outcome {
	var v verdict
	services := e.root.Glob("etc/pam.d/*")
	if len(services) > 200 {
		services = services[:200]
	}
	for _, p := range services {
		svc := path.Base(p)
		st, err := e.pamStack(svc)
		if err != nil {
			if !errors.Is(err, ErrNotRegular) {
				v.err(err)
			}
			continue
		}
		for _, l := range filterPAM(st, "auth") {
			if !strings.Contains(path.Base(l.Module), "pam_unix") {
				continue
			}
			for _, flag := range []string{"nullok", "nullok_secure"} {
				if _, ok := l.arg(flag); ok {
					v.no("%s on %s in the auth stack of /etc/pam.d/%s (%s)", flag, l.Module, svc, l.Where)
				}
			}
		}
	}
	if cfg, installed, err := e.sshd(); err != nil {
		v.err(err)
	} else if installed && cfg != nil && cfg.Err == "" {
		sshdRequire(&v, cfg, sshdAnyUser(e, cfg), "permitemptypasswords", "no", func(s string) bool { return s == "no" })
	}
	v.bad = uniqStrings(v.bad)
	if len(v.bad)+len(v.errs) == 0 {
		v.ok("no pam_unix nullok in the auth stacks of %d PAM services", len(services))
	}
	return v.outcome()
}

// uidZero is LNX-ACC-005: only root has UID 0.
func uidZero(e *env) outcome {
	pw, err := e.passwd()
	if err != nil {
		return errFrom(err)
	}
	var zero []string
	for _, p := range pw {
		if p.UID == 0 {
			zero = append(zero, p.Name)
		}
	}
	if len(zero) == 1 && zero[0] == "root" {
		return pass("UID 0: root")
	}
	return fail("UID 0: " + joinList(zero))
}

// vendorDefaultAccounts are account names that ship with devices and images.
func vendorDefaultAccounts() []string {
	return []string{"pi", "test", "admin", "user", "guest", "ubuntu", "debian", "demo", "operator1", "engineer"}
}

// staleAccounts is LNX-ACC-006: no login-capable vendor-default account with
// a password; INACTIVE ≤ 90; every interactive account on the site list.
func staleAccounts(e *env) outcome {
	pw, err := e.passwd()
	if err != nil {
		return errFrom(err)
	}
	var v verdict
	shadow := map[string]string{}
	if b, err := e.read("etc", "shadow"); err == nil {
		shadow = parseShadow(b)
	} else {
		v.err(err)
	}
	var interactive []string
	for _, p := range pw {
		if !p.interactive() || (p.UID < 1000 && p.UID != 0) || p.UID == 65534 {
			continue
		}
		h, known := shadow[p.Name]
		locked := known && (strings.HasPrefix(h, "!") || strings.HasPrefix(h, "*"))
		if locked {
			continue
		}
		interactive = append(interactive, p.Name)
		if contains(vendorDefaultAccounts(), p.Name) && !contains(e.site.Accounts, p.Name) {
			v.no("vendor-default account %s can log in", p.Name)
		}
	}
	if b, err := e.readOptional("etc", "default", "useradd"); err == nil {
		n, note := useraddInactive(b)
		if note != "" {
			note = ": " + note
		}
		v.check(n >= 0 && n <= 90, "useradd INACTIVE = %d (/etc/default/useradd%s)", n, note)
	} else {
		v.err(err)
	}
	if len(v.bad) > 0 {
		return v.outcome()
	}
	if len(e.site.Accounts) == 0 {
		return notConfigured("accounts", "interactive accounts: "+joinList(interactive))
	}
	for _, u := range interactive {
		v.check(contains(e.site.Accounts, u), "interactive account %s on the site list", u)
	}
	return v.outcome()
}

// sessionTimeout is LNX-ACC-007: readonly TMOUT 1..900 in a profile file;
// GNOME idle-delay ≤ 900 with lock when a desktop exists. Operator stations
// with the declared display exception are NOT_APPLICABLE.
func sessionTimeout(e *env) outcome {
	if e.role == RoleOperator && e.site.HMIDisplayException {
		return na("operator station with declared display exception (hmi_display_exception)")
	}
	var v verdict
	files := map[string][]byte{}
	for _, f := range []string{"etc/profile", "etc/bashrc", "etc/bash.bashrc"} {
		if b, err := e.readOptional(strings.Split(f, "/")...); err == nil && b != nil {
			files[f] = b
		} else if err != nil {
			v.err(err)
		}
	}
	d, errs := e.readGlob("etc/profile.d/*.sh")
	for _, err := range errs {
		v.err(err)
	}
	for k, b := range d {
		files[k] = b
	}
	tmout, ro, where := 0, false, ""
	for _, k := range sortedKeys(files) {
		for _, l := range lines(files[k]) {
			for _, st := range strings.Split(l, ";") {
				st = strings.TrimSpace(st)
				st = strings.TrimPrefix(st, "export ")
				if strings.HasPrefix(st, "readonly ") || strings.HasPrefix(st, "declare -r ") || strings.HasPrefix(st, "typeset -r ") {
					if strings.Contains(st, "TMOUT") {
						ro = true
					}
					st = st[strings.LastIndex(st, " ")+1:]
				}
				if val, ok := strings.CutPrefix(st, "TMOUT="); ok {
					if n, err := strconv.Atoi(strings.Trim(val, `"'`)); err == nil {
						tmout, where = n, "/"+k
					}
				}
			}
		}
	}
	v.check(tmout > 0 && tmout <= 900, "TMOUT %d (%s)", tmout, orNone(where))
	v.check(ro, "TMOUT readonly: %t", ro)
	if e.installedDesktop() {
		dc, _ := e.readGlob("etc/dconf/db/*.d/*")
		idle, lock := -1, false
		for _, k := range sortedKeys(dc) {
			kv := parseKeyValues(dc[k])
			if s, ok := kv["idle-delay"]; ok {
				idle = atoiOr(strings.TrimPrefix(s, "uint32 "), -1)
			}
			if kv["lock-enabled"] == "true" {
				lock = true
			}
		}
		v.check(idle > 0 && idle <= 900 && lock, "GNOME idle-delay %d lock-enabled %t", idle, lock)
	}
	return v.outcome()
}

// installedDesktop reports whether a graphical login manager is installed.
func (e *env) installedDesktop() bool {
	_, ok := e.installed("gdm3", "gdm", "lightdm", "sddm")
	return ok
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
