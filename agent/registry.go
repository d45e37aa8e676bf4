package agent

import (
	"fmt"
	"log/slog"

	"github.com/edgeward/edgeward/agent/internal/config"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/baseline"
	"github.com/edgeward/edgeward/collectors/host"
	"github.com/edgeward/edgeward/collectors/passive"
)

// buildCollectors is the registry: one line per collector, in a fixed order,
// built only when enabled. It has no init() side effects.
func buildCollectors(c config.Config, s settings, log *slog.Logger) ([]collectors.Collector, error) {
	var out []collectors.Collector
	add := func(name string, enabled bool, build func(*slog.Logger) (collectors.Collector, error)) error {
		if !enabled {
			return nil
		}
		col, err := build(log) // each collector adds its own "collector" attribute
		if err != nil {
			return fmt.Errorf("configure collectors.%s: %w", name, err)
		}
		out = append(out, col)
		return nil
	}
	var seen *passive.Collector // the passive collector, for active identification
	steps := []error{
		add("host", c.Collectors.Host.Enabled, func(l *slog.Logger) (collectors.Collector, error) { return host.New(s.host, l) }),
		add("baseline", c.Collectors.Baseline.Enabled, func(l *slog.Logger) (collectors.Collector, error) {
			return baseline.New(withLocalProbes(s.baseline), l)
		}),
		add("passive", c.Collectors.Passive.Enabled, func(l *slog.Logger) (collectors.Collector, error) {
			var err error
			seen, err = passive.New(s.passive, l)
			return seen, err
		}),
		add("active", c.Collectors.Active.Enabled, func(l *slog.Logger) (collectors.Collector, error) {
			return newActiveCollector(s.active, seen, l)
		}),
	}
	for _, err := range steps {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
