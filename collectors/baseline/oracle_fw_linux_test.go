package baseline

import (
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// netns creates a network namespace for the test (root only) and returns a
// function that runs a command inside it.
func netns(t *testing.T) func(name string, args ...string) ([]byte, error) {
	t.Helper()
	ip := needTool(t, "ip")
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace (ip netns add)")
	}
	name := fmt.Sprintf("ewtest%d", os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", name).Run() })
	return func(prog string, args ...string) ([]byte, error) {
		return exec.Command(ip, append([]string{"netns", "exec", name, prog}, args...)...).CombinedOutput()
	}
}

// fwConclusions is what the checks conclude from a ruleset.
func fwConclusions(rs *nftRuleset) string {
	var b strings.Builder
	ok, _ := rs.filtersInbound()
	fmt.Fprintf(&b, "filters=%t drops=%t forwardDrop=%t", ok, rs.dropsSomething(), rs.forwardDrop())
	for _, proto := range []string{"tcp", "udp"} {
		for _, p := range []int{22, 23, 80, 102, 161, 443, 502, 1500, 3389, 4840, 5900} {
			if open, _ := rs.inboundOpen(proto, p); open {
				fmt.Fprintf(&b, " %s/%d", proto, p)
			}
		}
	}
	for _, src := range []string{"10.0.9.5", "10.0.0.20", "192.168.1.7"} {
		for _, p := range []int{22, 502} {
			if rs.acceptsFrom("tcp", p, netip.MustParseAddr(src)) {
				fmt.Fprintf(&b, " %s→%d", src, p)
			}
		}
	}
	return b.String()
}

// nftCorpus generates nftables files: block and command forms, add/insert
// rule, define/$var, named and anonymous sets, ranges, service names,
// jumps to regular chains, several base chains, include, flush, and
// invalid files nft rejects.
func nftCorpus(dir string, n int) []string {
	r := rand.New(rand.NewSource(12))
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	rules := []string{
		"ct state established,related accept", "ct state { established, related } accept", "ct state invalid drop",
		"iif lo accept", `iifname "lo" accept`, "tcp dport ssh accept", "tcp dport 22 ip saddr 10.0.9.0/24 accept",
		"ip saddr $MGMT tcp dport { ssh, 3389 } accept", "tcp dport 1000-2000 accept", "udp dport 161 counter accept",
		"tcp dport @mgmt accept", "tcp dport 502 ip saddr { 10.0.0.20, 10.0.0.21 } accept", "tcp dport != 22 drop",
		"tcp dport telnet drop", "ip saddr 10.0.0.0/8 accept", "meta l4proto tcp tcp dport 4840 accept", "th dport 102 accept",
		`tcp dport { http, https } counter accept comment "web"`, "jump mgmt_in", "counter drop",
		"reject with icmp type port-unreachable", `log prefix "in-drop " drop`, "limit rate 10/second accept",
		"tcp dport $PORTS accept", "ip saddr 192.168.1.0/24 tcp dport 502 accept", "udp dport { 53, 123 } accept",
		"tcp dport 5900-5903 ip saddr != 10.0.9.0/24 drop", "meta l4proto udp accept", "ip protocol icmp accept",
		"tcp dport { 22, 3389, 5900 } drop", "goto mgmt_in",
	}
	var out []string
	for i := 0; i < n; i++ {
		var f []string
		if r.Intn(6) != 0 {
			f = append(f, "flush ruleset")
		}
		f = append(f, "define MGMT = { 10.0.9.0/24, 10.0.8.1 }", "define PORTS = { 443, 8443 }")
		fam := pick("inet", "ip", "inet")
		f = append(f, "table "+fam+" filter {", "  set mgmt { type inet_service; elements = { ssh, 3389 } }",
			"  chain mgmt_in {", "    "+pick("tcp dport 22 accept", "ip saddr 10.0.9.0/24 accept", "return", "tcp dport 22 ip saddr 10.0.9.0/24 accept"), "  }",
			"  chain input {", "    type filter hook input priority "+pick("0", "filter", "-10", "filter + 5")+";"+pick(" policy drop;", " policy accept;", "", " policy drop;"))
		for j := 0; j < r.Intn(7); j++ {
			f = append(f, "    "+pick(rules...)+pick("", "", " # note"))
		}
		f = append(f, "  }")
		if r.Intn(2) == 0 {
			f = append(f, "  chain forward { type filter hook forward priority 0; policy "+pick("drop", "accept")+"; }")
		}
		f = append(f, "}")
		if r.Intn(3) == 0 {
			f = append(f, pick("add", "insert")+" rule "+fam+" filter input "+pick(rules...))
		}
		if r.Intn(4) == 0 {
			f = append(f, "table ip second {", "  chain in2 {", "    type filter hook input priority 10; policy "+pick("accept", "drop")+";", "    "+pick(rules[:12]...), "  }", "}")
		}
		if r.Intn(6) == 0 {
			inc := filepath.Join(dir, fmt.Sprintf("inc%03d.nft", i))
			_ = os.WriteFile(inc, []byte("add rule "+fam+" filter input "+pick(rules[:14]...)+"\n"), 0o644)
			f = append(f, `include "`+inc+`"`)
		}
		if r.Intn(12) == 0 {
			f = append(f, pick("add rule "+fam+" filter input tcp dport sshx accept", "add rule "+fam+" filter input ip saddr $NOPE accept",
				"add rule "+fam+" filter input tcp dport @nope accept", "table inet broken {", "add rule inet nosuch input accept"))
		}
		p := filepath.Join(dir, fmt.Sprintf("v%03d.nft", i))
		_ = os.WriteFile(p, []byte(strings.Join(f, "\n")+"\n"), 0o644)
		out = append(out, p)
	}
	return out
}

// TestNftOracle loads each generated file with nft in a network namespace
// of its own: nft -c decides validity, and the ruleset nft lists after
// loading it (services resolved, variables and sets expanded, add/insert
// and includes applied) must lead the checks to the same conclusions as
// the file itself.
func TestNftOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("oracle comparison runs nft; skipped in -short mode")
	}
	nft := needTool(t, "nft")
	run := netns(t)
	dir := t.TempDir()
	e := hostEnv()
	src := nftSource{read: e.readAbs, glob: absGlob(e.root), services: e.services()}
	cases, disagree, invalid := 0, 0, 0
	for _, p := range nftCorpus(dir, 110) {
		cases++
		rs, err := loadNft(src, p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = run(nft, "flush", "ruleset")
		out, cerr := run(nft, "-c", "-f", p)
		b, _ := os.ReadFile(p)
		if (cerr == nil) != (rs.Err == "") {
			disagree++
			t.Errorf("%s: nft -c ok=%t (%s), parser error %q\n%s", p, cerr == nil, out, rs.Err, b)
			continue
		}
		if cerr != nil {
			invalid++
			continue
		}
		if out, err := run(nft, "-f", p); err != nil {
			t.Fatalf("nft -f %s: %v %s", p, err, out)
		}
		listed, err := run(nft, "list", "ruleset")
		if err != nil {
			t.Fatalf("nft list ruleset: %v %s", err, listed)
		}
		lp := p + ".listed"
		_ = os.WriteFile(lp, listed, 0o644)
		lrs, err := loadNft(src, lp)
		if err != nil || lrs.Err != "" {
			t.Fatalf("parse nft list ruleset output: %v %s\n%s", err, lrs.Err, listed)
		}
		if got, want := fwConclusions(rs), fwConclusions(lrs); got != want {
			disagree++
			t.Errorf("%s: parser on the file: %s\nparser on nft list ruleset: %s\nfile:\n%s\nlisted:\n%s", p, got, want, b, listed)
		}
	}
	t.Logf("nft oracle: %d files (%d rejected by nft -c), %d disagreements", cases, invalid, disagree)
}

