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
		{"replay", "FILE... [--format table|json] [-c FILE]", "decode captures offline: assets, flows, events and protocol counts", cmdReplay},
		{"check-config", "[-c FILE]", "validate the config and print the effective config (secrets redacted)", cmdCheckConfig},
		{"buffer", "stats|dump [-c FILE] [--format text|json]", "inspect the store-and-forward buffer", cmdBuffer},
		{"listen", "[-c FILE] [--format text|json] [--count N]", "subscribe to the broker and print records (for integrators)", cmdListen},
		{"probe", "[--format table|json] [--timeout D] TARGET...", "opt-in active identification of Modbus and OPC UA devices", cmdProbe},
		{"service", "install|uninstall|start|stop|status [-c FILE]", "manage the system service (systemd, Windows service)", cmdService},
		{"version", "", "print the version", cmdVersion},
	}
}

// Main runs the edgeward command line with args (without the program name)
// and returns the process exit code: 0 on success, 1 on failure, 2 on a
// usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	env := &cliEnv{stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, env, args[1:])
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "edgeward %s: %v\nusage: edgeward %s %s\n", c.name, err, c.name, c.args)
			return 2
		default:
			fmt.Fprintf(stderr, "edgeward %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "edgeward: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "edgeward %s — security agent for industrial hosts and PLC networks\n\nusage:\n", Version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  edgeward %-13s %s\n      %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'edgeward COMMAND --help' for a command's flags. Default config: %s\n", config.DefaultFile())
}

// newFlags returns a flag set for a subcommand whose errors and help go to
// env.stderr, with the common -c/--config flag.
func newFlags(env *cliEnv, name, args string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("edgeward "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: edgeward %s %s\n", name, args)
		fs.PrintDefaults()
	}
	cfg := fs.String("c", "", "config file (default "+config.DefaultFile()+" when it exists, else built-in defaults)")
	fs.StringVar(cfg, "config", "", "same as -c")
	return fs, cfg
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments (`replay a.pcap --format json`), and returns the
// positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
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
	l := config.Loader{Check: checkCollectorConfig}
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
	fs := flag.NewFlagSet("edgeward version", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "edgeward %s %s/%s %s\n", Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
	return nil
}

func cmdCheckConfig(_ context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "check-config", "[-c FILE]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := loadConfig(*cfgPath)
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
