package baseline

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rootEnv writes files (relative path → content) into a temporary root and
// returns a scan environment on it.
func rootEnv(t *testing.T, files map[string]string) *env {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	site, _ := DecodeSitePolicy(nil)
	return &env{ctx: context.Background(), root: fsRoot{dir: dir}, site: site, role: RoleServer, now: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		cfg: &Config{}, memo: map[string]any{}, memErr: map[string]error{}}
}

func TestSSHDSemantics(t *testing.T) {
	t.Parallel()
	passwd := "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"
	group := "root:x:0:\nalice:x:1000:\nsshusers:x:1001:alice\n"
	root := sshdConn{User: "root", Addr: "198.51.100.1", LPort: 22}
	tests := []struct {
		name, conf string
		inc        map[string]string
		ci         sshdConn
		key, want  string
		err        bool
	}{
		{name: "Match all overrides the global value", conf: "PermitRootLogin no\nMatch all\n  PermitRootLogin yes\n", ci: root, key: "permitrootlogin", want: "yes"},
		{name: "keyword and value case-insensitive", conf: "permitrootlogin No\n", ci: root, key: "permitrootlogin", want: "no"},
		{name: "first value wins", conf: "PermitRootLogin no\nPermitRootLogin yes\n", ci: root, key: "permitrootlogin", want: "no"},
		{name: "Include first wins over later main lines", conf: "Include /etc/ssh/sshd_config.d/*.conf\nMaxAuthTries 6\n", inc: map[string]string{"etc/ssh/sshd_config.d/10.conf": "MaxAuthTries 3\n"}, ci: root, key: "maxauthtries", want: "3"},
		{name: "relative Include under /etc/ssh, sorted", conf: "Include sshd_config.d/*.conf\n", inc: map[string]string{"etc/ssh/sshd_config.d/20.conf": "MaxAuthTries 5\n", "etc/ssh/sshd_config.d/10.conf": "MaxAuthTries 2\n"}, ci: root, key: "maxauthtries", want: "2"},
		{name: "hidden files do not match a glob", conf: "Include /etc/ssh/sshd_config.d/*\n", inc: map[string]string{"etc/ssh/sshd_config.d/.old": "MaxAuthTries 9\n"}, ci: root, key: "maxauthtries", want: "6"},
		{name: "Match in an included file ends with it", conf: "Include /etc/ssh/sshd_config.d/*.conf\nX11Forwarding yes\n", inc: map[string]string{"etc/ssh/sshd_config.d/10.conf": "Match User alice\n  X11Forwarding no\n"}, ci: root, key: "x11forwarding", want: "yes"},
		{name: "Match User applies to that user only", conf: "Match User alice\n  PermitRootLogin yes\n", ci: root, key: "permitrootlogin", want: "without-password"},
		{name: "Match Group from /etc/group", conf: "Match Group sshusers\n  MaxAuthTries 2\n", ci: sshdConn{User: "alice"}, key: "maxauthtries", want: "2"},
		{name: "negated address", conf: "Match Address !10.0.0.0/8,*\n  PermitRootLogin yes\n", ci: sshdConn{User: "root", Addr: "10.1.1.1"}, key: "permitrootlogin", want: "without-password"},
		{name: "address CIDR", conf: "Match Address 10.0.0.0/8\n  PermitRootLogin yes\n", ci: sshdConn{User: "root", Addr: "10.1.1.1"}, key: "permitrootlogin", want: "yes"},
		{name: "time units", conf: "ClientAliveInterval 1h5M\n", ci: root, key: "clientaliveinterval", want: "3900"},
		{name: "Keyword=value and quotes", conf: "PermitRootLogin=\"no\"\n", ci: root, key: "permitrootlogin", want: "no"},
		{name: "lists accumulate, Match replaces", conf: "AllowUsers a b\nAllowUsers c\nMatch User root\n  AllowUsers d\n", ci: root, key: "allowusers", want: "d"},
		{name: "alias ChallengeResponseAuthentication", conf: "ChallengeResponseAuthentication no\n", ci: root, key: "kbdinteractiveauthentication", want: "no"},
		{name: "unknown keyword rejected", conf: "Frobnicate yes\n", err: true},
		{name: "bad value rejected", conf: "PermitRootLogin maybe\n", err: true},
		{name: "global-only keyword in Match rejected", conf: "Match User bob\n  Port 2222\n", err: true},
		{name: "host bits in Match Address rejected", conf: "Match Address 10.0.0.1/8\n  X11Forwarding yes\n", err: true},
		{name: "PermitTunnel values are case-sensitive", conf: "PermitTunnel YES\n", err: true},
	}
	for _, tc := range tests {
		files := map[string]string{"etc/ssh/sshd_config": tc.conf, "etc/passwd": passwd, "etc/group": group}
		for k, v := range tc.inc {
			files[k] = v
		}
		e := rootEnv(t, files)
		cfg, _, err := e.sshd()
		if err != nil {
			t.Fatal(err)
		}
		if tc.err {
			if cfg.Err == "" {
				t.Errorf("%s: no error", tc.name)
			}
			continue
		}
		if cfg.Err != "" {
			t.Errorf("%s: %s", tc.name, cfg.Err)
			continue
		}
		if got, _ := cfg.value(tc.ci, tc.key); got != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.name, tc.key, got, tc.want)
		}
	}
}

