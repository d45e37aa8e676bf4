// Package baseline checks an industrial host against the hardening baseline of
// the ICS guidelines (MIIT 2016 and 2024 guides, GB/T 41400-2022 process
// areas) and rolls the results up into an indicative, host-observable star
// level (星级).
//
// # Basics
//
// The catalog (92 checks, 46 Linux and 46 Windows) is embedded data
// (catalog.json, generated from shared/docs/baseline-catalog.md §3). Every
// check has exactly one probe for its OS. Linux probes read files under a
// configurable root (Config.Root: "/" in production, a fixture tree in tests),
// parse them with pure functions and never shell out. Windows probes read the
// registry, the service manager and the local security policy through the
// small winSource interface, so their decision logic is tested here with
// fixture values on every OS.
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
//     `sshd -T`, `auditctl -l` or `nft list ruleset`: effective values that
//     only a running daemon knows (a ruleset loaded by hand and never saved,
//     Match blocks in sshd_config) are not seen.
//   - On RPM hosts the package database (SQLite) is not read; installed
//     software is inferred from unit files and binaries.
//   - ERROR results count as 0 in a one-shot Scan. In Run, an ERROR is scored
//     with the last known result of the same check for 24 h (catalog §4.1).
package baseline
