package baseline

import (
	"net/netip"
	"os"
	"strings"
)

// sshdOr returns the parsed sshd configuration, or an outcome when sshd is
// absent (NOT_APPLICABLE), its config unreadable or rejected by sshd (ERROR).
func sshdOr(e *env) (*sshdConf, *outcome) {
	cfg, installed, err := e.sshd()
	if err != nil {
		o := errFrom(err)
		return nil, &o
	}
	if !installed || cfg == nil {
		o := na("sshd not installed (no /etc/ssh/sshd_config)")
		return nil, &o
	}
	if cfg.Err != "" {
		o := errOut("sshd would reject its configuration (sshd -t): "+cfg.Err, "read "+joinList(cfg.Files))
		return nil, &o
	}
	return cfg, nil
}

// sshdRequire evaluates key for every connection of users and reports each
// distinct effective value: good ones as evidence, bad ones as failures
// naming the connection and the line that set the value.
func sshdRequire(v *verdict, cfg *sshdConf, users []string, key, want string, ok func(val string) bool) {
	seen := map[string]bool{}
	for _, ci := range cfg.sshdConns(users) {
		val, where := cfg.value(ci, key)
		k := val + "\x00" + where
		if seen[k] {
			continue
		}
		seen[k] = true
		ev := cfg.sshdEvidence(key, val, where)
		if ok(val) {
			v.ok("%s", ev)
		} else {
			v.no("%s for connection %s; want %s", ev, ci, want)
		}
	}
}

// sshdAnyUser returns the users to evaluate for checks about every user:
// root, the accounts with a login shell, the names Match User lines give and
// one name no pattern names.
func sshdAnyUser(e *env, cfg *sshdConf) []string {
	return cfg.sshdUsers(append([]string{"root"}, e.loginAccounts()...))
}

// sshRootLogin is LNX-SSH-001: PermitRootLogin no for every connection of
// root, Match blocks included.
func sshRootLogin(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	var v verdict
	sshdRequire(&v, cfg, []string{"root"}, "permitrootlogin", "no", func(s string) bool { return s == "no" })
	return v.outcome()
}

// sshLimits is LNX-SSH-002: MaxAuthTries ≤ 4; 0 < ClientAliveInterval ≤ 300;
// ClientAliveCountMax ≤ 3, for every connection.
func sshLimits(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	var v verdict
	users := sshdAnyUser(e, cfg)
	sshdRequire(&v, cfg, users, "maxauthtries", "≤ 4", func(s string) bool { return atoiOr(s, 99) <= 4 })
	sshdRequire(&v, cfg, users, "clientaliveinterval", "1..300 s", func(s string) bool { n := atoiOr(s, 0); return n > 0 && n <= 300 })
	sshdRequire(&v, cfg, users, "clientalivecountmax", "≤ 3", func(s string) bool { return atoiOr(s, 99) <= 3 })
	return v.outcome()
}

// sshForwarding is LNX-SSH-006: TCP, agent, stream-local and X11 forwarding,
// tunnels and gateway ports off for every connection (DisableForwarding yes
// covers the first four).
func sshForwarding(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	var v verdict
	users := sshdAnyUser(e, cfg)
	seen := map[string]bool{}
	for _, ci := range cfg.sshdConns(users) {
		if d, _ := cfg.value(ci, "disableforwarding"); d == "yes" {
			continue
		}
		for _, k := range []string{"allowtcpforwarding", "allowagentforwarding", "allowstreamlocalforwarding", "x11forwarding"} {
			if val, where := cfg.value(ci, k); val != "no" && !seen[k+val+where] {
				seen[k+val+where] = true
				v.no("%s and DisableForwarding no, e.g. for connection %s", cfg.sshdEvidence(k, val, where), ci)
			}
		}
	}
	sshdRequire(&v, cfg, users, "disableforwarding", "yes, or each forwarding keyword no", func(s string) bool { return true })
	sshdRequire(&v, cfg, users, "permittunnel", "no", func(s string) bool { return s == "no" })
	sshdRequire(&v, cfg, users, "gatewayports", "no", func(s string) bool { return s == "no" })
	v.bad = uniqStrings(v.bad)
	return v.outcome()
}

// uniqStrings drops repeated strings, keeping the first of each.
func uniqStrings(s []string) []string {
	var out []string
	for _, x := range s {
		out = appendUniq(out, x)
	}
	return out
}