// iptablesCorpus generates iptables-save files.
func iptablesCorpus(dir string, n int) []string {
	r := rand.New(rand.NewSource(13))
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	rules := []string{
		"-A INPUT -i lo -j ACCEPT", "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"-A INPUT -m state --state ESTABLISHED -j ACCEPT", "-A INPUT -p tcp --dport ssh -j ACCEPT",
		"-A INPUT -p tcp -s 10.0.9.0/24 --dport 22 -j ACCEPT", "-A INPUT -p tcp -m multiport --dports 80,443,1000:2000 -j ACCEPT",
		"-A INPUT -p udp --dport 161 -j ACCEPT", "-A INPUT -p tcp ! -s 10.0.0.0/8 --dport 502 -j DROP",
		"-A INPUT -p tcp --dport 502 -s 10.0.0.20 -j ACCEPT", "-A INPUT -p tcp --dport telnet -j REJECT",
		"-A INPUT -j MGMT", "-A INPUT -p tcp --dport 3389 -m comment --comment \"rdp from jump host\" -s 10.0.9.5/32 -j ACCEPT",
		"-A INPUT -p icmp -j ACCEPT", "-A INPUT -j DROP", "-A INPUT -p tcp --dport 5900:5903 -j ACCEPT", "-A INPUT -s 192.168.1.0/24 -j ACCEPT",
		"-I INPUT -p tcp --dport 23 -j DROP", "-A INPUT -p tcp --dport 4840 -j LOG --log-prefix \"opcua \"",
	}
	var out []string
	for i := 0; i < n; i++ {
		f := []string{"*filter", ":INPUT " + pick("DROP", "ACCEPT", "DROP") + " [0:0]", ":FORWARD " + pick("DROP", "ACCEPT") + " [0:0]", ":OUTPUT ACCEPT [0:0]", ":MGMT - [0:0]",
			"-A MGMT -p tcp --dport 22 " + pick("-j ACCEPT", "-s 10.0.9.0/24 -j ACCEPT", "-j RETURN")}
		for j := 0; j < r.Intn(7); j++ {
			f = append(f, pick(rules...))
		}
		if r.Intn(12) == 0 {
			f = append(f, pick("-A INPUT -p tcp --dport sshx -j ACCEPT", "-A NOCHAIN -j ACCEPT", "-A INPUT -j NOCHAIN"))
		}
		if r.Intn(15) != 0 {
			f = append(f, "COMMIT")
		}
		p := filepath.Join(dir, fmt.Sprintf("r%03d.v4", i))
		_ = os.WriteFile(p, []byte("# generated\n"+strings.Join(f, "\n")+"\n"), 0o644)
		out = append(out, p)
	}
	return out
}

