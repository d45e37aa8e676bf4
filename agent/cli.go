// Package agent is edgeward's command line and daemon: it loads the
// configuration, wires the collectors to the durable buffer and the buffer to
// the MQTT uplink, and owns their lifecycle (context cancellation, graceful
// shutdown that flushes, self-metrics).
package agent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"github.com/edgeward/edgeward/agent/internal/config"
	"github.com/edgeward/edgeward/collectors/baseline"
)

// Version is the agent version, stamped at build time with
// -ldflags "-X github.com/edgeward/edgeward/agent.Version=...".
var Version = "dev"

// errUsage marks a command-line mistake; Main prints the usage and exits 2.
var errUsage = errors.New("usage")

// command is one subcommand of the edgeward binary.
type command struct {
	name    string
	args    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv carries the streams of one invocation, so that tests run commands
// in-process without touching os.Stdout.
type cliEnv struct {
	stdout, stderr io.Writer
}

// commands lists the subcommands in the order `edgeward --help` shows them.
func commands() []command {
	return []command{
		{"run", "[-c FILE]", "the daemon: collectors + buffer + uplink", cmdRun},
		{"scan", "[-c FILE] [--format table|json|html] [-o FILE] [--root DIR]", "one-shot baseline check and star-level score, no broker needed", cmdScan},
		{"replay", "FILE... [--format table|json] [--strict] [-c FILE]", "decode captures offline: assets, flows, events and protocol counts", cmdReplay},
		{"check-config", "[-c FILE]", "validate the config and print the effective config (secrets redacted)", cmdCheckConfig},
		{"buffer", "stats|dump [-c FILE] [--format text|json]", "inspect the store-and-forward buffer", cmdBuffer},
		{"listen", "[-c FILE] [--format text|json] [--count N]", "subscribe to the broker and print records (for integrators)", cmdListen},
		{"probe", "[--format table|json] [--timeout D] TARGET...", "opt-in active identification of Modbus and OPC UA devices", cmdProbe},
		{"advisories", "update FILE|show [-c FILE]", "install or show the offline known-vulnerability advisory list", cmdAdvisories},
		{"service", "install|uninstall|start|stop|status [-c FILE]", "manage the system service (systemd, Windows service)", cmdService},
		{"version", "", "print the version", cmdVersion},
	}
}

// Main runs the edgeward command line with args (without the program name)
// and returns the process exit code: 0 on success (and for --help), 1 on
// failure, 2 on a usage error. Every error is printed once, on stderr.
func Main(args []string, stdout, stderr io.Writer) int {
	env := &cliEnv{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "-version", "--version":
		return exitCode(env, "version", cmdVersion(context.Background(), env, args[1:]))
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return exitCode(env, c.name, c.run(ctx, env, args[1:]))
	}
	fmt.Fprintf(stderr, "edgeward: unknown command %q (run 'edgeward --help' for the commands)\n", args[0])
	return 2
}

// exitCode prints err for command name and returns the exit code.
func exitCode(env *cliEnv, name string, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(env.stderr, "edgeward %s: %s (run 'edgeward %s --help' for its usage)\n",
			name, strings.TrimPrefix(err.Error(), errUsage.Error()+": "), strings.Fields(name)[0])
		return 2
	default:
		fmt.Fprintf(env.stderr, "edgeward %s: %v\n", name, err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "edgeward %s — security agent for industrial hosts and PLC networks\n\nusage:\n", Version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  edgeward %-13s %s\n      %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintf(w, "  edgeward --version\n\nRun 'edgeward COMMAND --help' for a command's flags. Default config: %s\n", config.DefaultFile())
}

// cmdFlags is a command's flag set. Parse errors are returned (as usage
// errors), never printed by the flag package, so that each is printed once;
// --help prints the usage and every flag on stdout.
type cmdFlags struct {
	*flag.FlagSet
	env   *cliEnv
	usage string // the synopsis after "edgeward NAME"
	help  string // more lines after the synopsis, or ""
}

// newCmdFlags returns the flag set of command name (e.g. "buffer dump")
// with synopsis args.
func newCmdFlags(env *cliEnv, name, args string) *cmdFlags {
	fs := flag.NewFlagSet("edgeward "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, env: env, usage: strings.TrimSpace(name + " " + args)}
}

// newFlags returns a command's flag set with the common -c/--config flag.
func newFlags(env *cliEnv, name, args string) (*cmdFlags, *string) {
	fs := newCmdFlags(env, name, args)
	cfg := fs.String("c", "", "config file (default "+config.DefaultFile()+" when it exists, else built-in defaults)")
	fs.StringVar(cfg, "config", "", "same as -c")
	return fs, cfg
}

// printHelp writes the usage and every flag to stdout.
func (f *cmdFlags) printHelp() {
	w := f.env.stdout
	fmt.Fprintf(w, "usage: edgeward %s\n", f.usage)
	if f.help != "" {
		fmt.Fprintln(w, f.help)
	}
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "flags:")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
}

// parse parses flags and refuses positional arguments.
func (f *cmdFlags) parse(args []string) error {
	pos, err := f.parseArgs(args)
	if err != nil {
		return err
	}
	return f.noArgs(pos)
}

// parseArgs parses flags that may appear before, between or after
// positional arguments (`replay a.pcap --format json`), and returns the
// positional arguments.
func (f *cmdFlags) parseArgs(args []string) ([]string, error) {
	var pos []string
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.printHelp()
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// noArgs refuses positional arguments; one that names a YAML file (or an
// existing file) was most likely meant as the config file, a directory as
// the root of a scan.
func (f *cmdFlags) noArgs(pos []string) error {
	if len(pos) == 0 {
		return nil
	}
	a := pos[0]
	if st, err := os.Stat(a); err == nil && st.IsDir() && f.Lookup("root") != nil {
		return fmt.Errorf("%w: unexpected argument %q; did you mean --root %s?", errUsage, a, a)
	}
	if ext := strings.ToLower(filepath.Ext(a)); f.Lookup("c") != nil && (ext == ".yaml" || ext == ".yml" || exists(a)) {
		return fmt.Errorf("%w: unexpected argument %q; did you mean -c %s?", errUsage, a, a)
	}
	return fmt.Errorf("%w: unexpected argument %q", errUsage, a)
}

// nonNegative refuses a negative count flag.
func nonNegative(name string, v int) error {
	if v < 0 {
		return fmt.Errorf("%w: --%s must be 0 or more, got %d", errUsage, name, v)
	}
	return nil
}

// oneOf returns an errUsage error unless v is one of allowed.
func oneOf(flagName, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%w: --%s must be one of %s, got %q", errUsage, flagName, strings.Join(allowed, ", "), v)
}

// loadConfig loads the config file named by -c, or the default file when it
// exists, or else the built-in defaults. It also validates the parts of the
// config that belong to a collector (the baseline site policy and
// self-declared answers), so that `check-config` and `run` report them too.
func loadConfig(path string) (config.Config, error) {
	return loadWith(path, checkCollectorConfig)
}

// loadRunConfig is loadConfig plus preflight: it refuses everything that
// run would refuse at start. run, check-config and service install use it.
func loadRunConfig(path string) (config.Config, error) {
	return loadWith(path, func(c config.Config) []*config.Error {
		if errs := checkCollectorConfig(c); len(errs) > 0 {
			return errs
		}
		return preflight(c)
	})
}

func loadWith(path string, check func(config.Config) []*config.Error) (config.Config, error) {
	l := config.Loader{Check: check}
	if path == "" && !exists(config.DefaultFile()) {
		return l.Parse("<built-in defaults>", nil)
	}
	if path == "" {
		path = config.DefaultFile()
	}
	return l.Load(path)
}

// checkCollectorConfig validates the config sections that a collector owns,
// as config errors that name the key (and so the line).
func checkCollectorConfig(c config.Config) []*config.Error {
	err := newSettings(c, "", Version).baseline.Validate()
	if err == nil {
		return nil
	}
	e := &config.Error{Key: "collectors.baseline", Msg: err.Error(), Err: config.ErrInvalid, Cause: err}
	if ce, ok := errors.AsType[*baseline.ConfigError](err); ok {
		e.Key, e.Msg = "collectors.baseline."+ce.Key, ce.Msg
	}
	return []*config.Error{e}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func cmdVersion(_ context.Context, env *cliEnv, args []string) error {
	if err := newCmdFlags(env, "version", "").parse(args); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "edgeward %s %s/%s %s\n", Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
	return nil
}

func cmdCheckConfig(_ context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "check-config", "[-c FILE]")
	fs.help = "Validates the config as run does at start (files, TLS material, interfaces, the buffer\n" +
		"directory) and prints the effective configuration, secrets redacted."
	if err := fs.parse(args); err != nil {
		return err
	}
	c, err := loadRunConfig(*cfgPath)
	if err != nil {
		return err
	}
	return config.WriteEffective(env.stdout, c)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
