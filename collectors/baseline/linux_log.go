package baseline

import (
	"strings"
)

// auditDaemon is LNX-LOG-001: auditd active and audit=1 on the kernel
// command line.
func auditDaemon(e *env) outcome {
	var v verdict
	if _, err := e.procs(); err != nil {
		v.err(err)
	}
	ev, run := e.running("auditd")
	if !run && e.unitEnabled("auditd.service") {
		ev, run = "auditd.service enabled (process list not readable)", len(e.root.Glob("proc/[0-9]*")) == 0
	}
	if run || len(v.errs) == 0 {
		v.check(run, "auditd running: %s", orNone(ev))
	}
	b, err := e.read("proc", "cmdline")
	if err != nil {
		v.err(err)
	} else {
		on := false
		for _, f := range strings.Fields(string(b)) {
			if f == "audit=1" {
				on = true
			}
		}
		v.check(on, "kernel command line audit=1: %t", on)
	}
	return v.outcome()
}

// auditRules is LNX-LOG-002: the loaded audit rules watch the account
// files, sudoers and login records, and audit privileged command execution.
func auditRules(e *env) outcome {
	o := auditRequire(e, nil, [][]string{{"/etc/passwd"}, {"/etc/shadow"}, {"/etc/group"}, {"/etc/gshadow"}, {"/etc/sudoers"},
		{"/var/log/lastlog", "/var/run/faillock", "/run/faillock", "/var/log/faillog"}})
	if o.state == StateError || len(o.evidence) > 0 && strings.HasPrefix(o.evidence[0], "no audit rules") {
		return o
	}
	s, _ := e.auditRules()
	priv := ""
	for _, r := range s.Rules {
		if r.Action == "never" {
			continue
		}
		if contains(r.Syscalls, "execve") || (r.Path != "" && strings.Contains(r.Perms, "x")) {
			priv = r.Where
			break
		}
	}
	if priv == "" {
		o.state = StateFail
		o.evidence = append([]string{"no loaded rule audits command execution (execve or -p x / perm=x)"}, o.evidence...)
	} else {
		o.evidence = append(o.evidence, "command execution audited by "+priv)
	}
	return o
}

// auditModules is LNX-LOG-005: kernel module loading and unloading audited.
func auditModules(e *env) outcome {
	return auditRequire(e, []string{"init_module", "finit_module", "delete_module"}, nil)
}

// auditTime is LNX-LOG-006: changes of the system time and time zone
// audited.
func auditTime(e *env) outcome {
	return auditRequire(e, []string{"adjtimex", "settimeofday", "clock_settime"}, [][]string{{"/etc/localtime"}})
}

// auditNetwork is LNX-LOG-007: changes of the host name, hosts file and
// network configuration audited.
func auditNetwork(e *env) outcome {
	return auditRequire(e, []string{"sethostname", "setdomainname"}, [][]string{{"/etc/hosts"},
		{"/etc/network/interfaces", "/etc/network", "/etc/sysconfig/network", "/etc/NetworkManager", "/etc/netplan", "/etc/systemd/network"}})
}

// auditImmutable is LNX-LOG-008: the rule set ends with -e 2, so the
// audit configuration cannot be changed until reboot.
func auditImmutable(e *env) outcome {
	s, errs := e.auditRules()
	if len(s.Files) == 0 {
		if len(errs) > 0 {
			return errFrom(errs[0])
		}
		return fail("no audit rules (/etc/audit/rules.d/*.rules, /etc/audit/audit.rules)")
	}
	ev := "rules read: " + joinList(s.Files)
	if s.Enabled == "2" {
		return pass("final -e 2 (immutable until reboot)", ev)
	}
	return fail("audit configuration not immutable: final -e "+orNone(s.Enabled)+" (want -e 2)", ev)
}

// auditDiskFull is LNX-LOG-009: auditd acts when its disk fills: no
// space_left_action, admin_space_left_action, disk_full_action or
// disk_error_action that ignores the condition, suspends auditing or only
// logs it.
func auditDiskFull(e *env) outcome {
	b, err := e.read("etc", "audit", "auditd.conf")
	if err != nil {
		if isNotExist(err) {
			return fail("/etc/audit/auditd.conf not found (auditd not configured)")
		}
		return errFrom(err)
	}
	kv := map[string]string{}
	for k, v := range parseKeyValues(b) {
		kv[strings.ToLower(k)] = strings.ToLower(v)
	}
	var v verdict
	// auditd's defaults when a key is absent
	def := map[string]string{"space_left_action": "ignore", "admin_space_left_action": "ignore", "disk_full_action": "ignore", "disk_error_action": "syslog"}
	want := map[string][]string{
		"space_left_action":       {"email", "exec", "single", "halt"},
		"admin_space_left_action": {"exec", "single", "halt"},
		"disk_full_action":        {"exec", "single", "halt"},
		"disk_error_action":       {"exec", "single", "halt"},
	}
	for _, k := range []string{"space_left_action", "admin_space_left_action", "disk_full_action", "disk_error_action"} {
		val, set := kv[k]
		if !set {
			val = def[k]
		}
		val = strings.Fields(val + " ")[0]
		src := "/etc/audit/auditd.conf"
		if !set {
			src = "auditd default"
		}
		v.check(contains(want[k], val), "%s = %s (%s; want %s)", k, val, src, strings.Join(want[k], "|"))
	}
	return v.outcome()
}

