package baseline

import (
	"encoding/xml"
	"strconv"
	"strings"
)

// This file reads firewalld's permanent configuration as firewalld applies
// it: the default zone of firewalld.conf, zone files from /etc/firewalld
// overriding /usr/lib/firewalld (built-in definitions when neither exists),
// each zone's target (default and %%REJECT%% reject, DROP drops, ACCEPT
// accepts), services resolved to their ports, ports and ranges, zones bound
// to sources (which take precedence) and to interfaces, and rich rules.

// fwdZone is a zone file.
type fwdZone struct {
	Target     string       `xml:"target,attr"`
	Services   []fwdName    `xml:"service"`
	Ports      []fwdPort    `xml:"port"`
	Sources    []fwdSource  `xml:"source"`
	Interfaces []fwdName    `xml:"interface"`
	Rules      []fwdRich    `xml:"rule"`
	Forward    *struct{}    `xml:"forward"`
	Masq       *struct{}    `xml:"masquerade"`
	SrcPorts   []fwdPort    `xml:"source-port"`
	Protocols  []fwdProtoEl `xml:"protocol"`
}

type fwdName struct {
	Name string `xml:"name,attr"`
}
type fwdPort struct {
	Port     string `xml:"port,attr"`
	Protocol string `xml:"protocol,attr"`
}
type fwdSource struct {
	Address string `xml:"address,attr"`
	Invert  string `xml:"invert,attr"`
}
type fwdProtoEl struct {
	Value string `xml:"value,attr"`
}
type fwdRich struct {
	Family  string     `xml:"family,attr"`
	Source  *fwdSource `xml:"source"`
	Service *fwdName   `xml:"service"`
	Port    *fwdPort   `xml:"port"`
	Accept  *struct{}  `xml:"accept"`
	Reject  *struct{}  `xml:"reject"`
	Drop    *struct{}  `xml:"drop"`
}

// fwdService is a service file.
type fwdService struct {
	Ports []fwdPort `xml:"port"`
}

// builtinZones are firewalld's shipped zones, for roots without the files.
func builtinZones() map[string]fwdZone {
	svc := func(n ...string) []fwdName {
		var out []fwdName
		for _, s := range n {
			out = append(out, fwdName{s})
		}
		return out
	}
	return map[string]fwdZone{
		"drop":     {Target: "DROP"},
		"block":    {Target: "%%REJECT%%"},
		"public":   {Services: svc("ssh", "dhcpv6-client")},
		"external": {Services: svc("ssh"), Masq: &struct{}{}},
		"dmz":      {Services: svc("ssh")},
		"work":     {Services: svc("ssh", "dhcpv6-client")},
		"home":     {Services: svc("ssh", "mdns", "samba-client", "dhcpv6-client")},
		"internal": {Services: svc("ssh", "mdns", "samba-client", "dhcpv6-client")},
		"trusted":  {Target: "ACCEPT"},
	}
}

// builtinFwdServices are the ports of common firewalld services.
func builtinFwdServices() map[string][]fwdPort {
	t := func(p ...string) []fwdPort {
		var out []fwdPort
		for _, x := range p {
			port, proto, _ := strings.Cut(x, "/")
			out = append(out, fwdPort{Port: port, Protocol: proto})
		}
		return out
	}
	return map[string][]fwdPort{
		"ssh": t("22/tcp"), "telnet": t("23/tcp"), "http": t("80/tcp"), "https": t("443/tcp"), "cockpit": t("9090/tcp"),
		"dhcpv6-client": t("546/udp"), "mdns": t("5353/udp"), "samba-client": t("137/udp", "138/udp"),
		"samba": t("137/udp", "138/udp", "139/tcp", "445/tcp"), "rdp": t("3389/tcp"), "vnc-server": t("5900-5903/tcp"),
		"ftp": t("21/tcp"), "snmp": t("161/udp"), "ntp": t("123/udp"), "mqtt": t("1883/tcp"), "mqtt-tls": t("8883/tcp"),
		"modbus": t("502/tcp"), "opcua": t("4840/tcp"), "wsman": t("5985/tcp"), "wsmans": t("5986/tcp"), "tftp": t("69/udp"),
	}
}