func TestPAMSemantics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       []string // auth lines: module args
	}{
		{"continuation joins nullok", "auth required pam_unix.so \\\n    nullok\n", []string{"pam_unix.so nullok"}},
		{"comment and blank lines inside a continuation", "auth required pam_unix.so \\\n# note\n\n  nullok\n", []string{"pam_unix.so nullok"}},
		{"comment ends the line before a backslash", "auth required pam_unix.so # x \\\nauth required pam_deny.so\n", []string{"pam_unix.so", "pam_deny.so"}},
		{"commented line", "#auth required pam_unix.so nullok\nauth required pam_deny.so\n", []string{"pam_deny.so"}},
		{"case-insensitive type and control", "AUTH REQUIRED pam_unix.so\n", []string{"pam_unix.so"}},
		{"bracketed control and argument", "auth [success=1 default=ignore] pam_unix.so [a b] nullok\n", []string{"pam_unix.so a b nullok"}},
		{"unknown type dropped", "bogus required pam_unix.so nullok\n", nil},
	}
	for _, tc := range tests {
		raw, err := parsePAM([]byte(tc.text), "/etc/pam.d/x")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, l := range raw {
			if l.Type == "auth" {
				got = append(got, strings.TrimSpace(l.Module+" "+strings.Join(l.Args, " ")))
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// includes: @include everything, include/substack one type, missing
	// @include aborts the service
	e := rootEnv(t, map[string]string{
		"etc/pam.d/common-auth": "auth required pam_unix.so nullok\naccount required pam_unix.so\n",
		"etc/pam.d/sshd":        "@include common-auth\nauth substack common-auth\naccount include common-auth\n",
		"etc/pam.d/broken":      "auth required pam_deny.so\n@include nosuch\n",
	})
	st, err := e.pamStack("sshd")
	if err != nil || len(filterPAM(st, "auth")) != 2 || len(filterPAM(st, "account")) != 2 {
		t.Errorf("sshd stack %+v %v: want 2 auth and 2 account lines", st, err)
	}
	if _, err := e.pamStack("broken"); err == nil {
		t.Errorf("missing @include: no error (libpam aborts the service)")
	}
	if _, err := parsePAM([]byte("auth required pam_unix.so \\\n"), "/x"); err == nil {
		t.Errorf("continuation at end of file: no error (libpam aborts)")
	}
}

func TestAuditSemantics(t *testing.T) {
	t.Parallel()
	// a fully commented-out rules file loads nothing
	e := rootEnv(t, map[string]string{"etc/audit/rules.d/50.rules": "#-w /etc/passwd -p wa -k identity\n# -w /etc/shadow -p wa\n"})
	if o := auditRules(e); o.state != StateFail {
		t.Errorf("commented-out rules: %s %v", o.state, o.evidence)
	}
	// augenrules: natural order, -D moved first, last -e wins at the end
	e = rootEnv(t, map[string]string{
		"etc/audit/rules.d/10-base.rules":     "-D\n-w /etc/passwd -p wa\n-e 2\n",
		"etc/audit/rules.d/9-early.rules":     "-w /etc/shadow -p wa\n",
		"etc/audit/rules.d/100-late.rules":    "-e 1\n-w /etc/group -p wa\n",
		"etc/audit/rules.d/50-trailing.rules": "-w /etc/gshadow -p wa # comment\n",
	})
	s, _ := e.auditRules()
	var paths []string
	for _, r := range s.Rules {
		paths = append(paths, r.Path)
	}
	if strings.Join(paths, ",") != "/etc/shadow,/etc/passwd,/etc/group" || s.Enabled != "1" || len(s.Bad) != 1 {
		t.Errorf("augenrules: paths %v enabled %q bad %v", paths, s.Enabled, s.Bad)
	}
	// audit.rules loaded directly: -D deletes earlier rules, nothing loads after -e 2
	e = rootEnv(t, map[string]string{"etc/audit/audit.rules": "-w /etc/passwd -p wa\n-D\n-w /etc/shadow -p wa\n-e 2\n-w /etc/group -p wa\n"})
	s, _ = e.auditRules()
	if len(s.Rules) != 1 || s.Rules[0].Path != "/etc/shadow" || s.Enabled != "2" {
		t.Errorf("audit.rules: %+v", s)
	}
	// a never rule before the always rule suppresses the syscall
	e = rootEnv(t, map[string]string{"etc/audit/rules.d/a.rules": "-a never,exit -F arch=b64 -S init_module\n-a always,exit -F arch=b64 -S init_module,finit_module,delete_module\n"})
	if o := auditModules(e); o.state != StateFail {
		t.Errorf("never rule: %s %v", o.state, o.evidence)
	}
}

func TestNftSemantics(t *testing.T) {
	t.Parallel()
	svc := func(name, proto string) (int, bool) { n, ok := builtinServices()[name+"/"+proto]; return n, ok }
	load := func(text string) *nftRuleset {
		rs, err := loadNft(nftSource{read: func(string) ([]byte, error) { return []byte(text), nil }, glob: func(string) []string { return nil }, services: svc}, "/etc/nftables.conf")
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	// Debian's stock nftables.conf: empty chains, policy accept
	stock := load("#!/usr/sbin/nft -f\nflush ruleset\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter;\n\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter;\n\t}\n\tchain output {\n\t\ttype filter hook output priority filter;\n\t}\n}\n")
	if ok, _ := stock.filtersInbound(); ok || stock.dropsSomething() {
		t.Errorf("stock nftables.conf filters inbound")
	}
	rs := load("table inet f {\n chain input { type filter hook input priority 0; policy drop;\n  tcp dport ssh accept\n  tcp dport 100-200 ip saddr 10.0.0.0/8 accept\n }\n}\n")
	if open, _ := rs.inboundOpen("tcp", 22); !open {
		t.Errorf("tcp dport ssh not seen as port 22")
	}
	if open, _ := rs.inboundOpen("tcp", 102); open {
		t.Errorf("102 in a source-limited range counted as open")
	}
	if !rs.acceptsFrom("tcp", 102, netip.MustParseAddr("10.1.2.3")) {
		t.Errorf("range with source limit not accepted from inside the source")
	}
	if bad := load("table inet f {\n chain input { type filter hook input priority 0;\n  tcp dport sshx accept\n }\n}\n"); bad.Err == "" {
		t.Errorf("unknown service name accepted")
	}
}

func TestFirewalldSemantics(t *testing.T) {
	t.Parallel()
	base := map[string]string{"usr/lib/systemd/system/firewalld.service": "", "etc/systemd/system/multi-user.target.wants/firewalld.service": ""}
	with := func(extra map[string]string) *env {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return rootEnv(t, m)
	}
	// built-in public zone: target default rejects, ssh is open
	e := with(map[string]string{"etc/firewalld/firewalld.conf": "DefaultZone=public\n"})
	if o := firewallDefaultDeny(e); o.state != StateFail || !strings.Contains(strings.Join(o.evidence, " "), "tcp/22") {
		t.Errorf("public zone: %s %v", o.state, o.evidence)
	}
	if o := hostFirewall(e); o.state != StatePass {
		t.Errorf("public zone FW-001: %s %v", o.state, o.evidence)
	}
	// trusted default zone accepts everything
	e = with(map[string]string{"etc/firewalld/firewalld.conf": "DefaultZone=trusted\n"})
	if ok, _ := e.firewalls()[0].filters(); ok {
		t.Errorf("trusted zone filters inbound")
	}
	// drop zone with ssh only from a source zone
	e = with(map[string]string{"etc/firewalld/firewalld.conf": "DefaultZone=drop\n",
		"etc/firewalld/zones/mgmt.xml": `<zone target="DROP"><source address="10.0.9.0/24"/><service name="ssh"/></zone>`})
	if o := firewallDefaultDeny(e); o.state != StatePass {
		t.Errorf("drop zone + source zone: %s %v", o.state, o.evidence)
	}
	if ev, ok := portLimitedTo(e, "tcp", 22, []netip.Prefix{netip.MustParsePrefix("10.0.9.0/24")}); !ok {
		t.Errorf("ssh from the mgmt source zone: %s", ev)
	}
}

func TestSysctlSemantics(t *testing.T) {
	t.Parallel()
	e := rootEnv(t, map[string]string{
		"usr/lib/sysctl.d/50-default.conf": "net.ipv4.conf.all.rp_filter = 2\n",
		"usr/lib/sysctl.d/10-net.conf":     "net/ipv4/conf/default/log_martians = 1\n",
		"etc/sysctl.d/50-default.conf":     "; the admin's copy hides the vendor file of the same name\nnet.ipv4.conf.all.rp_filter=1\n",
		"usr/lib/sysctl.d/99-late.conf":    "net.ipv4.tcp_syncookies = 0\n",
		"etc/sysctl.d/60-site.conf":        "net.ipv4.tcp_syncookies = 1\nnet.ipv4.conf.*.log_martians = 0\n",
		"etc/sysctl.conf":                  "net.ipv4.ip_forward = 1\n",
		"proc/sys/net/ipv4/tcp_syncookies": "1\n",
		"proc/sys/kernel/osrelease":        "6.1.0\n",
	})
	for name, want := range map[string]string{"net.ipv4.conf.all.rp_filter": "1", "net.ipv4.tcp_syncookies": "0", "net.ipv4.conf.default.log_martians": "1", "net.ipv4.conf.eth0.log_martians": "0"} {
		if s, _ := e.sysctlBoot(name); s.Value != want {
			t.Errorf("%s at boot = %q (%s), want %q", name, s.Value, s.Where, want)
		}
	}
	if _, ok := e.sysctlBoot("net.ipv4.ip_forward"); ok {
		t.Errorf("/etc/sysctl.conf read without the 99-sysctl.conf link")
	}
	// running 1, persisted 0 (99-late.conf sorts after 60-site.conf): drift fails
	if o := checkSysctls(e, []sysctlRule{{name: "net.ipv4.tcp_syncookies", want: 1}}); o.state != StateFail || !strings.Contains(o.evidence[0], "drift") {
		t.Errorf("drift: %s %v", o.state, o.evidence)
	}
}

func TestKmodSemantics(t *testing.T) {
	t.Parallel()
	e := rootEnv(t, map[string]string{
		"lib/modprobe.d/10-vendor.conf":         "install usb-storage /sbin/modprobe --ignore-install usb-storage\n",
		"etc/modprobe.d/20-site.conf":           "install usb_storage /bin/false\nblacklist sctp\ninstall tipc \\\n /bin/true\n",
		"proc/modules":                          "ext4 1 0 - Live 0x0\n",
		"proc/sys/kernel/osrelease":             "6.1.0-ics\n",
		"lib/modules/6.1.0-ics/modules.dep":     "kernel/net/sctp/sctp.ko.xz:\nkernel/drivers/usb/storage/usb-storage.ko.xz:\n",
		"lib/modules/6.1.0-ics/modules.builtin": "kernel/fs/udf/udf.ko\n",
	})
	for mod, want := range map[string]bool{"usb-storage": false, "tipc": true, "sctp": false, "dccp": true, "udf": false} {
		off, why, _ := e.moduleState(mod)
		if off != want {
			t.Errorf("%s disabled=%t (%s), want %t", mod, off, why, want)
		}
	}
	// no loadable-module support: nothing can load
	e = rootEnv(t, map[string]string{"proc/sys/kernel/osrelease": "6.1.0\n"})
	if off, why, _ := e.moduleState("dccp"); !off || !strings.Contains(why, "without loadable-module support") {
		t.Errorf("no module support: %t %s", off, why)
	}
}

func TestLoginDefsSemantics(t *testing.T) {
	t.Parallel()
	m := parseLoginDefs([]byte("PASS_MAX_DAYS = 90\nPASS_MIN_DAYS 010\nPASS_WARN_AGE 7 # days\npass_max_days 30\nUID_MIN \"2000\"\n"))
	for name, want := range map[string]int{"PASS_MAX_DAYS": -1, "PASS_MIN_DAYS": 8, "PASS_WARN_AGE": -1, "UID_MIN": 2000} {
		if got, _ := getdefNum(m, name, -1); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if n, _ := useraddInactive([]byte("INACTIVE = 30\n")); n != -1 {
		t.Errorf("INACTIVE = 30 read as %d (useradd ignores the line)", n)
	}
}

func TestRsyslogSemantics(t *testing.T) {
	t.Parallel()
	e := rootEnv(t, map[string]string{
		"etc/rsyslog.conf": "module(load=\"imuxsock\")\n$IncludeConfig /etc/rsyslog.d/*.conf\n#*.* @@commented.example:514\n/* *.* @@blockcomment:514 */\n" +
			"ruleset(name=\"unused\") {\n action(type=\"omfwd\" target=\"unused.collector\")\n}\n",
		"etc/rsyslog.d/90-fwd.conf":        "*.* action(\n  type=\"omfwd\"\n  Target=\"10.0.0.9\" port=\"6514\"\n  protocol=\"tcp\"\n)\n",
		"etc/rsyslog.d/91-legacy.conf.off": "*.* @@disabled:514\n",
	})
	ts, _, err := rsyslogForwarding(e.readAbs, absGlob(e.root), "/etc/rsyslog.conf")
	if err != nil || len(ts) != 1 || ts[0].Host != "10.0.0.9" || ts[0].Proto != "tcp" {
		t.Errorf("targets %+v %v, want only the multi-line omfwd to 10.0.0.9", ts, err)
	}
}

// TestListenerPortsNotSubstrings: an S7 listener on 0.0.0.0:102 with a
// firewall that only limits other ports, or names addresses containing
// "102", is open to any source.
func TestListenerPortsNotSubstrings(t *testing.T) {
	t.Parallel()
	e := rootEnv(t, map[string]string{
		"proc/net/tcp":      "  sl  local_address rem_address   st\n   0: 00000000:0066 00000000:0000 0A 0\n",
		"etc/nftables.conf": "table inet f {\n chain input { type filter hook input priority 0; policy accept;\n  tcp dport 1020 ip saddr 10.0.0.102 accept\n  tcp dport 22 ip saddr 10.102.0.0/16 accept\n  tcp dport 22 drop\n }\n}\n",
		"etc/systemd/system/sysinit.target.wants/nftables.service": "",
	})
	if o := icsListeners(e); o.state != StateFail {
		t.Errorf("0.0.0.0:102 with no rule for 102: %s %v", o.state, o.evidence)
	}
}
