package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/shirou/gopsutil/v3/mem"
)

// osParts are the Linux-specific sections, all read through the root.
func (c *Collector) osParts() []part {
	return []part{
		{"hostname", c.readHostname},
		{"os.release", c.readOSRelease},
		{"users", c.readUsers},
		{"software", c.readSoftware},
		{"services", c.readServices},
	}
}

// mountPath is where a mount point of the host is under the root.
func (c *Collector) mountPath(mp string) string { return c.root.path(mp) }

// processName is the command name of pid (proc/PID/comm), "" if unknown.
func (c *Collector) processName(_ context.Context, pid int) string {
	s, err := firstLine(c.root.path("proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return s
}

func (c *Collector) readHostname(_ context.Context, inv *Inventory) error {
	var first error
	for _, p := range [][]string{{"proc", "sys", "kernel", "hostname"}, {"etc", "hostname"}} {
		s, err := firstLine(c.root.path(p...))
		if err == nil && s != "" {
			inv.Hostname = s
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = errors.New("empty file")
	}
	return fmt.Errorf("read hostname: %w", first)
}

func (c *Collector) readOSRelease(_ context.Context, inv *Inventory) error {
	b, err := readFile(c.root.path("etc", "os-release"), maxSmallFile)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = readFile(c.root.path("usr", "lib", "os-release"), maxSmallFile)
	}
	if err != nil {
		return fmt.Errorf("read os-release: %w", err)
	}
	kv, err := parseOSRelease(bytes.NewReader(b))
	if err != nil {
		return err
	}
	inv.OS.Name, inv.OS.ID, inv.OS.PrettyName, inv.OS.VersionID = kv["NAME"], kv["ID"], kv["PRETTY_NAME"], kv["VERSION_ID"]
	return nil
}

func (c *Collector) readUsers(_ context.Context, inv *Inventory) error {
	var first error
	for _, p := range [][]string{{"run", "utmp"}, {"var", "run", "utmp"}} {
		b, err := readFile(c.root.path(p...), maxSmallFile)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		users, err := parseUtmp(b)
		if err != nil {
			inv.unavailable("users", err.Error()) // keep the complete records
		}
		inv.Users = capList(inv, "users", users, MaxUsers)
		return nil
	}
	return fmt.Errorf("read utmp: %w", first)
}

func (c *Collector) readSoftware(_ context.Context, inv *Inventory) error {
	var (
		all   []Software
		found bool
	)
	f, err := os.Open(c.root.path("var", "lib", "dpkg", "status"))
	if err == nil {
		found = true
		var pkgs []Software
		pkgs, err = parseDpkgStatus(&cappedReader{r: f, name: "dpkg status", left: maxDBFile})
		f.Close()
		if err == nil {
			all = append(all, pkgs...)
		} else {
			inv.unavailable("software.dpkg", err.Error())
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		found = true
		inv.unavailable("software.dpkg", err.Error())
	}
	pkgs, present, err := readRPM(c.root)
	if present {
		found = true
		if err != nil {
			inv.unavailable("software.rpm", err.Error())
		}
		all = append(all, pkgs...)
	}
	if !found {
		return errors.New("no package database (var/lib/dpkg/status, rpm database) under root")
	}
	sortSoftware(all)
	inv.Software = capList(inv, "software", all, MaxSoftware)
	return nil
}

func (c *Collector) readServices(_ context.Context, inv *Inventory) error {
	svcs, stateErr, err := readSystemdServices(c.root)
	if err != nil {
		return err
	}
	if stateErr != nil {
		inv.unavailable("services.state", stateErr.Error())
	}
	inv.Services = capList(inv, "services", svcs, MaxServices)
	return nil
}

// swapMemory takes swap from meminfo (read through the root), not from
// gopsutil's SwapMemory, which asks sysinfo(2) of the running kernel.
func swapMemory(_ context.Context, vm *mem.VirtualMemoryStat) (total, free uint64, err error) {
	return vm.SwapTotal, vm.SwapFree, nil
}

// kernelVersion reads proc/sys/kernel/osrelease under the root (gopsutil
// asks uname(2) of the running kernel first).
func (c *Collector) kernelVersion(_ context.Context) (string, error) {
	return firstLine(c.root.path("proc", "sys", "kernel", "osrelease"))
}

// bootTime reads the btime line of proc/stat under the root. Unlike
// gopsutil it does not switch to proc/uptime inside containers: btime is
// the boot time of the shared kernel, which is what the host booted at.
func (c *Collector) bootTime(_ context.Context) (uint64, error) {
	b, err := readFile(c.root.path("proc", "stat"), maxSmallFile)
	if err != nil {
		return 0, err
	}
	return parseBtime(b)
}
