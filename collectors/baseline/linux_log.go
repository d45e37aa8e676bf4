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

// auditRules is LNX-LOG-002: audit rules watch the account files, sudoers,
// login records and privileged commands.
func auditRules(e *env) outcome {
	files, errs := e.readGlob("etc/audit/rules.d/*.rules")
	if b, err := e.readOptional("etc", "audit", "audit.rules"); err == nil && b != nil {
		files["etc/audit/audit.rules"] = b
	} else if err != nil {
		errs = append(errs, err)
	}
	if len(files) == 0 {
		if len(errs) > 0 {
			return errFrom(errs[0])
		}
		return fail("no audit rules (etc/audit/rules.d, etc/audit/audit.rules)")
	}
	var all strings.Builder
	for _, k := range sortedKeys(files) {
		all.Write(files[k])
		all.WriteByte('\n')
	}
	text := all.String()
	var v verdict
	for _, w := range []string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers"} {
		v.check(strings.Contains(text, "-w "+w) || strings.Contains(text, "path="+w), "watch %s", w)
	}
	v.check(strings.Contains(text, "/var/log/lastlog") || strings.Contains(text, "/var/run/faillock") || strings.Contains(text, "/var/log/faillog"), "watch login records (lastlog/faillock)")
	v.check(strings.Contains(text, "execve") || strings.Contains(text, "privileged"), "privileged command execution audited")
	for _, err := range errs {
		v.err(err)
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
		v.check(strings.EqualFold(kv["max_log_file_action"], "keep_logs"), "auditd max_log_file_action %s", orNone(kv["max_log_file_action"]))
		sla := kv["space_left_action"]
		v.check(sla != "" && !strings.EqualFold(sla, "ignore"), "auditd space_left_action %s", orNone(sla))
	} else if isNotExist(err) {
		v.no("etc/audit/auditd.conf not found")
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
	v.check(persistent, "journald Storage=%s", storage)
	if b, err := e.readOptional("etc", "logrotate.conf"); err == nil && b != nil {
		d := logrotateDays(b)
		v.check(d >= 180, "logrotate default retention %d days", d)
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
// systemd-journal-upload is enabled).
func logForwarding(e *env) outcome {
	files, errs := e.readGlob("etc/rsyslog.d/*.conf")
	if b, err := e.readOptional("etc", "rsyslog.conf"); err == nil && b != nil {
		files["etc/rsyslog.conf"] = b
	} else if err != nil {
		errs = append(errs, err)
	}
	var targets []string
	for _, k := range sortedKeys(files) {
		for _, l := range lines(files[k]) {
			if i := strings.Index(l, "@"); i >= 0 && !strings.HasPrefix(l, "$") {
				t := strings.TrimLeft(l[i:], "@")
				t = strings.TrimPrefix(t, "(o)")
				t = strings.Fields(t + " ")[0]
				host, _, _ := strings.Cut(strings.Trim(t, "[]"), ":")
				targets = append(targets, host)
			}
			if strings.Contains(l, "omfwd") {
				if i := strings.Index(l, "target="); i >= 0 {
					t := strings.Trim(strings.Fields(l[i+7:] + " ")[0], `"`)
					targets = append(targets, strings.TrimRight(t, `")`))
				}
			}
		}
	}
	if e.unitEnabled("systemd-journal-upload.service") {
		if b, err := e.readOptional("etc", "systemd", "journal-upload.conf"); err == nil && b != nil {
			if u := parseKeyValues(b)["URL"]; u != "" {
				host := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
				host, _, _ = strings.Cut(host, ":")
				targets = append(targets, host)
			}
		}
	}
	if len(targets) == 0 {
		if len(errs) > 0 {
			return errFrom(errs[0])
		}
		return fail("no log forwarding (rsyslog @/@@/omfwd, systemd-journal-upload)")
	}
	ev := "forwarding to " + joinList(targets)
	if len(e.site.LogCollectors) == 0 {
		return notConfigured("log_collectors", ev)
	}
	for _, t := range targets {
		if containsFold(e.site.LogCollectors, t) {
			return pass(ev, t+" is a listed collector")
		}
	}
	return fail(ev, "none is in log_collectors")
}
