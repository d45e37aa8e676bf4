package host

import (
	"sort"
	"time"
)

// Caps on the lists of an Inventory. A list longer than its cap is sorted,
// cut to the cap, and the number left out is added to Inventory.Truncated
// under the list's JSON name.
const (
	MaxSoftware   = 5000
	MaxServices   = 2000
	MaxSockets    = 2000
	MaxInterfaces = 256
	MaxAddresses  = 64 // per interface
	MaxDisks      = 256
	MaxUsers      = 256
	MaxHotfixes   = 2000
)

// Inventory is one snapshot of the host, the body of a host.inventory
// record. Optional parts are nil or empty when they could not be read, and
// each such part is named in Unavailable. An Inventory is a plain value:
// Collect returns a fresh one each time and does not keep it.
type Inventory struct {
	Hostname       string          `json:"hostname"`
	OS             OSInfo          `json:"os"`
	BootTime       time.Time       `json:"boot_time,omitzero"`
	Virtualization *Virtualization `json:"virtualization,omitempty"`
	CPU            *CPUInfo        `json:"cpu,omitempty"`
	Memory         *MemoryInfo     `json:"memory,omitempty"`
	Disks          []Disk          `json:"disks,omitempty"`
	Interfaces     []Interface     `json:"interfaces,omitempty"`
	Listening      []Socket        `json:"listening,omitempty"`
	Users          []User          `json:"users,omitempty"`
	Software       []Software      `json:"software,omitempty"`
	Services       []Service       `json:"services,omitempty"`
	Hotfixes       []Hotfix        `json:"hotfixes,omitempty"`
	// Truncated maps a list's JSON name to the number of entries its cap
	// left out. Nil when nothing was cut.
	Truncated map[string]int `json:"truncated,omitempty"`
	// Unavailable lists the fields that could not be read, with the reason.
	Unavailable []Unavailable `json:"unavailable,omitempty"`

	collected time.Time // record time; not part of the body
}

// Unavailable names one field of the body that could not be read and why.
// Field is a JSON path such as "software" or "listening.process".
type Unavailable struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// OSInfo describes the operating system. Family is Go's GOOS ("linux",
// "windows"); Name, ID, PrettyName and VersionID come from os-release on
// Linux; Platform* and Kernel* from gopsutil.
type OSInfo struct {
	Family          string `json:"family"`
	Name            string `json:"name,omitempty"`
	ID              string `json:"id,omitempty"`
	PrettyName      string `json:"pretty_name,omitempty"`
	VersionID       string `json:"version_id,omitempty"`
	Platform        string `json:"platform,omitempty"`
	PlatformFamily  string `json:"platform_family,omitempty"`
	PlatformVersion string `json:"platform_version,omitempty"`
	KernelVersion   string `json:"kernel_version,omitempty"`
	KernelArch      string `json:"kernel_arch,omitempty"`
}

// Virtualization is gopsutil's guess of the hypervisor or container system
// (e.g. "kvm", "docker") and whether this host is its "guest" or "host".
type Virtualization struct {
	System string `json:"system"`
	Role   string `json:"role"`
}

// CPUInfo describes the processors. Cores are counts; MHz is the nominal
// clock of the first CPU as reported by the OS.
type CPUInfo struct {
	Model         string  `json:"model,omitempty"`
	Vendor        string  `json:"vendor,omitempty"`
	PhysicalCores int     `json:"physical_cores,omitempty"`
	LogicalCores  int     `json:"logical_cores"`
	MHz           float64 `json:"mhz,omitempty"`
}

// MemoryInfo gives physical memory and swap in bytes.
type MemoryInfo struct {
	TotalBytes     uint64 `json:"total_bytes"`
	AvailableBytes uint64 `json:"available_bytes"`
	SwapTotalBytes uint64 `json:"swap_total_bytes"`
	SwapFreeBytes  uint64 `json:"swap_free_bytes"`
}

