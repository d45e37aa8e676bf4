//go:build !linux && !windows

package passive

import (
	"fmt"

	"github.com/edgeward/edgeward/collectors"
)

// OpenLive reports that live capture is not available on this operating
// system: only Linux (AF_PACKET) and Windows (Npcap) are supported. The error
// wraps collectors.ErrNotApplicable. Files can still be replayed with
// OpenFile.
func OpenLive(iface string, opts LiveOptions) (Source, error) {
	return nil, fmt.Errorf("open live capture on %q: live capture needs Linux or Windows: %w", iface, collectors.ErrNotApplicable)
}
