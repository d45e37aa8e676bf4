package baseline

import (
	"fmt"
	"strings"
	"time"
)

// winAuditPolicy is WIN-LOG-001.
func winAuditPolicy(w *winEnv) outcome {
	var v verdict
	pol, err := w.src.AuditPolicy()
	if err != nil {
		v.errs = append(v.errs, "read audit policy: "+err.Error())
	} else {
		winAuditOn(&v, pol, "Credential Validation", true, true)
		winAuditOn(&v, pol, "Logon", true, true)
		winAuditOn(&v, pol, "Account Lockout", false, true)
		winAuditOn(&v, pol, "User Account Management", true, true)
		winAuditOn(&v, pol, "Security Group Management", true, false)
		winAuditOn(&v, pol, "Audit Policy Change", true, false)
		winAuditOn(&v, pol, "Sensitive Privilege Use", true, true)
		winAuditOn(&v, pol, "Process Creation", true, false)
	}
	w.wantDWORD(&v, regLsa, "SCENoApplyLegacyAuditPolicy", 1, false)
	return v.outcome()
}

// winLogSizes is WIN-LOG-002: Security ≥ 196 608 KB, Application and System
// ≥ 32 768 KB (policy MaxSize in KB, else the service's MaxSize in bytes).
func winLogSizes(w *winEnv) outcome {
	var v verdict
	for _, l := range []struct {
		name string
		min  uint32
	}{{"Security", 196608}, {"Application", 32768}, {"System", 32768}} {
		kb, ok, err := w.dword(`HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\`+l.name, "MaxSize")
		if err != nil {
			v.errs = append(v.errs, err.Error())
			continue
		}
		if !ok {
			b, bok, err := w.dword(regServices+`\EventLog\`+l.name, "MaxSize")
			if err != nil {
				v.errs = append(v.errs, err.Error())
				continue
			}
			if bok {
				kb = b / 1024
			}
		}
		v.check(kb >= l.min, "%s log MaxSize %d KB (want ≥ %d)", l.name, kb, l.min)
	}
	return v.outcome()
}

// winLogRetention is WIN-LOG-003: central retention ≥ 180 days declared with
// forwarding (WIN-LOG-004), or the local Security log large enough to be
// archived (AutoBackupLogFiles = 1 with Retention -1 archives instead of
// overwriting).
func winLogRetention(w *winEnv) outcome {
	if w.site.CentralLogRetentionDays >= 180 {
		if f := winLogForwarding(w); f.state == StatePass {
			return pass(append([]string{"central retention declared: " + itoa(w.site.CentralLogRetentionDays) + " days"}, f.evidence...)...)
		}
	}
	var v verdict
	ab, ok, err := w.dword(`HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\Security`, "AutoBackupLogFiles")
	if err != nil {
		return errOut(err.Error())
	}
	v.check(ok && ab == 1, "Security log AutoBackupLogFiles = %d (archive instead of overwrite)", ab)
	v.check(false, "central retention ≥ 180 days not declared (central_log_retention_days = %d)", w.site.CentralLogRetentionDays)
	if ok && ab == 1 {
		return pass("Security log archived on full (AutoBackupLogFiles = 1)")
	}
	return v.outcome()
}

// winLogForwarding is WIN-LOG-004: a WEF subscription manager pointing at a
// listed collector.
func winLogForwarding(w *winEnv) outcome {
	const k = `HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\EventForwarding\SubscriptionManager`
	s, ok, err := w.str(k, "1")
	if err != nil {
		return errOut(err.Error())
	}
	if !ok || s == "" {
		return fail("no Windows Event Forwarding subscription manager configured")
	}
	ev := "SubscriptionManager " + s
	if len(w.site.LogCollectors) == 0 {
		return notConfigured("log_collectors", ev)
	}
	for _, c := range w.site.LogCollectors {
		if strings.Contains(strings.ToLower(s), strings.ToLower(c)) {
			return pass(ev, c+" is a listed collector")
		}
	}
	return fail(ev, "not a listed collector")
}

// winTimeSync is WIN-TIM-001.
func winTimeSync(w *winEnv) outcome {
	var v verdict
	if s, ok := w.service(&v, "W32Time"); !ok || !s.Running {
		v.no("W32Time not running")
	}
	en, _, found := w.dwordPolicy(&v, "Enabled", `HKLM\SOFTWARE\Policies\Microsoft\W32Time\TimeProviders\NtpClient`, regServices+`\W32Time\TimeProviders\NtpClient`)
	v.check(found && en == 1, "NtpClient Enabled = %d", en)
	typ, _, _ := w.str(regServices+`\W32Time\Parameters`, "Type")
	srv, _, _ := w.str(`HKLM\SOFTWARE\Policies\Microsoft\W32Time\Parameters`, "NtpServer")
	if srv == "" {
		srv, _, _ = w.str(regServices+`\W32Time\Parameters`, "NtpServer")
	}
	if len(v.bad) > 0 || len(v.errs) > 0 {
		return v.outcome()
	}
	if strings.EqualFold(typ, "NT5DS") {
		return pass(append(v.good, "Type NT5DS: domain time hierarchy")...)
	}
	var sources []string
	for _, f := range strings.Fields(srv) {
		h, _, _ := strings.Cut(f, ",")
		sources = append(sources, h)
	}
	ev := append(v.good, "Type "+orNone(typ), "NtpServer "+orNone(srv))
	if len(sources) == 0 {
		return fail(append(ev, "no NTP server configured")...)
	}
	if len(w.site.NTPServers) == 0 {
		return notConfigured("ntp_servers", ev...)
	}
	for _, s := range sources {
		if !containsFold(w.site.NTPServers, s) {
			return fail(append(ev, s+" is not in ntp_servers")...)
		}
	}
	return pass(ev...)
}

// winFirewallOn is WIN-FW-001.
func winFirewallOn(w *winEnv) outcome {
	var v verdict
	for _, p := range [][2]string{{"DomainProfile", "DomainProfile"}, {"PrivateProfile", "StandardProfile"}, {"PublicProfile", "PublicProfile"}} {
		x, _, ok := w.dwordPolicy(&v, "EnableFirewall", `HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\`+p[0], regFwPolicy+`\`+p[1])
		v.check(ok && x == 1, "%s EnableFirewall = %d", p[0], x)
	}
	s, ok := w.service(&v, "mpssvc")
	v.check(ok && s.Running, "Windows Defender Firewall service (mpssvc) running: %t", s.Running)
	return v.outcome()
}

// fwRule is one parsed firewall rule value ("v2.30|Action=Allow|Dir=In|...").
type fwRule struct {
	Action, Dir, Protocol, Name string
	Active                      bool
	LPorts                      []string
	RemoteAddrs                 []string // RA4/RA6; empty = any
}

// parseFwRule parses a FirewallRules registry value.
func parseFwRule(s string) fwRule {
	r := fwRule{Active: true}
	for _, f := range strings.Split(s, "|") {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch k {
		case "Action":
			r.Action = val
		case "Dir":
			r.Dir = val
		case "Active":
			r.Active = strings.EqualFold(val, "TRUE")
		case "Protocol":
			r.Protocol = val
		case "LPort":
			r.LPorts = append(r.LPorts, val)
		case "RA4", "RA6":
			r.RemoteAddrs = append(r.RemoteAddrs, val)
		case "Name":
			r.Name = val
		}
	}
	return r
}

// winFirewallInbound is WIN-FW-002: DefaultInboundAction = 1 (block) on all
// profiles; management ports allowed only from management_cidrs.
func winFirewallInbound(w *winEnv) outcome {
	var v verdict
	for _, p := range [][2]string{{"DomainProfile", "DomainProfile"}, {"PrivateProfile", "StandardProfile"}, {"PublicProfile", "PublicProfile"}} {
		x, _, ok := w.dwordPolicy(&v, "DefaultInboundAction", `HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\`+p[0], regFwPolicy+`\`+p[1])
		v.check(!ok || x == 1, "%s DefaultInboundAction = %s", p[0], map[bool]string{true: itoa(int(x)), false: "absent (block)"}[ok])
	}
	names, rerr := w.ruleValues()
	if rerr != nil {
		v.errs = append(v.errs, rerr.Error())
	}
	restricted := 0
	for _, s := range names {
		r := parseFwRule(s)
		if !r.Active || r.Action != "Allow" || r.Dir != "In" {
			continue
		}
		for _, lp := range r.LPorts {
			if !contains(mgmtPorts(), lp) {
				continue
			}
			if len(r.RemoteAddrs) == 0 {
				v.no("inbound allow rule %q opens port %s to any source", r.Name, lp)
			} else {
				restricted++
				if len(w.site.ManagementCIDRs) > 0 && !addrsWithin(r.RemoteAddrs, w.site) {
					v.no("inbound allow rule %q port %s from %s outside management_cidrs", r.Name, lp, strings.Join(r.RemoteAddrs, ","))
				}
			}
		}
	}
	o := v.outcome()
	if o.state == StatePass && restricted > 0 && len(w.site.ManagementCIDRs) == 0 {
		return notConfigured("management_cidrs", o.evidence...)
	}
	return o
}

// ruleValues returns the FirewallRules values (one string per rule).
func (w *winEnv) ruleValues() ([]string, error) {
	var out []string
	for _, k := range []string{regFwPolicy + `\FirewallRules`, `HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\FirewallRules`} {
		vals, err := w.src.RegValues(k)
		if err != nil {
			if absent(err) {
				continue
			}
			return out, fmt.Errorf("read %s: %w", k, err)
		}
		for _, name := range sortedKeys(vals) {
			out = append(out, vals[name])
		}
	}
	return out, nil
}

// addrsWithin reports whether every remote address spec lies in a
// management CIDR.
func addrsWithin(addrs []string, site *SitePolicy) bool {
	for _, a := range addrs {
		for _, part := range strings.Split(a, ",") {
			ok := false
			for _, p := range site.ManagementCIDRs {
				if strings.HasPrefix(part, strings.Split(p.String(), "/")[0]) || part == p.String() {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// winLastPatch returns the last successful Windows Update install time.
func (w *winEnv) lastPatch() (time.Time, bool) {
	s, ok, _ := w.str(`HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\Results\Install`, "LastSuccessTime")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02 15:04:05", s)
	return t, err == nil
}