// logRetention is LNX-LOG-003: auditd keeps logs and does not ignore low
// space; journald is persistent; logrotate keeps ≥ 180 days — or central
// retention ≥ 180 days is declared and logs are forwarded (LNX-LOG-004).
func logRetention(e *env) outcome {
	if e.site.CentralLogRetentionDays >= 180 {
		if f := logForwarding(e); f.state == StatePass {
			return pass(append([]string{"central retention declared: " + itoa(e.site.CentralLogRetentionDays) + " days"}, f.evidence...)...)
		}
	}
	var v verdict
	if b, err := e.read("etc", "audit", "auditd.conf"); err == nil {
		kv := parseKeyValues(b)
		v.check(strings.EqualFold(kv["max_log_file_action"], "keep_logs"), "max_log_file_action %s (/etc/audit/auditd.conf)", orNone(kv["max_log_file_action"]))
		sla := kv["space_left_action"]
		v.check(sla != "" && !strings.EqualFold(sla, "ignore"), "space_left_action %s (/etc/audit/auditd.conf)", orNone(sla))
	} else if isNotExist(err) {
		v.no("/etc/audit/auditd.conf not found")
	} else {
		v.err(err)
	}
	storage := "auto"
	if b, err := e.readOptional("etc", "systemd", "journald.conf"); err == nil {
		if s, ok := parseKeyValues(b)["Storage"]; ok {
			storage = s
		}
	}
	drop, _ := e.readGlob("etc/systemd/journald.conf.d/*.conf")
	for _, k := range sortedKeys(drop) {
		if s, ok := parseKeyValues(drop[k])["Storage"]; ok {
			storage = s
		}
	}
	persistent := storage == "persistent" || (storage == "auto" && e.root.Exists("var", "log", "journal"))
	v.check(persistent, "journald Storage=%s (/etc/systemd/journald.conf and journald.conf.d)", storage)
	if b, err := e.readOptional("etc", "logrotate.conf"); err == nil && b != nil {
		d := logrotateDays(b)
		v.check(d >= 180, "logrotate default retention %d days (/etc/logrotate.conf)", d)
	} else if err != nil {
		v.err(err)
	}
	return v.outcome()
}

// logrotateDays returns rotate × period (days) of the global logrotate
// settings (before the first block).
func logrotateDays(b []byte) int {
	period, rotate := 7, 0
	for _, l := range lines(b) {
		if strings.Contains(l, "{") {
			break
		}
		f := strings.Fields(l)
		switch f[0] {
		case "daily":
			period = 1
		case "weekly":
			period = 7
		case "monthly":
			period = 30
		case "yearly":
			period = 365
		case "rotate":
			if len(f) > 1 {
				rotate = atoiOr(f[1], 0)
			}
		}
	}
	return period * rotate
}

// logForwarding is LNX-LOG-004: rsyslog forwards to a listed collector (or
// systemd-journal-upload is enabled with one).
func logForwarding(e *env) outcome {
	var targets []string
	var ev []string
	ts, files, err := rsyslogForwarding(e.readAbs, absGlob(e.root), "/etc/rsyslog.conf")
	if err != nil && !isNotExist(err) {
		return errFrom(err)
	}
	if len(files) > 0 {
		ev = append(ev, "rsyslog configuration read: "+joinList(files))
	}
	for _, t := range ts {
		targets = append(targets, t.Host)
		ev = append(ev, t.Proto+" forwarding to "+t.Host+" ("+t.Where+")")
	}
	if e.unitEnabled("systemd-journal-upload.service") {
		if b, err := e.readOptional("etc", "systemd", "journal-upload.conf"); err == nil && b != nil {
			if u := parseKeyValues(b)["URL"]; u != "" {
				host := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
				host, _, _ = strings.Cut(host, ":")
				targets = append(targets, host)
				ev = append(ev, "systemd-journal-upload to "+u+" (/etc/systemd/journal-upload.conf)")
			}
		}
	}
	if len(targets) == 0 {
		return fail(append(ev, "no log forwarding (rsyslog @/@@/omfwd/omrelp action, systemd-journal-upload)")...)
	}
	if len(e.site.LogCollectors) == 0 {
		return notConfigured("log_collectors", ev...)
	}
	for _, t := range targets {
		if containsFold(e.site.LogCollectors, t) {
			return pass(append(ev, t+" is a listed collector")...)
		}
	}
	return fail(append(ev, "none is in log_collectors")...)
}
