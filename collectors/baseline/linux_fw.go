package baseline

import (
	"regexp"
	"strings"
)

// mgmtPorts are the management ports that must not be open to any source.
func mgmtPorts() []string {
	return []string{"22", "23", "135", "139", "445", "3389", "5900", "5985", "5986"}
}

// firewall is what the configuration of one firewall framework says.
type firewall struct {
	Name        string
	Enabled     bool   // enabled at boot (or running)
	Rules       string // rule text read
	DefaultDeny bool   // inbound policy drop/reject
	ForwardDrop bool   // forward policy drop/reject
	OpenMgmt    []string
}

var (
	reNftInput   = regexp.MustCompile(`hook\s+input\s+priority[^;]*;\s*policy\s+(drop|accept|reject)`)
	reNftForward = regexp.MustCompile(`hook\s+forward\s+priority[^;]*;\s*policy\s+(drop|accept|reject)`)
	reDport      = regexp.MustCompile(`(?:dport|--dport|--dports)\s+\{?\s*([0-9, ]+)`)
)

// firewalls reads the configuration of firewalld, ufw, nftables and
// iptables(-persistent/-services).
func (e *env) firewalls() []firewall {
	fws, _ := memoize(e, "firewalls", func() ([]firewall, error) {
		var out []firewall
		// firewalld
		if e.unitExists("firewalld.service") || e.root.Exists("etc", "firewalld") {
			_, run := e.running("firewalld")
			f := firewall{Name: "firewalld", Enabled: run || e.unitEnabled("firewalld.service")}
			zone := "public"
			if b, err := e.readOptional("etc", "firewalld", "firewalld.conf"); err == nil && b != nil {
				if z := parseKeyValues(b)["DefaultZone"]; z != "" {
					zone = z
				}
			}
			zb, err := e.readOptional("etc", "firewalld", "zones", zone+".xml")
			if zb == nil && err == nil {
				zb, _ = e.readOptional("usr", "lib", "firewalld", "zones", zone+".xml")
			}
			f.Rules = string(zb)
			f.DefaultDeny = zone == "drop" || zone == "block" || strings.Contains(f.Rules, `target="DROP"`) || strings.Contains(f.Rules, `target="%%REJECT%%"`) || strings.Contains(f.Rules, `target="REJECT"`)
			if strings.Contains(f.Rules, `<service name="ssh"/>`) || strings.Contains(f.Rules, `port="22"`) {
				f.OpenMgmt = append(f.OpenMgmt, "22/tcp (zone "+zone+")")
			}
			f.ForwardDrop = !strings.Contains(f.Rules, "<forward/>")
			out = append(out, f)
		}
		// ufw
		if b, err := e.readOptional("etc", "ufw", "ufw.conf"); err == nil && b != nil {
			f := firewall{Name: "ufw", Enabled: strings.EqualFold(parseKeyValues(b)["ENABLED"], "yes")}
			if d, err := e.readOptional("etc", "default", "ufw"); err == nil && d != nil {
				kv := parseKeyValues(d)
				f.DefaultDeny = kv["DEFAULT_INPUT_POLICY"] == "DROP" || kv["DEFAULT_INPUT_POLICY"] == "REJECT"
				f.ForwardDrop = kv["DEFAULT_FORWARD_POLICY"] == "DROP" || kv["DEFAULT_FORWARD_POLICY"] == "REJECT"
			}
			r, _ := e.readOptional("etc", "ufw", "user.rules")
			f.Rules = string(r)
			for _, l := range strings.Split(f.Rules, "\n") {
				// ### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in
				if t, ok := strings.CutPrefix(l, "### tuple ### "); ok {
					x := strings.Fields(t)
					if len(x) >= 6 && x[0] == "allow" && contains(mgmtPorts(), x[2]) && (x[5] == "0.0.0.0/0" || x[5] == "::/0") {
						f.OpenMgmt = append(f.OpenMgmt, x[2]+"/"+x[1]+" from any")
					}
				}
			}
			out = append(out, f)
		}
		// nftables
		for _, p := range [][]string{{"etc", "nftables.conf"}, {"etc", "sysconfig", "nftables.conf"}} {
			b, err := e.readOptional(p...)
			if err != nil || b == nil {
				continue
			}
			_, run := e.running("nft")
			f := firewall{Name: "nftables", Enabled: e.unitEnabled("nftables.service") || run, Rules: string(b)}
			if m := reNftInput.FindStringSubmatch(f.Rules); m != nil {
				f.DefaultDeny = m[1] != "accept"
			}
			if m := reNftForward.FindStringSubmatch(f.Rules); m != nil {
				f.ForwardDrop = m[1] != "accept"
			}
			f.OpenMgmt = openMgmt(f.Rules, "saddr")
			if !strings.Contains(f.Rules, "hook input") {
				f.Rules = "" // only flush / empty tables
			}
			out = append(out, f)
			break
		}
		// iptables
		for _, p := range [][]string{{"etc", "iptables", "rules.v4"}, {"etc", "sysconfig", "iptables"}} {
			b, err := e.readOptional(p...)
			if err != nil || b == nil {
				continue
			}
			en := e.unitEnabled("netfilter-persistent.service") || e.unitEnabled("iptables.service") || e.unitEnabled("iptables-persistent.service")
			f := firewall{Name: "iptables", Enabled: en, Rules: string(b)}
			f.DefaultDeny = strings.Contains(f.Rules, ":INPUT DROP") || strings.Contains(f.Rules, ":INPUT REJECT")
			f.ForwardDrop = strings.Contains(f.Rules, ":FORWARD DROP")
			f.OpenMgmt = openMgmt(f.Rules, "-s ")
			out = append(out, f)
			break
		}
		return out, nil
	})
	return fws
}

