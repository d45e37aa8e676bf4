package baseline

import (
	"fmt"
	"net/netip"
	"strings"
)

// mgmtPorts are the management ports that must not be open to any source.
func mgmtPorts() []string {
	return []string{"22", "23", "135", "139", "445", "3389", "5900", "5985", "5986"}
}

// firewall is what the boot configuration of one firewall framework does
// with inbound traffic.
type firewall struct {
	Name    string
	Enabled bool     // enabled at boot (or running)
	Files   []string // what was read, absolute
	Views   []*nftRuleset
	Err     string // the framework would reject its configuration
}

// open reports whether a new connection to port from any source passes
// this firewall (any view).
func (f firewall) open(proto string, port int) (bool, string) {
	for _, v := range f.Views {
		if ok, why := v.inboundOpen(proto, port); ok {
			return true, f.Name + ": " + why
		}
	}
	return false, f.Name + ": " + proto + "/" + itoa(port) + " not accepted from outside addresses"
}

// filters reports whether every view drops new inbound connections to
// unused ports.
func (f firewall) filters() (bool, string) {
	if len(f.Views) == 0 {
		return false, f.Name + ": no ruleset"
	}
	for _, v := range f.Views {
		if ok, why := v.filtersInbound(); !ok {
			return false, f.Name + ": " + why
		}
	}
	return true, f.Name + ": new inbound connections to unused ports are dropped"
}

// dropsSomething reports whether the firewall filters any inbound traffic.
func (f firewall) dropsSomething() bool {
	for _, v := range f.Views {
		if v.dropsSomething() {
			return true
		}
	}
	return false
}

// forwardDrop reports whether forwarded traffic is dropped by default.
func (f firewall) forwardDrop() bool {
	for _, v := range f.Views {
		if !v.forwardDrop() {
			return false
		}
	}
	return len(f.Views) > 0
}

// firewalls reads the boot configuration of firewalld, ufw, nftables and
// iptables (netfilter-persistent, iptables-services).
func (e *env) firewalls() []firewall {
	fws, _ := memoize(e, "firewalls", func() ([]firewall, error) {
		var out []firewall
		svc := e.services()
		if e.unitExists("firewalld.service") || e.root.Exists("etc", "firewalld") {
			_, run := e.running("firewalld")
			views, files, perr := e.firewalldViews()
			out = append(out, firewall{Name: "firewalld", Enabled: run || e.unitEnabled("firewalld.service"), Files: files, Views: views, Err: perr})
		}
		if b, err := e.readOptional("etc", "ufw", "ufw.conf"); err == nil && b != nil {
			out = append(out, e.ufw(b, svc))
		}
		for _, p := range []string{"/etc/nftables.conf", "/etc/sysconfig/nftables.conf"} {
			rs, err := loadNft(nftSource{read: e.readAbs, glob: absGlob(e.root), services: svc}, p)
			if err != nil {
				continue
			}
			_, run := e.running("nft")
			out = append(out, firewall{Name: "nftables", Enabled: e.unitEnabled("nftables.service") || run, Files: rs.Files, Views: []*nftRuleset{rs}, Err: rs.Err})
			break
		}
		en := e.unitEnabled("netfilter-persistent.service") || e.unitEnabled("iptables.service") || e.unitEnabled("iptables-persistent.service")
		for _, p := range [][]string{{"etc", "iptables", "rules.v4"}, {"etc", "sysconfig", "iptables"}} {
			b, err := e.readOptional(p...)
			if err != nil || b == nil {
				continue
			}
			f := firewall{Name: "iptables", Enabled: en, Files: []string{abs(p...)}}
			rs := loadIptables(b, abs(p...), "ip", svc)
			f.Views, f.Err = []*nftRuleset{rs}, rs.Err
			q := []string{"etc", "iptables", "rules.v6"}
			if p[1] == "sysconfig" {
				q = []string{"etc", "sysconfig", "ip6tables"}
			}
			if b6, err := e.readOptional(q...); err == nil && b6 != nil {
				rs6 := loadIptables(b6, abs(q...), "ip6", svc)
				rs.Tables = append(rs.Tables, rs6.Tables...)
				f.Files = append(f.Files, abs(q...))
				if f.Err == "" {
					f.Err = rs6.Err
				}
			}
			out = append(out, f)
			break
		}
		return out, nil
	})
	return fws
}

