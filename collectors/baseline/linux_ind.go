package baseline

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// icsPorts returns the industrial-protocol ports of LNX-IND-001 plus the
// site's extra ports.
func icsPorts(site *SitePolicy) map[int]bool {
	m := map[int]bool{}
	for _, p := range []int{102, 502, 802, 1883, 2222, 2404, 4840, 4843, 8883, 9600, 20000, 44818, 47808, 1911, 4911, 5006, 5007, 18245, 18246, 34962, 34963, 34964} {
		m[p] = true
	}
	for _, p := range site.ICSPorts {
		m[p] = true
	}
	return m
}

// icsListeners is LNX-IND-001: each ICS listener is bound to a specific
// address, or a firewall rule limits its sources.
func icsListeners(e *env) outcome {
	ls, err := e.listeners()
	if err != nil {
		return errFrom(err)
	}
	ports := icsPorts(e.site)
	var v verdict
	for _, l := range ls {
		if !ports[l.Port] {
			continue
		}
		if !l.wildcard() {
			v.ok("%s bound to a specific address", l)
			continue
		}
		if open, why := inboundOpen(e, l.Proto, l.Port); open {
			v.no("%s on all interfaces and open to any source: %s", l, why)
		} else {
			v.ok("%s on all interfaces, firewall limits its sources: %s", l, why)
		}
	}
	if len(v.good)+len(v.bad) == 0 {
		v.ok("no industrial-protocol listener")
	}
	return v.outcome()
}

// opcuaEndpoints is LNX-IND-002 (and WIN-IND-005): no endpoint with security
// policy or mode None and no anonymous token on local OPC UA servers.
func opcuaEndpoints(listeners []listener, prober func(string) ([]OPCUAEndpoint, error)) outcome {
	var addrs []string
	for _, l := range listeners {
		if l.Proto == "tcp" && (l.Port == 4840 || l.Port == 4843) {
			addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Port)))
		}
	}
	if len(addrs) == 0 {
		return na("no OPC UA listener (4840, 4843)")
	}
	if prober == nil {
		return errOut("OPC UA listener on " + joinList(addrs) + "; no endpoint prober wired into this scan")
	}
	var v verdict
	for _, a := range addrs {
		eps, err := prober("opc.tcp://" + a)
		if err != nil {
			v.errs = append(v.errs, fmt.Sprintf("GetEndpoints %s: %v", a, err))
			continue
		}
		for _, ep := range eps {
			none := strings.HasSuffix(ep.SecurityPolicy, "#None") || strings.EqualFold(ep.SecurityMode, "None")
			anon := containsFold(ep.TokenTypes, "Anonymous")
			v.check(!none && !anon, "%s policy %s mode %s tokens %s", ep.URL, ep.SecurityPolicy, ep.SecurityMode, joinList(ep.TokenTypes))
		}
	}
	return v.outcome()
}

// opcuaLinux is LNX-IND-002.
func opcuaLinux(e *env) outcome {
	ls, err := e.listeners()
	if err != nil {
		return errFrom(err)
	}
	return opcuaEndpoints(ls, e.cfg.OPCUA)
}

// remoteTools lists unapproved remote-access tools (process, unit or binary
// names).
func remoteToolsLinux() []string {
	return []string{"frpc", "ngrok", "teamviewerd", "teamviewer", "sunloginclient", "todesk", "anydesk", "rustdesk", "x11vnc", "vncserver", "Xvnc", "zerotier-one", "tailscaled"}
}

// unapprovedRemoteTools is LNX-IND-003.
func unapprovedRemoteTools(e *env) outcome {
	var v verdict
	if _, err := e.procs(); err != nil {
		v.err(err)
	}
	for _, t := range remoteToolsLinux() {
		if containsFold(e.site.ApprovedRemoteTools, t) {
			continue
		}
		if ev, ok := e.running(t); ok {
			v.no("%s", ev)
		} else if ev, ok := e.installed(t); ok {
			v.no("%s", ev)
		}
	}
	if len(v.bad) == 0 {
		v.ok("no unapproved remote-access tool (approved: %s)", joinList(e.site.ApprovedRemoteTools))
	}
	return v.outcome()
}

// icsSoftwareLinux are ICS packages/services looked for by LNX-IND-004.
func icsSoftwareLinux() []string {
	return []string{"codesyscontrol", "codesys", "node-red", "nodered", "ignition", "kepserverex", "mosquitto", "open62541", "opcua-server", "openplc"}
}

// inventoryLinux is LNX-IND-004: the inventory sources (os-release, package
// database, network interfaces) are readable, so the agent can report them;
// ICS software found is listed as evidence.
func inventoryLinux(e *env) outcome {
	var v verdict
	if _, err := e.read("etc", "os-release"); err != nil {
		if _, err2 := e.read("usr", "lib", "os-release"); err2 != nil {
			v.err(err)
		}
	}
	pkgs, dpkg, err := e.packages()
	if err != nil {
		v.err(err)
	}
	if _, err := e.read("proc", "net", "dev"); err != nil && !isNotExist(err) {
		v.err(err)
	}
	var found []string
	for _, n := range append(icsSoftwareLinux(), e.site.ICSSoftware...) {
		if ev, ok := e.installed(n); ok {
			found = append(found, ev)
		} else if ev, ok := e.running(n); ok {
			found = append(found, ev)
		}
	}
	v.ok("packages: %d (dpkg database: %t)", len(pkgs), dpkg)
	v.ok("ICS software: %s", joinList(found))
	return v.outcome()
}

// platformConnected is *-PLT-001: heartbeat < 10 min, mTLS, current policy.
func platformConnected(cfg *Config, now time.Time) outcome {
	if cfg.Platform == nil {
		return outcome{StateNotConfigured, []string{"platform connection state not available to this scan (one-shot scan or no uplink)"}}
	}
	s := cfg.Platform()
	var v verdict
	age := now.Sub(s.LastHeartbeat)
	v.check(!s.LastHeartbeat.IsZero() && age < 10*time.Minute, "last heartbeat %s ago", age.Round(time.Second))
	v.check(s.MutualTLS, "mutual TLS: %t", s.MutualTLS)
	v.check(s.PolicyCurrent, "policy version current: %t", s.PolicyCurrent)
	return v.outcome()
}

// platformUpstream is *-PLT-002: SOC acknowledgement and upstream forwarding.
func platformUpstream(cfg *Config) outcome {
	if cfg.Platform == nil {
		return outcome{StateNotConfigured, []string{"platform state not available to this scan (one-shot scan or no uplink)"}}
	}
	s := cfg.Platform()
	var v verdict
	v.check(s.SOCAcknowledged, "last alert acknowledged by the SOC: %t", s.SOCAcknowledged)
	v.check(s.UpstreamForwarded, "upstream forwarding enabled: %t", s.UpstreamForwarded)
	return v.outcome()
}
