package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line in-process.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestCLITable runs every command and subcommand with --help, an unknown
// flag, an extra argument and a missing file, and checks the exit code and
// the first line of the output: help on stdout with exit 0, usage errors
// printed once on stderr with exit 2, a missing file named with exit 1.
func TestCLITable(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing", "edgeward.yaml")
	dir := t.TempDir()
	type cmd struct {
		name   string   // as in messages: "buffer stats"
		args   []string // command words
		config bool     // takes -c FILE
		noArgs bool     // refuses positional arguments
	}
	cmds := []cmd{
		{"run", []string{"run"}, true, true},
		{"scan", []string{"scan"}, true, true},
		{"replay", []string{"replay"}, true, false},
		{"check-config", []string{"check-config"}, true, true},
		{"buffer stats", []string{"buffer", "stats"}, true, true},
		{"buffer dump", []string{"buffer", "dump"}, true, true},
		{"listen", []string{"listen"}, true, true},
		{"probe", []string{"probe"}, false, false},
		{"advisories update", []string{"advisories", "update"}, true, false},
		{"advisories show", []string{"advisories", "show"}, true, true},
		{"service install", []string{"service", "install"}, true, true},
		{"service uninstall", []string{"service", "uninstall"}, false, true},
		{"service start", []string{"service", "start"}, false, true},
		{"service stop", []string{"service", "stop"}, false, true},
		{"service status", []string{"service", "status"}, false, true},
		{"version", []string{"version"}, false, true},
	}
	// Every command of `edgeward --help` is in the table.
	for _, c := range commands() {
		found := false
		for _, tc := range cmds {
			found = found || tc.args[0] == c.name
		}
		if !found {
			t.Errorf("command %q is missing from the table", c.name)
		}
	}
	type row struct {
		cmd       cmd
		what      string
		args      []string
		code      int
		stdout    bool   // the first line is on stdout (else stderr)
		wantFirst string // prefix of the first line
	}
	var rows []row
	for _, c := range cmds {
		top := strings.Fields(c.name)[0]
		rows = append(rows,
			row{c, "--help", append(append([]string{}, c.args...), "--help"), 0, true, "usage: edgeward " + c.name},
			row{c, "unknown flag", append(append([]string{}, c.args...), "--bogus"), 2, false,
				"edgeward " + top + ": flag provided but not defined: -bogus (run 'edgeward " + top + " --help' for its usage)"})
		if c.noArgs {
			want := `edgeward ` + top + `: unexpected argument "extra.yaml"`
			if c.config {
				want += "; did you mean -c extra.yaml?"
			}
			rows = append(rows, row{c, "extra argument", append(append([]string{}, c.args...), "extra.yaml"), 2, false, want})
		}
		switch {
		case c.config && c.name == "replay":
			rows = append(rows, row{c, "missing file", []string{"replay", missing}, 1, false, "edgeward replay: "})
		case c.config:
			rows = append(rows, row{c, "missing file", append(append([]string{}, c.args...), "-c", missing), 1, false,
				"edgeward " + top + ": " + missing + ": cannot read the config file: "})
		}
	}
	rows = append(rows,
		row{cmd{name: "edgeward"}, "--help", []string{"--help"}, 0, true, "edgeward "},
		row{cmd{name: "edgeward"}, "--version", []string{"--version"}, 0, true, "edgeward "},
		row{cmd{name: "edgeward"}, "unknown command", []string{"bogus"}, 2, false, `edgeward: unknown command "bogus"`},
		row{cmd{name: "buffer"}, "--help", []string{"buffer", "--help"}, 0, true, "usage: edgeward buffer stats|dump"},
		row{cmd{name: "service"}, "--help", []string{"service", "--help"}, 0, true, "usage: edgeward service install"},
		row{cmd{name: "advisories"}, "--help", []string{"advisories", "--help"}, 0, true, "usage: edgeward advisories update FILE|show"},
		row{cmd{name: "listen"}, "negative --count", []string{"listen", "--count", "-1"}, 2, false, "edgeward listen: --count must be 0 or more, got -1"},
		row{cmd{name: "buffer dump"}, "negative --limit", []string{"buffer", "dump", "--limit", "-1"}, 2, false, "edgeward buffer: --limit must be 0 or more, got -1"},
		row{cmd{name: "scan"}, "a directory as argument", []string{"scan", dir}, 2, false,
			fmt.Sprintf("edgeward scan: unexpected argument %q; did you mean --root %s?", dir, dir)},
		row{cmd{name: "scan"}, "missing --root", []string{"scan", "--root", filepath.Join(t.TempDir(), "nope")}, 1, false, "edgeward scan: --root "},
	)
	for _, r := range rows {
		t.Run(r.cmd.name+"/"+r.what, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(r.args...)
			out, other := stderr, stdout
			if r.stdout {
				out, other = stdout, stderr
			}
			if code != r.code || !strings.HasPrefix(firstLine(out), r.wantFirst) {
				t.Errorf("edgeward %s: exit %d, first line %q; want exit %d and %q\nstdout:\n%s\nstderr:\n%s",
					strings.Join(r.args, " "), code, firstLine(out), r.code, r.wantFirst, stdout, stderr)
			}
			if other != "" && r.code != 0 {
				t.Errorf("edgeward %s also wrote to the other stream:\n%s", strings.Join(r.args, " "), other)
			}
			if r.code == 2 && strings.Count(stderr, "\n") != 1 {
				t.Errorf("edgeward %s: a usage error must be one line, got:\n%s", strings.Join(r.args, " "), stderr)
			}
		})
	}
	t.Logf("CLI table: %d rows over %d commands and subcommands", len(rows), len(cmds))
}

