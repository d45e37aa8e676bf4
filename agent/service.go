package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/kardianos/service"

	"github.com/edgeward/edgeward/agent/internal/config"
)

// serviceName is the name of the system service (systemd unit, Windows
// service) that `edgeward service install` creates.
const serviceName = "edgeward"

// serviceProgram adapts runAgent to the service manager: Start launches the
// agent in the background, Stop cancels it and waits for the flush.
type serviceProgram struct {
	cfg     config.Config
	cfgPath string
	log     *slog.Logger
	// exit ends the process when the agent stops without a Stop request;
	// nil means os.Exit (a test seam).
	exit   func(code int)
	cancel context.CancelFunc
	done   chan error
}

// Start implements service.Interface: it runs the agent in the background.
func (p *serviceProgram) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() {
		err := runAgent(ctx, p.cfg, p.cfgPath, p.log)
		if ctx.Err() == nil {
			// The agent gave up on its own (say, the buffer file is locked
			// or the uplink config is refused). The service manager would
			// keep reporting a running service that does nothing, so log
			// the cause and exit non-zero: systemd (Restart=on-failure) or
			// the Windows recovery actions restart it.
			p.log.Error("agent stopped; exiting so that the service manager restarts it", "err", err)
			exit := p.exit
			if exit == nil {
				exit = os.Exit
			}
			exit(1)
		}
		p.done <- err
	}()
	return nil
}

// Stop implements service.Interface: it cancels the agent and waits for
// its shutdown.
func (p *serviceProgram) Stop(service.Service) error {
	p.cancel()
	return <-p.done
}

func newService(prg service.Interface, cfgPath string) (service.Service, error) {
	args := []string{"run"}
	if cfgPath != "" {
		abs, err := filepath.Abs(cfgPath)
		if err != nil {
			return nil, fmt.Errorf("resolve config path: %w", err)
		}
		args = append(args, "-c", abs)
	}
	return service.New(prg, &service.Config{
		Name:        serviceName,
		DisplayName: "edgeward security agent",
		Description: "Host inventory, baseline checks and passive ICS network observation, uplinked over MQTT.",
		Arguments:   args,
	})
}

// cmdService installs, removes, starts or stops the system service.
func cmdService(_ context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintf(env.stdout, "usage: edgeward service install [-c FILE] | uninstall | start | stop | status\n"+
			"  install    install the system service (systemd unit, Windows service) that runs 'edgeward run',\n"+
			"             with -c FILE as its config; the config is checked as check-config does first\n"+
			"  uninstall  remove the service\n"+
			"  start, stop, status  control and show it (install, uninstall, start and stop need root/administrator)\n")
		return nil
	}
	if len(args) == 0 {
		return fmt.Errorf("%w: want install, uninstall, start, stop or status", errUsage)
	}
	action := args[0]
	switch action {
	case "install", "uninstall", "start", "stop", "status":
	default:
		return fmt.Errorf("%w: unknown action %q; want install, uninstall, start, stop or status", errUsage, action)
	}
	var fs *cmdFlags
	cfgPath := new(string)
	if action == "install" {
		fs, cfgPath = newFlags(env, "service install", "[-c FILE]")
	} else {
		fs = newCmdFlags(env, "service "+action, "")
	}
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	if action == "install" {
		// Refuse to install a service that would fail at its first start.
		if _, err := loadRunConfig(*cfgPath); err != nil {
			return err
		}
	}
	s, err := newService(&serviceProgram{}, *cfgPath)
	if err != nil {
		return err
	}
	if action == "status" {
		st, err := s.Status()
		if err != nil {
			return fmt.Errorf("query service %q: %w", serviceName, err)
		}
		name := map[service.Status]string{service.StatusRunning: "running", service.StatusStopped: "stopped"}[st]
		if name == "" {
			name = "unknown"
		}
		fmt.Fprintf(env.stdout, "%s: %s\n", serviceName, name)
		return nil
	}
	if err := service.Control(s, action); err != nil {
		return fmt.Errorf("%s service %q (needs administrator/root rights): %w", action, serviceName, err)
	}
	fmt.Fprintf(env.stdout, "service %s: %s done (%s)\n", serviceName, action, service.Platform())
	return nil
}

// runUnderManager runs the agent through the service manager when edgeward
// was started by it (Windows SCM in particular, which needs the service
// control handshake); it reports false when the process is interactive.
func runUnderManager(c config.Config, cfgPath string, log *slog.Logger) (bool, error) {
	if service.Interactive() {
		return false, nil
	}
	log, closeLog := serviceLogger(c, log)
	defer closeLog()
	prg := &serviceProgram{cfg: c, cfgPath: cfgPath, log: log}
	s, err := newService(prg, cfgPath)
	if err != nil {
		return true, err
	}
	return true, s.Run()
}