// firewalldViews builds, from the permanent configuration, one ruleset per
// zone through which new inbound traffic from any source enters (the
// default zone and every zone bound to an interface), each preceded by the
// zones bound to sources.
func (e *env) firewalldViews() ([]*nftRuleset, []string, string) {
	var files []string
	zone := "public"
	if b, err := e.readOptional("etc", "firewalld", "firewalld.conf"); err == nil && b != nil {
		files = append(files, "/etc/firewalld/firewalld.conf")
		if z := strings.Trim(parseKeyValues(b)["DefaultZone"], `"'`); z != "" {
			zone = z
		}
	}
	zones := map[string]fwdZone{}
	var names []string
	for name, z := range builtinZones() {
		zones[name] = z
	}
	var perr string
	for _, dir := range []string{"usr/lib/firewalld/zones", "etc/firewalld/zones"} {
		fs, _ := e.readGlob(dir + "/*.xml")
		for _, p := range sortedKeys(fs) {
			var z fwdZone
			if err := xml.Unmarshal(fs[p], &z); err != nil {
				if perr == "" {
					perr = "/" + p + ": " + err.Error()
				}
				continue
			}
			n := strings.TrimSuffix(p[strings.LastIndex(p, "/")+1:], ".xml")
			zones[n] = z
			files = append(files, "/"+p)
		}
	}
	for n := range zones {
		names = append(names, n)
	}
	names = sortStrings(names)
	if _, ok := zones[zone]; !ok {
		return nil, files, "default zone " + zone + " is not defined"
	}
	svc := func(name string) []fwdPort {
		for _, dir := range []string{"etc/firewalld/services", "usr/lib/firewalld/services"} {
			if b, err := e.readOptional(dir, name+".xml"); err == nil && b != nil {
				var s fwdService
				if xml.Unmarshal(b, &s) == nil {
					return s.Ports
				}
			}
		}
		return builtinFwdServices()[name]
	}
	chain := func(t *nftTable, name string, z fwdZone) {
		c := t.chain("zone_"+name, true)
		where := "firewalld zone " + name
		add := func(r nftRule) { r.Where = where; c.Rules = append(c.Rules, r) }
		portRule := func(p fwdPort, src *fwdSource, verdict string) {
			ports := strings.ReplaceAll(p.Port, ":", "-")
			r := nftRule{Verdict: verdict, Matches: []nftMatch{{Key: p.Protocol + " dport", Op: "==", Vals: []string{ports}}}}
			if src != nil && src.Address != "" {
				op := "=="
				if src.Invert == "true" || src.Invert == "yes" {
					op = "!="
				}
				v, _ := (&nftLoader{}).resolve("ip saddr", src.Address)
				key := "ip saddr"
				if strings.Contains(src.Address, ":") {
					key = "ip6 saddr"
				}
				r.Matches = append(r.Matches, nftMatch{Key: key, Op: op, Vals: []string{v}})
			}
			add(r)
		}
		// rich rules: deny before allow, as firewalld orders them
		for _, pass := range []bool{false, true} {
			for _, rr := range z.Rules {
				verdict := ""
				switch {
				case rr.Accept != nil:
					verdict = "accept"
				case rr.Reject != nil:
					verdict = "reject"
				case rr.Drop != nil:
					verdict = "drop"
				}
				if verdict == "" || (verdict == "accept") != pass {
					continue
				}
				var ports []fwdPort
				if rr.Port != nil {
					ports = append(ports, *rr.Port)
				}
				if rr.Service != nil {
					ports = append(ports, svc(rr.Service.Name)...)
				}
				if len(ports) == 0 {
					r := nftRule{Verdict: verdict}
					if rr.Source != nil {
						v, _ := (&nftLoader{}).resolve("ip saddr", rr.Source.Address)
						r.Matches = append(r.Matches, nftMatch{Key: "ip saddr", Op: "==", Vals: []string{v}})
					}
					add(r)
				}
				for _, p := range ports {
					portRule(p, rr.Source, verdict)
				}
			}
		}
		for _, s := range z.Services {
			for _, p := range svc(s.Name) {
				portRule(p, nil, "accept")
			}
		}
		for _, p := range z.Ports {
			portRule(p, nil, "accept")
		}
		switch strings.ToUpper(z.Target) {
		case "ACCEPT":
			add(nftRule{Verdict: "accept"})
		case "DROP":
			add(nftRule{Verdict: "drop"})
		default: // "default", "%%REJECT%%", "REJECT", ""
			add(nftRule{Verdict: "reject"})
		}
	}
	entry := []string{zone}
	for _, n := range names {
		if len(zones[n].Interfaces) > 0 && n != zone {
			entry = append(entry, n)
		}
	}
	var views []*nftRuleset
	for _, ez := range entry {
		t := &nftTable{Family: "inet", Name: "firewalld", Sets: map[string][]string{}}
		in := t.chain("input", true)
		in.Hook, in.Type, in.Policy = "input", "filter", "accept"
		in.Rules = append(in.Rules,
			nftRule{Verdict: "accept", Where: "firewalld (loopback)", Matches: []nftMatch{{Key: "meta iifname", Op: "==", Vals: []string{"lo"}}}})
		for _, n := range names {
			for _, s := range zones[n].Sources {
				v, _ := (&nftLoader{}).resolve("ip saddr", s.Address)
				key := "ip saddr"
				if strings.Contains(s.Address, ":") {
					key = "ip6 saddr"
				}
				in.Rules = append(in.Rules, nftRule{Verdict: "goto", Target: "zone_" + n, Where: "firewalld zone " + n + " source " + s.Address,
					Matches: []nftMatch{{Key: key, Op: "==", Vals: []string{v}}}})
				chain(t, n, zones[n])
			}
		}
		in.Rules = append(in.Rules, nftRule{Verdict: "goto", Target: "zone_" + ez, Where: "firewalld zone " + ez})
		chain(t, ez, zones[ez])
		if fz := zones[ez]; fz.Forward == nil && strings.ToUpper(fz.Target) != "ACCEPT" {
			fw := t.chain("forward", true)
			fw.Hook, fw.Type, fw.Policy = "forward", "filter", "drop"
		}
		views = append(views, &nftRuleset{Tables: []*nftTable{t}, Files: files})
	}
	if len(entry) > 1 {
		files = append(files, "zones bound to interfaces: "+strconv.Itoa(len(entry)-1))
	}
	return views, files, perr
}
