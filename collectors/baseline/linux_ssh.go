package baseline

import (
	"net/netip"
	"os"
	"strings"
)

// sshdOr returns the effective sshd config, or an outcome when sshd is absent
// (NOT_APPLICABLE) or its config unreadable (ERROR).
func sshdOr(e *env) (sshdConfig, *outcome) {
	cfg, installed, err := e.sshd()
	if err != nil {
		o := errFrom(err)
		return nil, &o
	}
	if !installed || cfg == nil {
		o := na("sshd not installed (no etc/ssh/sshd_config)")
		return nil, &o
	}
	return cfg, nil
}

// sshRootLogin is LNX-SSH-001: PermitRootLogin no.
func sshRootLogin(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	v := cfg["permitrootlogin"]
	if v == "no" {
		return pass("permitrootlogin no")
	}
	return fail("permitrootlogin " + v)
}

// sshLimits is LNX-SSH-002: MaxAuthTries ≤ 4; 0 < ClientAliveInterval ≤ 300;
// ClientAliveCountMax ≤ 3.
func sshLimits(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	var v verdict
	mat := atoiOr(cfg["maxauthtries"], 99)
	v.check(mat <= 4, "maxauthtries %s", cfg["maxauthtries"])
	cai := atoiOr(strings.TrimSuffix(cfg["clientaliveinterval"], "s"), 0)
	v.check(cai > 0 && cai <= 300, "clientaliveinterval %s", cfg["clientaliveinterval"])
	cam := atoiOr(cfg["clientalivecountmax"], 99)
	v.check(cam <= 3, "clientalivecountmax %s", cfg["clientalivecountmax"])
	return v.outcome()
}

// sshRestricted is LNX-SSH-003: AllowUsers/AllowGroups set and 22/tcp
// limited to the management networks (hosts.allow or a firewall rule naming
// a site_policy.management_cidrs network).
func sshRestricted(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	au, ag := cfg["allowusers"], cfg["allowgroups"]
	if au == "" && ag == "" {
		return fail("neither AllowUsers nor AllowGroups is set")
	}
	ev := []string{"allowusers " + orNone(au), "allowgroups " + orNone(ag)}
	if len(e.site.ManagementCIDRs) == 0 {
		return notConfigured("management_cidrs", ev...)
	}
	var srcs []string
	if b, err := e.readOptional("etc", "hosts.allow"); err == nil {
		for _, l := range lines(b) {
			if d, list, ok := strings.Cut(l, ":"); ok && strings.Contains(d, "sshd") {
				srcs = append(srcs, strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == ':' })...)
			}
		}
	}
	fw := firewallText(e)
	for _, p := range e.site.ManagementCIDRs {
		if contains(srcs, p.String()) || strings.Contains(fw, p.String()) {
			return pass(append(ev, "22/tcp source limited to "+p.String())...)
		}
		for _, s := range srcs {
			if a, err := netip.ParseAddr(s); err == nil && p.Contains(a) {
				return pass(append(ev, "hosts.allow sshd: "+s)...)
			}
		}
	}
	return fail(append(ev, "no hosts.allow or firewall rule limits 22/tcp to management_cidrs")...)
}

// sshMFA is LNX-SSH-004: password-only login disabled, or an MFA module in
// the sshd PAM stack.
func sshMFA(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	pw := cfg["passwordauthentication"]
	kbd := cfg["kbdinteractiveauthentication"]
	if c, ok := cfg["challengeresponseauthentication"]; ok && cfg["kbdinteractiveauthentication"] == "yes" {
		kbd = c
	}
	am := cfg["authenticationmethods"]
	if pw == "no" && (kbd == "no" || cfg["usepam"] != "yes") {
		return pass("passwordauthentication no", "kbdinteractiveauthentication "+kbd)
	}
	if strings.Contains(am, "publickey,") || strings.Contains(am, ",publickey") {
		return pass("authenticationmethods " + am)
	}
	if stack, err := e.pamStack("sshd"); err == nil {
		for _, l := range stack {
			for _, m := range []string{"pam_google_authenticator", "pam_oath", "pam_radius", "pam_duo", "pam_u2f", "pam_yubico", "pam_sss_gss", "pam_privacyidea"} {
				if strings.Contains(l.Module, m) {
					return pass("MFA module " + l.Module + " in the sshd PAM stack")
				}
			}
		}
	}
	return fail("passwordauthentication "+pw, "authenticationmethods "+orNone(am), "no MFA module in etc/pam.d/sshd")
}

// sshCrypto is LNX-SSH-005: no weak ciphers, MACs or KEX configured;
// sshd_config mode 0600 owned by the root owner; host private keys 0600.
func sshCrypto(e *env) outcome {
	cfg, o := sshdOr(e)
	if o != nil {
		return *o
	}
	var v verdict
	weak := func(list, kind string, bad ...string) {
		if list == "" {
			v.ok("%s: OpenSSH defaults", kind)
			return
		}
		for _, a := range strings.Split(strings.TrimLeft(list, "+^"), ",") {
			a = strings.ToLower(a)
			for _, b := range bad {
				if strings.Contains(a, b) {
					v.no("%s %s", kind, a)
				}
			}
		}
	}
	weak(cfg["ciphers"], "cipher", "-cbc", "3des", "arcfour", "blowfish", "cast128")
	weak(cfg["macs"], "mac", "md5", "-96")
	weak(cfg["kexalgorithms"], "kex", "sha1", "group1-", "group14-sha1")
	owner := ownerOf(e.root.Path())
	mode := func(elem ...string) {
		st, err := os.Stat(e.root.Path(elem...))
		if err != nil {
			v.err(&readError{path: rel(elem...), err: err})
			return
		}
		m := st.Mode().Perm()
		uid := ownerOf(e.root.Path(elem...))
		v.check(m&0o077 == 0 && uid == owner, "%s mode %04o", rel(elem...), m)
	}
	mode("etc", "ssh", "sshd_config")
	for _, k := range e.root.Glob("etc/ssh/ssh_host_*_key") {
		mode(strings.Split(k, "/")...)
	}
	return v.outcome()
}
