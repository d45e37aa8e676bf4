// Package baseline checks an industrial host against the hardening baseline of
// the ICS guidelines (MIIT 2016 and 2024 guides, GB/T 41400-2022 process
// areas) and rolls the results up into an indicative, host-observable star
// level (星级).
//
// # Basics
//
// The catalog (116 checks, 65 Linux and 51 Windows) is embedded data
// (catalog.json, generated from shared/docs/baseline-catalog.md §3 and
// extended by issue 10). Every check has exactly one probe for its OS. Linux
// probes read files under a configurable root (Config.Root: "/" in
// production, a fixture tree in tests), parse them with pure functions and
// never shell out. Each configuration is read the way its daemon reads it:
// sshd_config with Include and Match blocks evaluated per connection
// (sshd.go), PAM stacks as libpam assembles them (pam.go), the audit rules
// augenrules/auditctl load (audit.go), nftables, iptables, ufw and firewalld
// rulesets evaluated for a new inbound connection (nft.go, iptables.go,
// firewalld.go), login.defs as shadow's getdef (logindefs.go), rsyslog
// (rsyslog.go), sysctl.d in systemd-sysctl order beside the running value
// (sysctl.go) and modprobe.d as kmod (kmod.go). The tests compare these
// parsers with the real tools (sshd -T, libpam, nft, iptables-restore,
// useradd) on generated corpora. Windows probes read the registry, the
// service manager and the local security policy through the small
// winSource interface, so their decision logic is tested here with fixture
// values on every OS.
//
// A probe yields PASS, FAIL, NOT_APPLICABLE, NOT_CONFIGURED (a check that
// needs site input which the site policy does not give), ERROR (the probe
// could not read what it needs; for example "permission denied reading
// etc/shadow" when run unprivileged) or EXEMPT (an approved exception listed in
// the site policy). Each result carries evidence (what was read) and the
// catalog's remediation.
//
// Scoring follows §4 of the catalog: severity weights Critical 10, High 5,
// Medium 3, Low 1; per level N the weighted score S_N over the applicable
// checks with star ≤ N; gates (open Criticals, Highs from lower levels,
// platform integration at ★3/★4); thresholds 0.80, 0.85, 0.90, 0.90; the host
// level is the highest N for which every n ≤ N holds. Self-declared answers
// for organisational controls are scored separately (L_org) and never mixed
// into the host score.
//
// # Caveats
//
//   - The star level is a pre-assessment of the technical, host-observable
//     part only; the official rating is decided through the provincial
//     programme.
//   - Linux probes read configuration files and /proc, not the output of
//     `sshd -T`, `auditctl -l` or `nft list ruleset`: state that only a
//     running daemon holds (a ruleset loaded by hand and never saved, rules
//     added with auditctl) is not seen; sysctls are compared running and
//     persisted.
//   - The file-system walk (SUID/SGID, world-writable, unowned files) and
//     the package verification are bounded per scan; the evidence says how
//     far they got.
//   - On RPM hosts the package database (SQLite) is not read; installed
//     software is inferred from unit files and binaries, and package
//     integrity (LNX-MAL-004) is an ERROR that says so.
//   - ERROR results count as 0 in a one-shot Scan. In Run, an ERROR is scored
//     with the last known result of the same check for 24 h (catalog §4.1).
package baseline
