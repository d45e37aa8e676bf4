package baseline

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
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
	w32timeRunning(w, &v)
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

// w32timeRunning checks that the time service runs or starts on its own. A
// stopped W32Time with start triggers (the default outside a domain:
// "Manual (Trigger Start)") starts on the network and domain-join events
// and is not a failure.
func w32timeRunning(w *winEnv, v *verdict) {
	s, ok := w.service(v, "W32Time")
	switch {
	case !ok:
		if len(v.errs) == 0 {
			v.no("W32Time not installed")
		}
	case s.Running:
		v.ok("W32Time running")
	case s.Disabled():
		v.no("W32Time disabled")
	case s.Triggers > 0:
		v.ok("W32Time stopped, trigger-start (%d triggers): started by the network or domain event", s.Triggers)
	case s.Triggers < 0:
		v.errs = append(v.errs, "W32Time stopped and its start triggers not readable")
	default:
		v.no("W32Time stopped (start %s, no start trigger)", startName(s.StartType))
	}
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

// fwRule is one parsed firewall rule value ("v2.30|Action=Allow|Dir=In|...",
// [MS-GPFAS] 2.2.2.19). Local ports come from LPort (one port, or a list
// or range as netsh and older tools write them) and LPort2_10 (ranges);
// non-numeric values are keywords (RPC, RPC-EPMap, IPHTTPS, ...). Remote
// addresses come from RA4/RA6 (addresses, subnets, ranges) and RA42/RA62
// (keywords such as LocalSubnet or IntErnet); none means any.
type fwRule struct {
	Action, Dir, Protocol, Name string
	App, Svc                    string
	Active                      bool
	LPorts                      []portSpan
	LPortKeywords               []string
	RemoteAddrs                 []string
}

// portSpan is an inclusive port range.
type portSpan struct{ Lo, Hi int }

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
		case "App":
			r.App = val
		case "Svc":
			r.Svc = val
		case "LPort", "LPort2_10":
			for _, p := range strings.Split(val, ",") {
				if sp, ok := parsePortSpan(strings.TrimSpace(p)); ok {
					r.LPorts = append(r.LPorts, sp)
				} else if p != "" {
					r.LPortKeywords = append(r.LPortKeywords, p)
				}
			}
		case "RA4", "RA6", "RA42", "RA62":
			for _, a := range strings.Split(val, ",") {
				if a = strings.TrimSpace(a); a != "" && a != "*" && !strings.EqualFold(a, "Any") {
					r.RemoteAddrs = append(r.RemoteAddrs, a)
				}
			}
		case "Name":
			r.Name = val
		}
	}
	return r
}

// parsePortSpan parses "502" or "5985-5986".
func parsePortSpan(s string) (portSpan, bool) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 0 || a > 65535 {
		return portSpan{}, false
	}
	if !isRange {
		return portSpan{a, a}, true
	}
	b, err := strconv.Atoi(hi)
	if err != nil || b < a || b > 65535 {
		return portSpan{}, false
	}
	return portSpan{a, b}, true
}

// opens reports whether an active inbound allow rule lets TCP (proto "6")
// or UDP ("17") traffic reach port: a listed port or range, or a rule for
// any program and any port. Rules scoped to a program or service without
// ports open only that program's ports, which a registry reading cannot
// tell, so they do not count.
func (r fwRule) opens(proto string, port int) bool {
	if !r.Active || r.Action != "Allow" || r.Dir != "In" || (r.Protocol != "" && r.Protocol != proto) {
		return false
	}
	if len(r.LPorts) == 0 && len(r.LPortKeywords) == 0 {
		return r.App == "" && r.Svc == ""
	}
	for _, sp := range r.LPorts {
		if port >= sp.Lo && port <= sp.Hi {
			return true
		}
	}
	return false
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
		var open []string
		for _, lp := range mgmtPorts() {
			if n, _ := strconv.Atoi(lp); r.opens("6", n) {
				open = append(open, lp)
			}
		}
		if len(open) == 0 {
			continue
		}
		ports := strings.Join(open, ",")
		switch {
		case len(r.RemoteAddrs) == 0:
			v.no("inbound allow rule %q opens management port %s to any source", r.Name, ports)
		default:
			restricted++
			if len(w.site.ManagementCIDRs) > 0 && !addrsWithin(r.RemoteAddrs, w.site.ManagementCIDRs) {
				v.no("inbound allow rule %q port %s from %s, not within management_cidrs", r.Name, ports, strings.Join(r.RemoteAddrs, ","))
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

// addrsWithin reports whether every remote address of a rule lies in one of
// the prefixes: an address, a subnet (prefix length or dotted mask) or a
// range "a-b" whose both ends fall in the same prefix. A keyword
// (LocalSubnet, DNS, IntErnet, ...) cannot be proven within and is not.
func addrsWithin(addrs []string, within []netip.Prefix) bool {
	inside := func(a netip.Addr, bits int) bool {
		for _, p := range within {
			if p.Contains(a.Unmap()) && p.Bits() <= bits {
				return true
			}
		}
		return false
	}
	for _, s := range addrs {
		if lo, hi, ok := strings.Cut(s, "-"); ok {
			a, err1 := netip.ParseAddr(lo)
			b, err2 := netip.ParseAddr(hi)
			if err1 != nil || err2 != nil || !sameInside(a, b, within) {
				return false
			}
			continue
		}
		p, err := parseSubnet(s)
		if err != nil || !inside(p.Addr(), p.Bits()) {
			return false
		}
	}
	return true
}

// sameInside reports whether a and b fall in one of the prefixes.
func sameInside(a, b netip.Addr, within []netip.Prefix) bool {
	for _, p := range within {
		if p.Contains(a.Unmap()) && p.Contains(b.Unmap()) {
			return true
		}
	}
	return false
}

// parseSubnet parses "10.0.0.1", "10.0.9.0/24", "10.0.9.0/255.255.255.0" or
// an IPv6 address or prefix.
func parseSubnet(s string) (netip.Prefix, error) {
	addr, mask, ok := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	if !ok {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	if bits, err := strconv.Atoi(mask); err == nil {
		return a.Prefix(bits)
	}
	m, err := netip.ParseAddr(mask)
	if err != nil || !m.Is4() {
		return netip.Prefix{}, fmt.Errorf("subnet %q: bad mask", s)
	}
	mb := m.As4()
	ones, _ := net.IPv4Mask(mb[0], mb[1], mb[2], mb[3]).Size()
	if ones == 0 && mb != [4]byte{} {
		return netip.Prefix{}, fmt.Errorf("subnet %q: mask not contiguous", s)
	}
	return a.Prefix(ones)
}