// sshRestricted is LNX-SSH-003: AllowUsers/AllowGroups set for every
// connection and the SSH port limited to the management networks
// (hosts.allow or a firewall that accepts it only from management_cidrs).
func sshRestricted(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	var v verdict
	users := cfg.sshdUsers(e.loginAccounts())
	for _, ci := range cfg.sshdConns(users) {
		au, w1 := cfg.value(ci, "allowusers")
		ag, w2 := cfg.value(ci, "allowgroups")
		if au == "" && ag == "" {
			v.no("neither AllowUsers nor AllowGroups applies to connection %s", ci)
			break
		}
		if au != "" {
			v.ok("%s", cfg.sshdEvidence("allowusers", au, w1))
		}
		if ag != "" {
			v.ok("%s", cfg.sshdEvidence("allowgroups", ag, w2))
		}
	}
	v.good = uniqStrings(v.good)
	if len(v.bad) > 0 {
		return v.outcome()
	}
	if len(e.site.ManagementCIDRs) == 0 {
		return notConfigured("management_cidrs", v.good...)
	}
	port := 22
	if p, _ := cfg.value(sshdConn{}, "port"); p != "" {
		port = atoiOr(strings.Fields(p)[0], 22)
	}
	if b, err := e.readOptional("etc", "hosts.allow"); err == nil {
		for _, l := range lines(b) {
			d, list, ok := strings.Cut(l, ":")
			if !ok || !strings.Contains(d, "sshd") {
				continue
			}
			for _, s := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == ':' }) {
				for _, p := range e.site.ManagementCIDRs {
					if a, err := netip.ParseAddr(s); (err == nil && p.Contains(a)) || s == p.String() {
						return pass(append(v.good, "/etc/hosts.allow sshd: "+s)...)
					}
				}
			}
		}
	}
	if ev, ok := portLimitedTo(e, "tcp", port, e.site.ManagementCIDRs); ok {
		return pass(append(v.good, ev)...)
	} else {
		return fail(append(v.good, ev)...)
	}
}

// sshMFA is LNX-SSH-004: for every connection, password-only login disabled,
// AuthenticationMethods requiring two methods, or an MFA module in the sshd
// PAM stack.
func sshMFA(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	mfaModule := ""
	if stack, err := e.pamStack("sshd"); err == nil {
		for _, l := range stack {
			for _, m := range []string{"pam_google_authenticator", "pam_oath", "pam_radius", "pam_duo", "pam_u2f", "pam_yubico", "pam_sss_gss", "pam_privacyidea"} {
				if strings.Contains(l.Module, m) && l.Type == "auth" {
					mfaModule = l.Module
				}
			}
		}
	}
	var v verdict
	users := sshdAnyUser(e, cfg)
	seen := map[string]bool{}
	for _, ci := range cfg.sshdConns(users) {
		pw, wpw := cfg.value(ci, "passwordauthentication")
		kbd, _ := cfg.value(ci, "kbdinteractiveauthentication")
		pam, _ := cfg.value(ci, "usepam")
		am, wam := cfg.value(ci, "authenticationmethods")
		twoFactor := am != "any"
		for _, alt := range strings.Fields(am) {
			if len(strings.Split(alt, ",")) < 2 {
				twoFactor = false
			}
		}
		var ev string
		ok := true
		switch {
		case twoFactor:
			ev = cfg.sshdEvidence("authenticationmethods", am, wam)
		case pw == "no" && (kbd == "no" || pam != "yes"):
			ev = cfg.sshdEvidence("passwordauthentication", pw, wpw) + ", kbdinteractiveauthentication " + kbd
		case mfaModule != "" && pam == "yes" && kbd == "yes":
			ev = "MFA module " + mfaModule + " in the auth stack of /etc/pam.d/sshd"
		default:
			ok = false
			ev = cfg.sshdEvidence("passwordauthentication", pw, wpw) + ", " + cfg.sshdEvidence("authenticationmethods", am, wam) + ", no MFA module in /etc/pam.d/sshd"
		}
		if seen[ev] {
			continue
		}
		seen[ev] = true
		if ok {
			v.ok("%s", ev)
		} else {
			v.no("%s for connection %s", ev, ci)
		}
	}
	return v.outcome()
}

// sshCrypto is LNX-SSH-005: no weak ciphers, MACs or KEX configured;
// sshd_config mode 0600 owned by the root owner; host private keys 0600.
func sshCrypto(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	var v verdict
	weak := func(key string, bad ...string) {
		list, where := cfg.value(sshdConn{}, key)
		if list == "" {
			v.ok("%s: OpenSSH defaults", key)
			return
		}
		found := false
		// "-list" removes from the defaults, which are strong; "+list"
		// and "^list" add to them.
		if !strings.HasPrefix(list, "-") {
			for _, a := range strings.Split(strings.TrimLeft(list, "+^"), ",") {
				a = strings.ToLower(a)
				for _, b := range bad {
					if strings.Contains(a, b) {
						v.no("%s (%s): weak %s", key, where, a)
						found = true
					}
				}
			}
		}
		if !found {
			v.ok("%s", cfg.sshdEvidence(key, list, where))
		}
	}
	weak("ciphers", "-cbc", "3des", "arcfour", "blowfish", "cast128")
	weak("macs", "md5", "-96")
	weak("kexalgorithms", "sha1", "group1-", "group14-sha1")
	owner := ownerOf(e.root.Path())
	mode := func(elem ...string) {
		st, err := os.Stat(e.root.Path(elem...))
		if err != nil {
			v.err(&readError{path: rel(elem...), err: err})
			return
		}
		m := st.Mode().Perm()
		uid := ownerOf(e.root.Path(elem...))
		v.check(m&0o077 == 0 && uid == owner, "%s mode %04o", abs(elem...), m)
	}
	mode("etc", "ssh", "sshd_config")
	for _, k := range e.root.Glob("etc/ssh/ssh_host_*_key") {
		mode(strings.Split(k, "/")...)
	}
	return v.outcome()
}
