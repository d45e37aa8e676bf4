//go:build !linux && !windows

package host

import (
	"context"
	"fmt"

	"github.com/edgeward/edgeward/collectors"
	gohost "github.com/shirou/gopsutil/v3/host"
)

// osParts on other systems: the hostname and gopsutil's users; software and
// services are not applicable.
func (c *Collector) osParts() []part {
	return []part{
		{"hostname", c.readHostname},
		{"users", c.readUsers},
		{"software", notApplicable},
		{"services", notApplicable},
	}
}

func notApplicable(context.Context, *Inventory) error { return collectors.ErrNotApplicable }

func (c *Collector) readUsers(ctx context.Context, inv *Inventory) error {
	us, err := gohost.UsersWithContext(ctx)
	if err != nil {
		return fmt.Errorf("read users: %w", err)
	}
	for _, u := range us {
		inv.Users = append(inv.Users, User{Name: u.User, Terminal: u.Terminal, Host: u.Host})
	}
	inv.Users = capList(inv, "users", inv.Users, MaxUsers)
	return nil
}