// openMgmt returns the accept rules for management ports with no source
// restriction (srcWord absent from the rule line).
func openMgmt(rules, srcWord string) []string {
	var out []string
	for _, l := range strings.Split(rules, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") || !(strings.Contains(l, "accept") || strings.Contains(l, "ACCEPT")) || strings.Contains(l, srcWord) {
			continue
		}
		m := reDport.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' }) {
			if contains(mgmtPorts(), p) {
				out = append(out, p+": "+l)
			}
		}
	}
	return out
}

// firewallText returns every firewall rule text read, for source checks.
func firewallText(e *env) string {
	var b strings.Builder
	for _, f := range e.firewalls() {
		b.WriteString(f.Rules)
	}
	return b.String()
}

// activeFirewall returns the enabled framework with rules, if any.
func activeFirewall(e *env) (firewall, bool) {
	for _, f := range e.firewalls() {
		if f.Enabled && (f.Rules != "" || f.Name == "firewalld" || f.DefaultDeny) {
			return f, true
		}
	}
	return firewall{}, false
}

// hostFirewall is LNX-FW-001: one framework enabled at boot with rules.
func hostFirewall(e *env) outcome {
	f, ok := activeFirewall(e)
	if ok {
		return pass(f.Name + " enabled with rules")
	}
	var ev []string
	for _, f := range e.firewalls() {
		ev = append(ev, f.Name+" configured, enabled="+boolStr(f.Enabled))
	}
	if len(ev) == 0 {
		ev = append(ev, "no firewalld, ufw, nftables or iptables configuration")
	}
	return fail(ev...)
}

// firewallDefaultDeny is LNX-FW-002: inbound default drop/reject and no
// management port open to any source.
func firewallDefaultDeny(e *env) outcome {
	f, ok := activeFirewall(e)
	if !ok {
		return fail("no active host firewall (LNX-FW-001)")
	}
	var v verdict
	v.check(f.DefaultDeny, "%s inbound default deny: %t", f.Name, f.DefaultDeny)
	for _, m := range f.OpenMgmt {
		v.no("%s: management port open to any source: %s", f.Name, m)
	}
	return v.outcome()
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
