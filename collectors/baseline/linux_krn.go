package baseline

import (
	"fmt"
	"strconv"
	"strings"
)

// sysctlRule is an expected sysctl value: exact (want) or at least (min).
type sysctlRule struct {
	name     string
	want     int
	atLeast  bool
	optional bool // absent when the feature is not built (IPv6)
}

// checkSysctls evaluates rules against the running value (/proc/sys) and
// the value persisted for the next boot (sysctl.d, systemd-sysctl order).
// Both must be right; a difference between them is reported as drift.
func checkSysctls(e *env, rules []sysctlRule) outcome {
	var v verdict
	procSys := e.root.Exists("proc", "sys", "kernel")
	for _, r := range rules {
		op := "="
		if r.atLeast {
			op = "≥"
		}
		want := fmt.Sprintf("want %s %d", op, r.want)
		good := func(s string) bool {
			n, err := strconv.Atoi(strings.Fields(s + " x")[0])
			return err == nil && (n == r.want || (r.atLeast && n >= r.want))
		}
		run, okRun, err := e.sysctlRunning(r.name)
		if err != nil {
			v.err(err)
			continue
		}
		boot, okBoot := e.sysctlBoot(r.name)
		switch {
		case !okRun && !procSys:
			if !okBoot {
				v.errs = append(v.errs, r.name+": /proc/sys not readable and not set in sysctl.d")
				continue
			}
			v.check(good(boot.Value), "%s = %s (persisted at %s; /proc/sys not available; %s)", r.name, boot.Value, boot.Where, want)
		case !okRun:
			if !r.optional {
				v.no("%s not available (feature not built into the kernel)", r.name)
			}
		case !good(run):
			ev := fmt.Sprintf("%s = %s running (%s)", r.name, run, want)
			if okBoot && boot.Value != run {
				ev += fmt.Sprintf("; drift: %s persists %s", boot.Where, boot.Value)
			}
			v.no("%s", ev)
		case okBoot && !good(boot.Value):
			v.no("%s = %s running, but %s persists %s: drift, the next boot applies it (%s)", r.name, run, boot.Where, boot.Value, want)
		case okBoot:
			v.ok("%s = %s running and persisted (%s)", r.name, run, boot.Where)
		default:
			v.ok("%s = %s running (not persisted in sysctl.d: a runtime or kernel default value)", r.name, run)
		}
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
	if src != "running" {
		src = "persisted at " + src
	}
	v6, _, ok6 := e.sysctl("net.ipv6.conf.all.forwarding")
	if !ok4 {
		return errOut("net.ipv4.ip_forward not readable (/proc/sys/net/ipv4/ip_forward) and not set in sysctl.d")
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

// networkSysctls is LNX-KRN-006: router advertisements ignored, martians
// logged, ICMP broadcasts and bogus errors ignored, secure redirects off,
// reverse-path filtering for new interfaces.
func networkSysctls(e *env) outcome {
	return checkSysctls(e, []sysctlRule{
		{name: "net.ipv4.conf.all.log_martians", want: 1},
		{name: "net.ipv4.conf.default.log_martians", want: 1},
		{name: "net.ipv4.icmp_echo_ignore_broadcasts", want: 1},
		{name: "net.ipv4.icmp_ignore_bogus_error_responses", want: 1},
		{name: "net.ipv4.conf.all.secure_redirects", want: 0},
		{name: "net.ipv4.conf.default.secure_redirects", want: 0},
		{name: "net.ipv4.conf.default.rp_filter", want: 1, atLeast: true},
		{name: "net.ipv6.conf.all.accept_ra", want: 0, optional: true},
		{name: "net.ipv6.conf.default.accept_ra", want: 0, optional: true},
	})
}

// coreDumps is LNX-KRN-007: core dumps off: a hard core limit of 0 for all
// users (limits.conf, limits.d), fs.suid_dumpable 0 and, when the kernel
// pipes cores to systemd-coredump, Storage=none and ProcessSizeMax=0.
func coreDumps(e *env) outcome {
	var v verdict
	limit, where := "", ""
	files := []string{"etc/security/limits.conf"}
	files = append(files, e.root.Glob("etc/security/limits.d/*.conf")...)
	for _, f := range files {
		b, err := e.root.ReadRel(f)
		if err != nil {
			if !isNotExist(err) {
				v.err(err)
			}
			continue
		}
		for _, l := range lines(b) {
			x := strings.Fields(l)
			if len(x) >= 4 && x[0] == "*" && (x[1] == "hard" || x[1] == "-") && x[2] == "core" {
				limit, where = x[3], "/"+f
			}
		}
	}
	v.check(limit == "0", "hard core limit for * = %s (%s)", orNone(limit), orNone(where))
	o := checkSysctls(e, []sysctlRule{{name: "fs.suid_dumpable", want: 0}})
	if o.state == StateFail {
		v.bad = append(v.bad, o.evidence...)
	} else if o.state == StateError {
		v.errs = append(v.errs, o.evidence...)
	} else {
		v.good = append(v.good, o.evidence...)
	}
	pattern, _, _ := e.sysctl("kernel.core_pattern")
	if strings.Contains(pattern, "systemd-coredump") {
		conf := map[string]string{}
		for _, f := range append([]string{"etc/systemd/coredump.conf"}, e.root.Glob("etc/systemd/coredump.conf.d/*.conf")...) {
			if b, err := e.root.ReadRel(f); err == nil {
				for k, val := range parseKeyValues(b) {
					conf[k] = val
				}
			}
		}
		v.check(strings.EqualFold(conf["Storage"], "none"), "kernel.core_pattern pipes to systemd-coredump; Storage=%s (/etc/systemd/coredump.conf)", orNone(conf["Storage"]))
		v.check(conf["ProcessSizeMax"] == "0", "systemd-coredump ProcessSizeMax=%s", orNone(conf["ProcessSizeMax"]))
	}
	return v.outcome()
}