// TestHelpDocumentsEveryFlag checks that --help lists every flag that a
// command defines.
func TestHelpDocumentsEveryFlag(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"run"}, {"scan"}, {"replay"}, {"check-config"}, {"buffer", "stats"}, {"buffer", "dump"},
		{"listen"}, {"probe"}, {"service", "install"},
	} {
		_, stdout, _ := runCLI(append(args, "--help")...)
		var flags []string
		for _, line := range strings.Split(stdout, "\n") {
			if f, ok := strings.CutPrefix(strings.TrimSpace(line), "-"); ok {
				flags = append(flags, strings.Fields(f)[0])
			}
		}
		if len(flags) == 0 {
			t.Errorf("edgeward %s --help lists no flag:\n%s", strings.Join(args, " "), stdout)
		}
		// Each listed flag is accepted (as --flag=value or --flag).
		for _, f := range flags {
			code, _, stderr := runCLI(append(args, "--"+f+"=x", "--help")...)
			if code == 2 && strings.Contains(stderr, "not defined") {
				t.Errorf("edgeward %s --help lists -%s, which is not a flag", strings.Join(args, " "), f)
			}
		}
	}
}

// TestREADMEMinimumConfigPasses checks README's "minimum" config with
// check-config, its /etc/edgeward and /var/lib/edgeward paths moved into a
// temporary directory that holds the TLS material and password it names.
func TestREADMEMinimumConfigPasses(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "The minimum:\n\n```yaml\n")
	if !ok {
		t.Fatal(`README.md has no "The minimum:" yaml block`)
	}
	doc, _, _ := strings.Cut(rest, "```")
	dir := t.TempDir()
	pki := newTestPKI(t, dir)
	doc = strings.NewReplacer(
		"/etc/edgeward/ca.pem", pki.ca, "/etc/edgeward/agent.pem", pki.cert, "/etc/edgeward/agent.key", pki.key,
		"/etc/edgeward/", dir+"/", "/var/lib/edgeward/", dir+"/var/",
	).Replace(doc)
	if err := os.WriteFile(filepath.Join(dir, "mqtt.password"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "edgeward.yaml")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI("check-config", "-c", cfg); code != 0 {
		t.Errorf("README's minimum config fails check-config (exit %d):\n%s\n%s", code, stderr, doc)
	}
}