// ufw models ufw: DEFAULT_INPUT_POLICY from /etc/default/ufw, loopback and
// established traffic accepted, then the user rules (user.rules, user6.rules).
func (e *env) ufw(conf []byte, svc func(string, string) (int, bool)) firewall {
	f := firewall{Name: "ufw", Enabled: strings.EqualFold(parseKeyValues(conf)["ENABLED"], "yes"), Files: []string{"/etc/ufw/ufw.conf"}}
	in, fwd := "drop", "drop"
	if d, err := e.readOptional("etc", "default", "ufw"); err == nil && d != nil {
		f.Files = append(f.Files, "/etc/default/ufw")
		kv := parseKeyValues(d)
		if p := strings.ToLower(kv["DEFAULT_INPUT_POLICY"]); p == "accept" {
			in = "accept"
		}
		if p := strings.ToLower(kv["DEFAULT_FORWARD_POLICY"]); p == "accept" {
			fwd = "accept"
		}
	}
	rs := &nftRuleset{}
	for _, x := range []struct{ file, fam string }{{"user.rules", "ip"}, {"user6.rules", "ip6"}} {
		b, _ := e.readOptional("etc", "ufw", x.file)
		if b == nil {
			b = []byte("*filter\n:ufw-user-input - [0:0]\nCOMMIT\n")
		} else {
			f.Files = append(f.Files, "/etc/ufw/"+x.file)
		}
		u := loadIptables(b, "/etc/ufw/"+x.file, x.fam, svc)
		if f.Err == "" {
			f.Err = u.Err
		}
		for _, t := range u.Tables {
			c := t.chain("INPUT", true)
			c.Hook, c.Type, c.Policy = "input", "filter", in
			c.Rules = append([]nftRule{
				{Verdict: "accept", Where: "ufw before.rules (loopback)", Matches: []nftMatch{{Key: "meta iifname", Op: "==", Vals: []string{"lo"}}}},
				{Verdict: "jump", Target: "ufw-user-input", Where: "ufw"},
			}, c.Rules...)
			t.chain("ufw-user-input", true)
			fc := t.chain("FORWARD", true)
			fc.Hook, fc.Type, fc.Policy = "forward", "filter", fwd
			rs.Tables = append(rs.Tables, t)
		}
	}
	f.Views = []*nftRuleset{rs}
	return f
}

// enabledFirewalls returns the frameworks enabled at boot.
func enabledFirewalls(e *env) []firewall {
	var out []firewall
	for _, f := range e.firewalls() {
		if f.Enabled {
			out = append(out, f)
		}
	}
	return out
}

// inboundOpen reports whether a new connection from any source to port
// passes every enabled firewall, with the reason.
func inboundOpen(e *env, proto string, port int) (bool, string) {
	fws := enabledFirewalls(e)
	if len(fws) == 0 {
		return true, "no host firewall enabled"
	}
	var why []string
	for _, f := range fws {
		ok, w := f.open(proto, port)
		if !ok {
			return false, w
		}
		why = append(why, w)
	}
	return true, strings.Join(why, "; ")
}

// portLimitedTo reports whether port is closed to outside addresses and
// open to at least one of nets.
func portLimitedTo(e *env, proto string, port int, nets []netip.Prefix) (string, bool) {
	if open, why := inboundOpen(e, proto, port); open {
		return why, false
	}
	for _, n := range nets {
		src := n.Addr()
		if n.Bits() < src.BitLen() {
			src = src.Next()
		}
		ok := true
		for _, f := range enabledFirewalls(e) {
			accepted := false
			for _, v := range f.Views {
				if v.acceptsFrom(proto, port, src) {
					accepted = true
				}
			}
			ok = ok && accepted
		}
		if ok {
			return fmt.Sprintf("%s/%d accepted only from listed sources (%s accepted, outside addresses not)", proto, port, n), true
		}
	}
	return fmt.Sprintf("%s/%d is not open from any management_cidrs network", proto, port), false
}

// hostFirewall is LNX-FW-001: one framework enabled at boot whose ruleset
// filters inbound traffic (an empty ruleset with policy accept does not).
func hostFirewall(e *env) outcome {
	var v verdict
	for _, f := range e.firewalls() {
		ev := fmt.Sprintf("%s enabled at boot: %t (read %s)", f.Name, f.Enabled, joinList(f.Files))
		switch {
		case f.Err != "":
			v.no("%s; the configuration would be rejected: %s", ev, f.Err)
		case f.Enabled && f.dropsSomething():
			return pass(append([]string{ev}, firewallHooks(f)...)...)
		case f.Enabled:
			v.no("%s; its ruleset drops nothing inbound: %s", ev, joinList(firewallHooks(f)))
		default:
			v.no("%s", ev)
		}
	}
	if len(v.bad) == 0 {
		v.no("no firewalld, ufw, nftables or iptables configuration (/etc/firewalld, /etc/ufw, /etc/nftables.conf, /etc/iptables/rules.v4, /etc/sysconfig/iptables)")
	}
	return v.outcome()
}

// firewallHooks lists the base chains of a firewall for evidence.
func firewallHooks(f firewall) []string {
	var out []string
	for _, v := range f.Views {
		out = append(out, v.hooks()...)
	}
	return out
}

// firewallDefaultDeny is LNX-FW-002: new inbound connections dropped by
// default and no management port open to any source.
func firewallDefaultDeny(e *env) outcome {
	fws := enabledFirewalls(e)
	if len(fws) == 0 {
		return fail("no host firewall enabled at boot (LNX-FW-001)")
	}
	var v verdict
	var unfiltered []string
	for _, f := range fws {
		if f.Err != "" {
			v.no("%s would reject its configuration: %s", f.Name, f.Err)
			continue
		}
		if ok, why := f.filters(); ok {
			v.ok("%s", why)
		} else {
			unfiltered = append(unfiltered, why)
		}
	}
	if len(v.good) == 0 { // one enabled firewall that drops by default is enough
		v.bad = append(v.bad, unfiltered...)
	}
	for _, p := range mgmtPorts() {
		if open, why := inboundOpen(e, "tcp", atoiOr(p, 0)); open {
			v.no("management port open to any source: %s", why)
		}
	}
	return v.outcome()
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
