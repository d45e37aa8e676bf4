package baseline

import "strings"

// timeSync is LNX-TIM-001: exactly one time-sync daemon, its sources all in
// site_policy.ntp_servers. (Offset and leap status need the daemon's runtime
// state, which is not read.)
func timeSync(e *env) outcome {
	type daemon struct {
		proc  string
		units []string
		name  string
	}
	_, perr := e.procs()
	procOK := perr == nil
	var enabled, running, ev []string
	for _, d := range []daemon{{"chronyd", []string{"chrony", "chronyd"}, "chrony"}, {"ntpd", []string{"ntp", "ntpd", "ntpsec"}, "ntp"}, {"systemd-timesyn", []string{"systemd-timesyncd"}, "systemd-timesyncd"}} {
		en := false
		for _, u := range d.units {
			en = en || e.unitEnabled(u+".service")
		}
		_, run := e.running(append([]string{d.proc}, d.units...)...)
		if en {
			enabled = append(enabled, d.name)
		}
		if run {
			running = append(running, d.name)
		}
		if en || run {
			r := "unknown (no process list)"
			if procOK {
				r = boolStr(run)
			}
			ev = append(ev, d.name+": enabled at boot "+boolStr(en)+", running "+r)
		}
	}
	active := enabled
	if procOK {
		active = running
	}
	switch {
	case len(enabled) == 0 && len(running) == 0:
		return fail("no time synchronisation daemon enabled or running (chrony, ntp, systemd-timesyncd)")
	case procOK && len(running) == 0:
		return fail(append(ev, "time synchronisation enabled but not running")...)
	case len(enabled) == 0:
		return fail(append(ev, "time synchronisation running but not enabled at boot")...)
	case len(active) > 1:
		return fail(append(ev, "several time daemons: "+joinList(active))...)
	}
	if !procOK {
		ev = append(ev, "process list not readable: enabled state only")
	}
	active = []string{active[0]}
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
	case "ntp":
		read("etc", "ntp.conf")
		read("etc", "ntpsec", "ntp.conf")
	case "systemd-timesyncd":
		read("etc", "systemd", "timesyncd.conf")
		files, _ := e.readGlob("etc/systemd/timesyncd.conf.d/*.conf")
		for _, k := range sortedKeys(files) {
			read(strings.Split(k, "/")...)
		}
	}
	ev = append(ev, "sources "+joinList(sources))
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
