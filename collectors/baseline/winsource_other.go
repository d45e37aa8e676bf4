//go:build !windows

package baseline

import (
	"fmt"

	"github.com/edgeward/edgeward/collectors"
)

// openWinSource fails outside Windows: the Windows probes need the registry
// and the service manager.
func openWinSource() (winSource, error) {
	return nil, fmt.Errorf("open registry: %w", collectors.ErrNotApplicable)
}
