package host

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows/registry"

	"github.com/edgeward/edgeward/collectors/schematest"
)

// TestCollectWindows takes a real inventory of this Windows host (Wine in
// the Windows lane): a listening socket of this process with its owner,
// programs seeded in the machine-wide 32-bit view and in the current user's
// Uninstall key, services, updates; every part it could not read is named
// in Unavailable with a reason, and the record validates against the
// schema.
func TestCollectWindows(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	tag := fmt.Sprintf("edgeward-test-%d", time.Now().UnixNano())
	seeded := map[string]string{} // DisplayName → where
	seed := func(root registry.Key, access uint32, where string) {
		path := uninstallKey + `\` + tag
		k, _, err := registry.CreateKey(root, path, registry.ALL_ACCESS|access)
		if err != nil {
			t.Logf("cannot seed %s (%v): not checked", where, err)
			return
		}
		name := tag + " " + where
		k.SetStringValue("DisplayName", name)
		k.SetStringValue("DisplayVersion", "1.2.3")
		k.SetStringValue("Publisher", "edgeward tests")
		k.SetStringValue("InstallDate", "20261120")
		k.Close()
		seeded[name] = where
		t.Cleanup(func() { registry.DeleteKey(root, path) })
	}
	seed(registry.LOCAL_MACHINE, registry.WOW64_32KEY, "x86")
	seed(registry.CURRENT_USER, 0, "user")

	c, err := New(Config{Key: "agent-01"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	unavailable := map[string]string{}
	for _, u := range inv.Unavailable {
		if u.Reason == "" {
			t.Errorf("unavailable %s without a reason", u.Field)
		}
		unavailable[u.Field] = u.Reason
		t.Logf("unavailable: %s: %s", u.Field, u.Reason)
	}
	// A field that is empty must say why (never silently empty).
	for field, empty := range map[string]bool{
		"listening": len(inv.Listening) == 0, "users": len(inv.Users) == 0, "software": len(inv.Software) == 0,
		"services": len(inv.Services) == 0, "hotfixes": len(inv.Hotfixes) == 0,
	} {
		if empty && unavailable[field] == "" {
			t.Errorf("%s is empty and not listed as unavailable", field)
		}
	}

	found := false
	for _, s := range inv.Listening {
		if s.Port == port && s.Protocol == "tcp" {
			found = true
			exe, _ := os.Executable()
			if s.PID == 0 && unavailable["listening.process"] != "" {
				continue // Wine cannot attribute sockets: said so
			}
			if s.PID != os.Getpid() || !strings.EqualFold(s.Process, baseName(exe)) {
				t.Errorf("own listener %+v: want pid %d and process %s", s, os.Getpid(), baseName(exe))
			}
		}
	}
	if !found && unavailable["listening"] == "" {
		t.Errorf("own listener on 127.0.0.1:%d not in the inventory (%d sockets)", port, len(inv.Listening))
	}

	for name, where := range seeded {
		var got *Software
		for i := range inv.Software {
			if inv.Software[i].Name == name {
				got = &inv.Software[i]
			}
		}
		switch {
		case got == nil:
			t.Errorf("seeded program %q (%s) not in the inventory", name, where)
		case where == "x86" && (got.Architecture != "x86" || got.User != ""):
			t.Errorf("machine-wide 32-bit program = %+v, want architecture x86 and no user", *got)
		case where == "user" && got.User == "":
			t.Errorf("per-user program = %+v, want the owning account", *got)
		case got.Version != "1.2.3" || got.Vendor != "edgeward tests" || got.InstallDate != "2026-11-20":
			t.Errorf("program %+v: fields not read", *got)
		}
	}
	for _, h := range inv.Hotfixes {
		if h.ID == "" {
			t.Errorf("hotfix without an id: %+v", h)
		}
	}
	t.Logf("%d sockets, %d users, %d programs, %d services, %d hotfixes", len(inv.Listening), len(inv.Users),
		len(inv.Software), len(inv.Services), len(inv.Hotfixes))
	if raw, err := schematest.Validate(c.Record(inv)); err != nil {
		t.Errorf("inventory does not validate: %v\n%s", err, raw)
	}
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}
