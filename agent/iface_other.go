//go:build !windows

package agent

import (
	"fmt"
	"net"
)

// checkInterface checks that a capture interface exists (whether it is up
// is a state of the moment, which run waits out).
func checkInterface(name string) error {
	if _, err := net.InterfaceByName(name); err != nil {
		return fmt.Errorf("no network interface %q on this host (list them with \"ip link\")", name)
	}
	return nil
}
