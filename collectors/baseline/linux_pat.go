package baseline

import (
	"strings"
	"time"
)

// eolEntry is the end of (free) vendor support of one release.
type eolEntry struct {
	ID      string // os-release ID
	Version string // VERSION_ID prefix
	End     string // YYYY-MM-DD
}

// eolTable lists end-of-support dates (standard or free LTS support; paid
// extended support must be shown by an exemption). Sources: vendor lifecycle
// pages as of 2026.
func eolTable() []eolEntry {
	return []eolEntry{
		{"debian", "8", "2020-06-30"}, {"debian", "9", "2022-06-30"}, {"debian", "10", "2024-06-30"},
		{"debian", "11", "2026-08-31"}, {"debian", "12", "2028-06-30"}, {"debian", "13", "2030-06-30"},
		{"ubuntu", "14.04", "2019-04-30"}, {"ubuntu", "16.04", "2021-04-30"}, {"ubuntu", "18.04", "2023-05-31"},
		{"ubuntu", "20.04", "2025-05-31"}, {"ubuntu", "22.04", "2027-06-01"}, {"ubuntu", "24.04", "2029-05-31"},
		{"centos", "6", "2020-11-30"}, {"centos", "7", "2024-06-30"}, {"centos", "8", "2024-05-31"}, {"centos", "9", "2027-05-31"},
		{"rhel", "6", "2020-11-30"}, {"rhel", "7", "2024-06-30"}, {"rhel", "8", "2029-05-31"}, {"rhel", "9", "2032-05-31"}, {"rhel", "10", "2035-05-31"},
		{"rocky", "8", "2029-05-31"}, {"rocky", "9", "2032-05-31"}, {"almalinux", "8", "2029-05-31"}, {"almalinux", "9", "2032-05-31"},
		{"openEuler", "20.03", "2024-05-31"}, {"openEuler", "22.03", "2026-03-31"}, {"openEuler", "24.03", "2028-05-31"},
		{"raspbian", "10", "2024-06-30"}, {"raspbian", "11", "2026-08-31"}, {"raspbian", "12", "2028-06-30"},
		{"kylin", "V10", "2030-12-31"}, {"uos", "20", "2029-12-31"},
	}
}

// lookupEOL finds the end of support for an os-release ID and VERSION_ID.
func lookupEOL(id, version string) (time.Time, bool) {
	for _, x := range eolTable() {
		if strings.EqualFold(x.ID, id) && (version == x.Version || strings.HasPrefix(version, x.Version+".")) {
			t, err := time.Parse(time.DateOnly, x.End)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// osSupported is LNX-PAT-001: the release is not past end of support.
func osSupported(e *env) outcome {
	b, err := e.read("etc", "os-release")
	if err != nil && isNotExist(err) {
		b, err = e.read("usr", "lib", "os-release")
	}
	if err != nil {
		return errFrom(err)
	}
	kv := parseKeyValues(b)
	id, ver := kv["ID"], kv["VERSION_ID"]
	ev := "os-release ID=" + id + " VERSION_ID=" + ver
	end, ok := lookupEOL(id, ver)
	if !ok {
		return errOut(ev, "release not in the agent's end-of-support table")
	}
	if e.now.After(end.Add(24 * time.Hour)) {
		return fail(ev, "end of support "+end.Format(time.DateOnly))
	}
	return pass(ev, "supported until "+end.Format(time.DateOnly))
}

// patchesSigned is LNX-PAT-002: gpgcheck on, no unauthenticated apt
// sources, no security update pending in the local package lists, and a
// package upgrade (not an install) within patch_window_days.
func patchesSigned(e *env) outcome {
	var v verdict
	if b, err := e.readOptional("etc", "dnf", "dnf.conf"); err == nil && b != nil {
		g := parseKeyValues(b)["gpgcheck"]
		v.check(g == "1" || g == "True" || g == "true", "/etc/dnf/dnf.conf gpgcheck=%s", orNone(g))
	}
	if b, err := e.readOptional("etc", "yum.conf"); err == nil && b != nil {
		if g, ok := parseKeyValues(b)["gpgcheck"]; ok {
			v.check(g == "1", "/etc/yum.conf gpgcheck=%s", g)
		}
	}
	repos, _ := e.readGlob("etc/yum.repos.d/*.repo")
	for _, k := range sortedKeys(repos) {
		for _, l := range lines(repos[k]) {
			if strings.ReplaceAll(l, " ", "") == "gpgcheck=0" {
				v.no("/%s: gpgcheck=0", k)
			}
		}
	}
	apt, _ := e.readGlob("etc/apt/sources.list.d/*")
	if b, err := e.readOptional("etc", "apt", "sources.list"); err == nil && b != nil {
		apt["etc/apt/sources.list"] = b
	}
	for _, k := range sortedKeys(apt) {
		for _, l := range lines(apt[k]) {
			if strings.Contains(l, "trusted=yes") || strings.Contains(l, "Trusted: yes") {
				v.no("/%s: %s", k, l)
			}
		}
	}
	conf, _ := e.readGlob("etc/apt/apt.conf.d/*")
	for _, k := range sortedKeys(conf) {
		for _, l := range lines(conf[k]) {
			if strings.Contains(l, "AllowUnauthenticated") && strings.Contains(strings.ToLower(l), "true") {
				v.no("/%s: %s", k, l)
			}
		}
	}
	if len(v.bad) > 0 {
		return v.outcome()
	}
	v.ok("package signatures enforced")
	if !e.root.Exists("var", "lib", "dpkg", "status") && !e.root.Exists("var", "lib", "rpm") {
		return errOut(append(v.good, "no package database (/var/lib/dpkg/status, /var/lib/rpm)")...)
	}
	last, where := e.lastUpgrade()
	pending, lists, listAge := e.pendingSecurity()
	if len(lists) > 0 {
		if len(pending) > 0 {
			shown := pending
			if len(shown) > 10 {
				shown = append(shown[:10:10], "…")
			}
			v.no("%d security updates pending in %s (fetched %d days ago): %s", len(pending), joinList(lists), days(listAge), joinList(shown))
		} else {
			v.ok("no pending security update in %s (fetched %d days ago)", joinList(lists), days(listAge))
		}
	} else {
		v.ok("no security package list (/var/lib/apt/lists/*security*_Packages) to compare with")
	}
	if last.IsZero() {
		v.no("no package upgrade recorded (/var/log/apt/history.log, /var/log/dpkg.log, /var/log/dnf.rpm.log); installs are not upgrades")
		return v.outcome()
	}
	age := max(e.now.Sub(last), 0)
	upg := "last package upgrade " + last.Format(time.DateOnly) + ", " + itoa(days(age)) + " days ago (" + where + ")"
	if e.site.PatchWindowDays == 0 {
		if len(v.bad) > 0 {
			return v.outcome()
		}
		return notConfigured("patch_window_days", append(v.good, upg)...)
	}
	v.check(days(age) <= e.site.PatchWindowDays, "%s; patch_window_days %d", upg, e.site.PatchWindowDays)
	return v.outcome()
}
