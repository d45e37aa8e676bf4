package baseline

import (
	"fmt"
	"strings"
)

// listenersAllowlisted is LNX-SVC-001: every non-loopback listener is on the
// role allowlist (site_policy.allowed_listen_ports).
func listenersAllowlisted(e *env) outcome {
	ls, err := e.listeners()
	if err != nil {
		return errFrom(err)
	}
	var exposed []string
	seen := map[string]bool{}
	for _, l := range ls {
		if l.loopback() {
			continue
		}
		k := fmt.Sprintf("%s/%d", l.Proto, l.Port)
		if !seen[k] {
			seen[k] = true
			exposed = append(exposed, l.String())
		}
	}
	if len(e.site.AllowedListenPorts) == 0 {
		return notConfigured("allowed_listen_ports", "listeners: "+joinList(exposed))
	}
	allowed := map[string]bool{}
	for _, s := range e.site.AllowedListenPorts {
		p, n, _ := parsePortSpec(s)
		allowed[fmt.Sprintf("%s/%d", p, n)] = true
	}
	var v verdict
	for _, l := range ls {
		if l.loopback() {
			continue
		}
		v.check(allowed[fmt.Sprintf("%s/%d", l.Proto, l.Port)], "listener %s", l)
	}
	if len(v.good)+len(v.bad) == 0 {
		v.ok("no listeners outside loopback")
	}
	return v.outcome()
}

// cleartextServices is LNX-SVC-002: no telnet/ftp/tftp/rsh/xinetd servers
// installed or listening on 21, 23, 69, 512-514.
func cleartextServices(e *env) outcome {
	var v verdict
	for _, n := range []string{"telnetd", "inetutils-telnetd", "telnet-server", "vsftpd", "proftpd", "pure-ftpd", "tftpd-hpa", "tftp-server", "atftpd", "rsh-server", "rsh-redone-server", "xinetd"} {
		if ev, ok := e.installed(n); ok {
			v.no("%s installed", ev)
		}
	}
	pkgs, _, _ := e.packages()
	for _, n := range []string{"telnet", "inetutils-telnet"} {
		if _, ok := pkgs[n]; ok && !contains(e.site.ApprovedRemoteTools, n) {
			v.no("telnet client package %s installed (allowed only by exception: approved_remote_tools)", n)
		}
	}
	ls, err := e.listeners()
	if err != nil {
		v.err(err)
	}
	for _, l := range ls {
		switch {
		case l.Port == 21 && l.Proto == "tcp", l.Port == 23 && l.Proto == "tcp", l.Port == 69 && l.Proto == "udp", l.Port >= 512 && l.Port <= 514 && l.Proto == "tcp":
			v.no("listener %s", l)
		}
	}
	if len(v.bad) == 0 {
		v.ok("no telnet, ftp, tftp, rsh or xinetd server")
	}
	return v.outcome()
}

// nonEssentialDaemons is LNX-SVC-003: avahi, cups, rpcbind, snmpd, nfs and
// smb disabled unless allowlisted.
func nonEssentialDaemons(e *env) outcome {
	var v verdict
	for _, s := range []string{"avahi-daemon", "cups", "rpcbind", "snmpd", "nfs-server", "smbd", "smb"} {
		if contains(e.site.AllowedServices, s) {
			continue
		}
		en := e.unitEnabled(s+".service") || e.unitEnabled(s+".socket")
		ev, run := e.running(s)
		if s == "cups" {
			ev, run = e.running("cupsd")
		}
		if en || run {
			v.no("%s enabled=%t running=%t", s, en, run)
			_ = ev
		}
	}
	if len(v.bad) == 0 {
		v.ok("avahi-daemon, cups, rpcbind, snmpd, nfs-server, smb disabled or allowlisted")
	}
	return v.outcome()
}

// snmpCommunity is LNX-SVC-004: no public/private community and no rw
// community in snmpd.conf.
func snmpCommunity(e *env) outcome {
	b, err := e.read("etc", "snmp", "snmpd.conf")
	if err != nil {
		if isNotExist(err) {
			return na("/etc/snmp/snmpd.conf not found: snmpd not configured")
		}
		return errFrom(err)
	}
	var v verdict
	for _, l := range lines(b) {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "rocommunity", "rocommunity6":
			c := f[1]
			v.check(c != "public" && c != "private", "%s %s", f[0], maskCommunity(c))
		case "rwcommunity", "rwcommunity6":
			v.no("%s %s (read-write community)", f[0], maskCommunity(f[1]))
		case "com2sec", "com2sec6":
			if len(f) >= 4 {
				c := f[3]
				v.check(c != "public" && c != "private", "com2sec %s %s", f[1], maskCommunity(c))
			}
		}
	}
	if len(v.good)+len(v.bad) == 0 {
		v.ok("no community strings (SNMPv3 only)")
	}
	return v.outcome()
}

// maskCommunity keeps default names visible and hides real secrets.
func maskCommunity(c string) string {
	if c == "public" || c == "private" {
		return c
	}
	return "(custom, hidden)"
}
