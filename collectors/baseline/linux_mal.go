package baseline

import (
	"strings"
	"time"
)

// defaultAVProducts are anti-malware / host-guard processes recognised when
// site_policy.av_products is empty.
func defaultAVProducts() []string {
	return []string{"clamd", "falcon-sensor", "ds_agent", "esets_daemon", "savd", "wdavdaemon", "sentinelone", "qaxsafed", "hostguard"}
}

// antiMalware is LNX-MAL-001: a listed product running; ClamAV signatures no
// older than av_signature_max_days.
func antiMalware(e *env) outcome {
	products := e.site.AVProducts
	if len(products) == 0 {
		products = defaultAVProducts()
	}
	if _, err := e.procs(); err != nil {
		return errFrom(err)
	}
	ev, ok := e.running(products...)
	if !ok {
		return fail("none of " + joinList(products) + " running")
	}
	if !strings.Contains(ev, "clamd") {
		return pass(ev)
	}
	var newest time.Duration
	found := false
	for _, p := range e.root.Glob("var/lib/clamav/*.c[lv]d") {
		if a, ok := e.fileAge(strings.Split(p, "/")...); ok && (!found || a < newest) {
			newest, found = a, true
		}
	}
	if !found {
		return fail(ev, "no ClamAV signature database in var/lib/clamav")
	}
	d := days(newest)
	if d > e.site.AVSignatureMaxDays {
		return fail(ev, "signatures "+itoa(d)+" days old (limit "+itoa(e.site.AVSignatureMaxDays)+")")
	}
	return pass(ev, "signatures "+itoa(d)+" days old")
}

// fileIntegrity is LNX-MAL-002: AIDE installed, database initialised and a
// periodic check scheduled.
func fileIntegrity(e *env) outcome {
	var v verdict
	ev, inst := e.installed("aide")
	v.check(inst, "aide installed: %s", orNone(ev))
	if !inst {
		return v.outcome()
	}
	db := len(e.root.Glob("var/lib/aide/aide.db*")) > 0
	v.check(db, "AIDE database initialised (/var/lib/aide/aide.db): %t", db)
	sched := e.root.Exists("etc", "cron.daily", "aide") || e.root.Exists("etc", "cron.daily", "dailyaidecheck") ||
		e.unitEnabled("dailyaidecheck.timer") || e.unitEnabled("aidecheck.timer")
	if !sched {
		files, _ := e.readGlob("etc/cron.d/*")
		if b, err := e.readOptional("etc", "crontab"); err == nil && b != nil {
			files["etc/crontab"] = b
		}
		for _, b := range files {
			for _, l := range lines(b) {
				if strings.Contains(l, "aide") {
					sched = true
				}
			}
		}
	}
	v.check(sched, "periodic AIDE check scheduled: %t", sched)
	return v.outcome()
}

// appAllowlisting is LNX-MAL-003: fapolicyd running, not permissive, with a
// final deny-execute rule.
func appAllowlisting(e *env) outcome {
	var v verdict
	ev, run := e.running("fapolicyd")
	v.check(run, "fapolicyd running: %s", orNone(ev))
	if !run {
		return v.outcome()
	}
	if b, err := e.read("etc", "fapolicyd", "fapolicyd.conf"); err == nil {
		p := parseKeyValues(b)["permissive"]
		v.check(p == "0", "permissive = %s (/etc/fapolicyd/fapolicyd.conf)", orNone(p))
	} else {
		v.err(err)
	}
	files, errs := e.readGlob("etc/fapolicyd/rules.d/*.rules")
	if b, err := e.readOptional("etc", "fapolicyd", "fapolicyd.rules"); err == nil && b != nil {
		files["etc/fapolicyd/fapolicyd.rules"] = b
	}
	for _, err := range errs {
		v.err(err)
	}
	last := ""
	for _, k := range sortedKeys(files) {
		if ls := lines(files[k]); len(ls) > 0 {
			last = ls[len(ls)-1]
		}
	}
	v.check(strings.HasPrefix(last, "deny") && strings.Contains(last, "perm=execute") && strings.HasSuffix(last, "all : all"), "final rule %q", last)
	return v.outcome()
}
