package baseline

import "strings"

// timeSync is LNX-TIM-001: exactly one time-sync daemon, its sources all in
// site_policy.ntp_servers. (Offset and leap status need the daemon's runtime
// state, which is not read.)
func timeSync(e *env) outcome {
	type daemon struct{ proc, unit string }
	var active []string
	for _, d := range []daemon{{"chronyd", "chrony"}, {"ntpd", "ntp"}, {"systemd-timesyn", "systemd-timesyncd"}, {"ntpsec", "ntpsec"}} {
		_, run := e.running(d.proc)
		if run || e.unitEnabled(d.unit+".service") || (d.unit == "chrony" && e.unitEnabled("chronyd.service")) || (d.unit == "ntp" && e.unitEnabled("ntpd.service")) {
			active = append(active, d.unit)
		}
	}
	if len(active) == 0 {
		return fail("no time synchronisation daemon enabled or running (chrony, ntp, systemd-timesyncd)")
	}
	if len(active) > 1 {
		return fail("several time daemons: " + joinList(active))
	}
	var sources []string
	read := func(elem ...string) {
		b, err := e.readOptional(elem...)
		if err != nil || b == nil {
			return
		}
		for _, l := range lines(b) {
			f := strings.Fields(l)
			if len(f) >= 2 && (f[0] == "server" || f[0] == "pool" || f[0] == "peer") {
				sources = append(sources, f[1])
			}
			if strings.HasPrefix(l, "NTP=") {
				sources = append(sources, strings.Fields(strings.TrimPrefix(l, "NTP="))...)
			}
		}
	}
	switch active[0] {
	case "chrony":
		read("etc", "chrony", "chrony.conf")
		read("etc", "chrony.conf")
		files, _ := e.readGlob("etc/chrony/sources.d/*.sources")
		for _, k := range sortedKeys(files) {
			read(strings.Split(k, "/")...)
		}
	case "ntp", "ntpsec":
		read("etc", "ntp.conf")
		read("etc", "ntpsec", "ntp.conf")
	case "systemd-timesyncd":
		read("etc", "systemd", "timesyncd.conf")
		files, _ := e.readGlob("etc/systemd/timesyncd.conf.d/*.conf")
		for _, k := range sortedKeys(files) {
			read(strings.Split(k, "/")...)
		}
	}
	ev := []string{"daemon " + active[0], "sources " + joinList(sources)}
	if len(sources) == 0 {
		return fail(append(ev, "no time source configured (distribution default pool)")...)
	}
	if len(e.site.NTPServers) == 0 {
		return notConfigured("ntp_servers", ev...)
	}
	for _, s := range sources {
		if !containsFold(e.site.NTPServers, s) {
			return fail(append(ev, s+" is not in ntp_servers")...)
		}
	}
	return pass(ev...)
}
