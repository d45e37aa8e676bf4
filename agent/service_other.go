//go:build !windows

package agent

import (
	"log/slog"

	"github.com/edgeward/edgeward/agent/internal/config"
)

// serviceLogger keeps the logger outside Windows: systemd collects the
// service's stderr in the journal.
func serviceLogger(_ config.Config, log *slog.Logger) (*slog.Logger, func()) {
	return log, func() {}
}