// Disk is one mounted file system. The byte counts are absent when the
// mount point could not be statted.
type Disk struct {
	Device     string  `json:"device"`
	Mountpoint string  `json:"mountpoint"`
	FSType     string  `json:"fstype"`
	ReadOnly   bool    `json:"read_only,omitempty"`
	TotalBytes *uint64 `json:"total_bytes,omitempty"`
	FreeBytes  *uint64 `json:"free_bytes,omitempty"`
}

// Interface is one network interface. MAC is empty for interfaces without a
// hardware address (loopback); Addresses are CIDR strings.
type Interface struct {
	Name      string   `json:"name"`
	Index     int      `json:"index"`
	MTU       int      `json:"mtu"`
	MAC       string   `json:"mac,omitempty"`
	Flags     []string `json:"flags,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
}

// Socket is one listening TCP socket or unconnected UDP socket. Protocol is
// "tcp", "tcp6", "udp" or "udp6". PID and Process are absent when the owner
// is not visible to the agent.
type Socket struct {
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
	Port     int    `json:"port"`
	PID      int    `json:"pid,omitempty"`
	Process  string `json:"process,omitempty"`
}

// User is one login session (utmp USER_PROCESS entry on Linux). Started is
// the login time.
type User struct {
	Name     string    `json:"name"`
	Terminal string    `json:"terminal,omitempty"`
	Host     string    `json:"host,omitempty"`
	Started  time.Time `json:"started,omitzero"`
}

// Software is one installed package. Source is where it was read: "dpkg",
// "rpm" or "registry". User names the account of a per-user installation
// (Windows: a user's own Uninstall key); empty for machine-wide packages. Version is dpkg's Version, rpm's [epoch:]version-
// release or the registry's DisplayVersion. Vendor is the dpkg Maintainer,
// the rpm Vendor or the registry Publisher. InstallDate is YYYY-MM-DD (UTC)
// when known (rpm, registry).
type Software struct {
	Name         string `json:"name"`
	Version      string `json:"version,omitempty"`
	Architecture string `json:"architecture,omitempty"`
	Vendor       string `json:"vendor,omitempty"`
	InstallDate  string `json:"install_date,omitempty"`
	Source       string `json:"source"`
	User         string `json:"user,omitempty"`
}

// Hotfix is one installed Windows update (Win32_QuickFixEngineering, what
// Get-HotFix lists). InstalledOn is YYYY-MM-DD when Windows recorded it.
type Hotfix struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	InstalledOn string `json:"installed_on,omitempty"`
	InstalledBy string `json:"installed_by,omitempty"`
}

// Service is one system service. State is "running", "stopped" or, on
// Windows, a pending or paused state ("start_pending", "paused", ...), and
// "unknown" when the run state could not be read. StartMode is the unit
// file state on Linux ("enabled", "disabled", "static", "masked",
// "transient") and the start type on Windows ("auto", "manual",
// "disabled", "boot", "system").
type Service struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	State       string `json:"state"`
	StartMode   string `json:"start_mode,omitempty"`
	PID         int    `json:"pid,omitempty"`
}

// unavailable records that field could not be read.
func (inv *Inventory) unavailable(field, reason string) {
	inv.Unavailable = append(inv.Unavailable, Unavailable{Field: field, Reason: reason})
}

// truncated records that n entries of list were left out.
func (inv *Inventory) truncated(list string, n int) {
	if n <= 0 {
		return
	}
	if inv.Truncated == nil {
		inv.Truncated = make(map[string]int)
	}
	inv.Truncated[list] += n
}

// capList cuts s to max entries and records what was cut under name.
func capList[T any](inv *Inventory, name string, s []T, max int) []T {
	if len(s) <= max {
		return s
	}
	inv.truncated(name, len(s)-max)
	return s[:max:max]
}

// sortSoftware orders packages by name, version, architecture and source.
func sortSoftware(s []Software) {
	sort.Slice(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		if a.Architecture != b.Architecture {
			return a.Architecture < b.Architecture
		}
		return a.Source < b.Source
	})
}

// sortServices orders services by name.
func sortServices(s []Service) {
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
}
