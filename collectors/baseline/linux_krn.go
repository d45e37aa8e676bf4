package baseline

import "strconv"

// sysctlRule is an expected sysctl value: exact (want) or at least (min).
type sysctlRule struct {
	name     string
	want     int
	atLeast  bool
	optional bool // absent when the feature is not built (IPv6)
}

// checkSysctls evaluates rules against running (or configured) values.
func checkSysctls(e *env, rules []sysctlRule) outcome {
	var v verdict
	for _, r := range rules {
		val, src, ok := e.sysctl(r.name)
		if !ok {
			switch {
			case !e.root.Exists("proc", "sys", "kernel"):
				v.errs = append(v.errs, r.name+": proc/sys not readable and not configured in sysctl.d")
			case !r.optional:
				v.no("%s not available (feature not built into the kernel)", r.name)
			}
			continue
		}
		n, err := strconv.Atoi(val)
		good := err == nil && (n == r.want || (r.atLeast && n >= r.want))
		op := "="
		if r.atLeast {
			op = "≥"
		}
		v.check(good, "%s = %s (%s; want %s %d)", r.name, val, src, op, r.want)
	}
	return v.outcome()
}

// kernelMemory is LNX-KRN-001.
func kernelMemory(e *env) outcome {
	return checkSysctls(e, []sysctlRule{
		{name: "kernel.randomize_va_space", want: 2},
		{name: "kernel.yama.ptrace_scope", want: 1, atLeast: true},
		{name: "fs.suid_dumpable", want: 0},
		{name: "kernel.kptr_restrict", want: 1, atLeast: true},
		{name: "kernel.dmesg_restrict", want: 1},
	})
}

// networkStack is LNX-KRN-002.
func networkStack(e *env) outcome {
	return checkSysctls(e, []sysctlRule{
		{name: "net.ipv4.conf.all.accept_redirects", want: 0},
		{name: "net.ipv4.conf.default.accept_redirects", want: 0},
		{name: "net.ipv4.conf.all.send_redirects", want: 0},
		{name: "net.ipv4.conf.default.send_redirects", want: 0},
		{name: "net.ipv4.conf.all.accept_source_route", want: 0},
		{name: "net.ipv4.conf.default.accept_source_route", want: 0},
		{name: "net.ipv4.conf.all.rp_filter", want: 1, atLeast: true},
		{name: "net.ipv4.tcp_syncookies", want: 1},
		{name: "net.ipv6.conf.all.accept_redirects", want: 0, optional: true},
		{name: "net.ipv6.conf.default.accept_redirects", want: 0, optional: true},
		{name: "net.ipv6.conf.all.accept_source_route", want: 0, optional: true},
	})
}

// noForwarding is LNX-KRN-003: forwarding off, or a gateway / declared
// router whose firewall drops forwarded traffic by default.
func noForwarding(e *env) outcome {
	v4, src, ok4 := e.sysctl("net.ipv4.ip_forward")
	v6, _, ok6 := e.sysctl("net.ipv6.conf.all.forwarding")
	if !ok4 {
		return errOut("net.ipv4.ip_forward not readable (proc/sys/net/ipv4/ip_forward) and not configured")
	}
	fwd := v4 == "1" || (ok6 && v6 == "1")
	ev := []string{"net.ipv4.ip_forward = " + v4 + " (" + src + ")"}
	if ok6 {
		ev = append(ev, "net.ipv6.conf.all.forwarding = "+v6)
	}
	if !fwd {
		return pass(ev...)
	}
	if e.role == RoleGateway || e.site.RouterRole {
		for _, f := range e.firewalls() {
			if f.Enabled && f.forwardDrop() {
				return pass(append(ev, "role "+e.role+": "+f.Name+" forward policy drop")...)
			}
		}
		return fail(append(ev, "role "+e.role+" forwards but no firewall drops forwarded traffic by default")...)
	}
	return fail(append(ev, "role "+e.role+" must not forward (declare router_role or role gateway)")...)
}