// TestIptablesOracle restores each generated file with iptables-restore in
// a network namespace: whether it loads decides validity, and iptables-save's
// normalised rules (services and multiport resolved) must lead the checks
// to the same conclusions as the file itself.
func TestIptablesOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("oracle comparison runs iptables-restore; skipped in -short mode")
	}
	restore := needTool(t, "iptables-restore")
	save := needTool(t, "iptables-save")
	run := netns(t)
	dir := t.TempDir()
	svc := hostEnv().services()
	cases, disagree, invalid := 0, 0, 0
	for _, p := range iptablesCorpus(dir, 60) {
		cases++
		b, _ := os.ReadFile(p)
		rs := loadIptables(b, p, "ip", svc)
		// --test does not resolve -A to a missing chain; the real restore
		// (atomic per table) does
		out, terr := run(restore, "--test", p)
		if terr == nil {
			out, terr = run(restore, p)
		}
		if (terr == nil) != (rs.Err == "") {
			disagree++
			t.Errorf("%s: iptables-restore ok=%t (%s), parser error %q\n%s", p, terr == nil, out, rs.Err, b)
			continue
		}
		if terr != nil {
			invalid++
			continue
		}
		saved, err := run(save, "-t", "filter")
		if err != nil {
			t.Fatalf("iptables-save: %v %s", err, saved)
		}
		srs := loadIptables(saved, p+".saved", "ip", svc)
		if srs.Err != "" {
			t.Fatalf("parse iptables-save output: %s\n%s", srs.Err, saved)
		}
		if got, want := fwConclusions(rs), fwConclusions(srs); got != want {
			disagree++
			t.Errorf("%s: parser on the file: %s\nparser on iptables-save: %s\nfile:\n%s\nsaved:\n%s", p, got, want, b, saved)
		}
	}
	t.Logf("iptables oracle: %d files (%d rejected by iptables-restore), %d disagreements", cases, invalid, disagree)
}
