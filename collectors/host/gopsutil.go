package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/disk"
	gohost "github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/mem"
	gonet "github.com/shirou/gopsutil/v3/net"
)

// commonParts are the sections read through gopsutil on every OS.
func (c *Collector) commonParts() []part {
	return []part{
		{"os.platform", c.readPlatform},
		{"os.kernel_version", c.readKernel},
		{"boot_time", c.readBootTime},
		{"virtualization", c.readVirtualization},
		{"cpu", c.readCPU},
		{"memory", c.readMemory},
		{"disks", c.readDisks},
		{"interfaces", c.readInterfaces},
		{"listening", c.readListening},
	}
}

func (c *Collector) readPlatform(ctx context.Context, inv *Inventory) error {
	p, fam, ver, err := gohost.PlatformInformationWithContext(ctx)
	if err != nil {
		return fmt.Errorf("read platform: %w", err)
	}
	if p == "" {
		return errors.New("read platform: not recognised")
	}
	inv.OS.Platform, inv.OS.PlatformFamily, inv.OS.PlatformVersion = p, fam, ver
	return nil
}

func (c *Collector) readKernel(ctx context.Context, inv *Inventory) error {
	if arch, err := gohost.KernelArch(); err == nil {
		inv.OS.KernelArch = arch
	}
	v, err := c.kernelVersion(ctx)
	if err != nil {
		return fmt.Errorf("read kernel version: %w", err)
	}
	inv.OS.KernelVersion = v
	return nil
}

func (c *Collector) readBootTime(ctx context.Context, inv *Inventory) error {
	bt, err := c.bootTime(ctx)
	if err != nil {
		return fmt.Errorf("read boot time: %w", err)
	}
	if bt > 0 {
		inv.BootTime = time.Unix(int64(bt), 0).UTC()
	}
	return nil
}

func (c *Collector) readVirtualization(ctx context.Context, inv *Inventory) error {
	sys, role, err := gohost.VirtualizationWithContext(ctx)
	if err != nil {
		return fmt.Errorf("read virtualization: %w", err)
	}
	if sys != "" {
		inv.Virtualization = &Virtualization{System: sys, Role: role}
	}
	return nil
}

func (c *Collector) readCPU(ctx context.Context, inv *Inventory) error {
	n, err := cpu.CountsWithContext(ctx, true)
	if err != nil {
		return fmt.Errorf("count cpus: %w", err)
	}
	ci := &CPUInfo{LogicalCores: n}
	if p, err := cpu.CountsWithContext(ctx, false); err == nil {
		ci.PhysicalCores = p
	}
	infos, err := cpu.InfoWithContext(ctx)
	if err != nil {
		inv.unavailable("cpu.model", err.Error())
	} else if len(infos) > 0 {
		ci.Model = strings.TrimSpace(infos[0].ModelName)
		ci.Vendor = infos[0].VendorID
		ci.MHz = infos[0].Mhz
	}
	inv.CPU = ci
	return nil
}

func (c *Collector) readMemory(ctx context.Context, inv *Inventory) error {
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return fmt.Errorf("read memory: %w", err)
	}
	if vm.Total == 0 { // gopsutil returns zeros when meminfo is missing
		return errors.New("read memory: no total reported")
	}
	m := &MemoryInfo{TotalBytes: vm.Total, AvailableBytes: vm.Available}
	if t, f, err := swapMemory(ctx, vm); err == nil {
		m.SwapTotalBytes, m.SwapFreeBytes = t, f
	} else {
		inv.unavailable("memory.swap", err.Error())
	}
	inv.Memory = m
	return nil
}

func (c *Collector) readDisks(ctx context.Context, inv *Inventory) error {
	parts, err := disk.PartitionsWithContext(ctx, false)
	if err != nil {
		return fmt.Errorf("read mounts: %w", err)
	}
	disks := make([]Disk, 0, len(parts))
	noUsage := 0
	for _, p := range parts {
		d := Disk{Device: p.Device, Mountpoint: p.Mountpoint, FSType: p.Fstype, ReadOnly: slices.Contains(p.Opts, "ro")}
		if u, err := disk.UsageWithContext(ctx, c.mountPath(p.Mountpoint)); err == nil {
			total, free := u.Total, u.Free
			d.TotalBytes, d.FreeBytes = &total, &free
		} else {
			noUsage++
		}
		disks = append(disks, d)
	}
	if noUsage > 0 {
		inv.unavailable("disks.usage", fmt.Sprintf("%d of %d mount points could not be statted", noUsage, len(parts)))
	}
	sort.SliceStable(disks, func(i, j int) bool { return disks[i].Mountpoint < disks[j].Mountpoint })
	inv.Disks = capList(inv, "disks", disks, MaxDisks)
	return nil
}

func (c *Collector) readInterfaces(ctx context.Context, inv *Inventory) error {
	ifs, err := gonet.InterfacesWithContext(ctx)
	if err != nil {
		return fmt.Errorf("read interfaces: %w", err)
	}
	out := make([]Interface, 0, len(ifs))
	for _, i := range ifs {
		it := Interface{Name: i.Name, Index: i.Index, MTU: i.MTU, MAC: i.HardwareAddr, Flags: i.Flags}
		for _, a := range i.Addrs {
			it.Addresses = append(it.Addresses, a.Addr)
		}
		it.Addresses = capList(inv, "interfaces.addresses", it.Addresses, MaxAddresses)
		out = append(out, it)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	inv.Interfaces = capList(inv, "interfaces", out, MaxInterfaces)
	return nil
}

func (c *Collector) readListening(ctx context.Context, inv *Inventory) error {
	conns, err := socketTable(ctx)
	if err != nil {
		return fmt.Errorf("read sockets: %w", err)
	}
	socks := listeningSockets(conns)
	names := make(map[int]string)
	hidden := 0
	for i := range socks {
		s := &socks[i]
		if s.PID == 0 {
			hidden++
			continue
		}
		name, ok := names[s.PID]
		if !ok {
			name = c.processName(ctx, s.PID)
			names[s.PID] = name
		}
		s.Process = name
	}
	if hidden > 0 {
		inv.unavailable("listening.process", fmt.Sprintf("owning process not visible for %d of %d sockets", hidden, len(socks)))
	}
	inv.Listening = capList(inv, "listening", socks, MaxSockets)
	return nil
}

// listeningSockets keeps listening TCP sockets and unconnected UDP sockets,
// drops duplicates (one socket shared by several descriptors) and sorts them
// by protocol, port, address and pid.
func listeningSockets(conns []gonet.ConnectionStat) []Socket {
	type key struct {
		proto, addr string
		port, pid   int
	}
	seen := make(map[key]bool)
	var out []Socket
	for _, cs := range conns {
		var proto string
		switch {
		case cs.Type == syscall.SOCK_STREAM && cs.Status == "LISTEN":
			proto = "tcp"
		case cs.Type == syscall.SOCK_DGRAM && cs.Raddr.Port == 0:
			proto = "udp"
		default:
			continue
		}
		if cs.Family == syscall.AF_INET6 {
			proto += "6"
		}
		k := key{proto, cs.Laddr.IP, int(cs.Laddr.Port), int(cs.Pid)}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, Socket{Protocol: k.proto, Address: k.addr, Port: k.port, PID: k.pid})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		if a.Address != b.Address {
			return compareIP(a.Address, b.Address) < 0
		}
		return a.PID < b.PID
	})
	return out
}

// compareIP orders textual addresses numerically when both parse.
func compareIP(a, b string) int {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	if ia == nil || ib == nil {
		return strings.Compare(a, b)
	}
	return slices.Compare(ia.To16(), ib.To16())
}
