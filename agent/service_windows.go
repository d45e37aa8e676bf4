package agent

import (
	"log/slog"
	"path/filepath"

	"github.com/edgeward/edgeward/agent/internal/config"
)

// Size cap and number of old files of the service log.
const (
	serviceLogMax  = 10 << 20
	serviceLogKeep = 5
)

// serviceLogPath is %ProgramData%\edgeward\log\edgeward.log.
func serviceLogPath() string {
	return filepath.Join(filepath.Dir(config.DefaultFile()), "log", "edgeward.log")
}

// serviceLogger is the agent's logger when the Windows service manager runs
// it: a service has no console, so the log goes to a file rotated at
// 10 MiB with 5 old files kept (serviceLogPath). If the file cannot be
// opened, the given logger is kept and the reason logged to it.
func serviceLogger(c config.Config, fallback *slog.Logger) (*slog.Logger, func()) {
	f, err := openRotating(serviceLogPath(), serviceLogMax, serviceLogKeep)
	if err != nil {
		fallback.Warn("service log file unavailable; logging to stderr", "err", err)
		return fallback, func() {}
	}
	return newLogger(f, c.Log), func() { f.Close() }
}
