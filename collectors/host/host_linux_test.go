package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors/host"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestCollectFixtureRoot runs the collector on testdata/root and checks every
// field that comes from files under the root. Interfaces, file system usage,
// the kernel architecture and virtualisation (which gopsutil caches for the
// whole process) describe the machine running the test and are ignored.
func TestCollectFixtureRoot(t *testing.T) {
	t.Parallel()
	c := newCollector(t, host.Config{Root: fixtureRoot})
	got, err := c.Collect(context.Background())
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	want := &host.Inventory{
		Hostname: "plc-gw-01",
		OS: host.OSInfo{
			Family: "linux", Name: "Debian GNU/Linux", ID: "debian", PrettyName: "Debian GNU/Linux 12 (bookworm)", VersionID: "12",
			Platform: "debian", PlatformFamily: "debian", PlatformVersion: "12.5", KernelVersion: "5.10.0-28-amd64",
		},
		BootTime: time.Unix(1700000000, 0).UTC(),
		CPU:      &host.CPUInfo{Model: "Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz", Vendor: "GenuineIntel", PhysicalCores: 2, LogicalCores: 2, MHz: 2200},
		Memory:   &host.MemoryInfo{TotalBytes: 8000000 * 1024, AvailableBytes: 6000000 * 1024, SwapTotalBytes: 1000000 * 1024, SwapFreeBytes: 900000 * 1024},
		Disks: []host.Disk{
			{Device: "/dev/sda1", Mountpoint: "/", FSType: "ext4"},
			{Device: "/dev/sda2", Mountpoint: "/data", FSType: "ext4", ReadOnly: true},
		},
		Listening: []host.Socket{
			{Protocol: "tcp", Address: "0.0.0.0", Port: 502, PID: 42, Process: "modbusd"},
			{Protocol: "tcp", Address: "127.0.0.1", Port: 631},
			{Protocol: "tcp6", Address: "::", Port: 4840, PID: 77, Process: "opcua-server"},
			{Protocol: "udp", Address: "0.0.0.0", Port: 514, PID: 88, Process: "rsyslogd"},
		},
		Users: []host.User{
			{Name: "operator", Terminal: "pts/0", Host: "10.0.0.5", Started: time.Unix(1700001000, 0).UTC()},
			{Name: "root", Terminal: "tty1", Started: time.Unix(1700002000, 0).UTC()},
		},
		Software: []host.Software{
			{Name: "held-pkg", Version: "0.1", Architecture: "all", Source: "dpkg"},
			{Name: "libc6", Version: "2.36-9+deb12u4", Architecture: "amd64", Vendor: "GNU Libc Maintainers <debian-glibc@lists.debian.org>", Source: "dpkg"},
			{Name: "openssh-server", Version: "1:9.2p1-2+deb12u2", Architecture: "amd64", Vendor: "Debian OpenSSH Maintainers <debian-ssh@lists.debian.org>", Source: "dpkg"},
		},
		Services: []host.Service{
			{Name: "bluetooth.service", State: "stopped", StartMode: "masked"},
			{Name: "containerd.service", Description: "containerd container runtime", State: "running", StartMode: "disabled", PID: 1500},
			{Name: "cron.service", Description: "Cron (site override)", State: "stopped", StartMode: "enabled"},
			{Name: "getty@tty1.service", Description: "Getty on %I", State: "running", StartMode: "enabled", PID: 900},
			{Name: "hmi.service", Description: "SCADA HMI runtime", State: "stopped", StartMode: "enabled"},
			{Name: "nginx.service", Description: "A high performance web server", State: "stopped", StartMode: "disabled"},
			{Name: "run-u12.service", State: "running", StartMode: "transient", PID: 1234},
			{Name: "ssh.service", Description: "OpenBSD Secure Shell server", State: "running", StartMode: "enabled", PID: 812},
			{Name: "systemd-journald.service", Description: "Journal Service", State: "stopped", StartMode: "static"},
		},
		Unavailable: []host.Unavailable{{Field: "listening.process", Reason: "owning process not visible for 1 of 4 sockets"}},
	}
	opts := cmp.Options{
		cmpopts.IgnoreUnexported(host.Inventory{}),
		cmpopts.IgnoreFields(host.Inventory{}, "Interfaces", "Virtualization"),
		cmpopts.IgnoreFields(host.OSInfo{}, "KernelArch"),
		cmpopts.IgnoreFields(host.Disk{}, "TotalBytes", "FreeBytes"),
	}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("Collect(testdata/root) (-want +got):\n%s", diff)
	}
	for _, d := range got.Disks {
		if d.TotalBytes == nil || d.FreeBytes == nil {
			t.Errorf("disk %s: no usage", d.Mountpoint)
		}
	}
}

// TestCollectLive checks a snapshot of this machine for the fields every
// Linux host has.
func TestCollectLive(t *testing.T) {
	t.Parallel()
	c := newCollector(t, host.Config{})
	inv, err := c.Collect(context.Background())
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	h, _ := os.Hostname()
	switch {
	case inv.Hostname != h:
		t.Errorf("Hostname = %q, want %q", inv.Hostname, h)
	case inv.OS.Family != "linux" || inv.OS.KernelVersion == "" || inv.BootTime.IsZero():
		t.Errorf("OS = %+v, boot time %v", inv.OS, inv.BootTime)
	case inv.CPU == nil || inv.CPU.LogicalCores < 1 || inv.Memory == nil || inv.Memory.TotalBytes == 0:
		t.Errorf("CPU = %+v, Memory = %+v", inv.CPU, inv.Memory)
	case len(inv.Interfaces) == 0 || len(inv.Disks) == 0:
		t.Errorf("Interfaces = %v, Disks = %v", inv.Interfaces, inv.Disks)
	}
	if _, err := os.Stat("/var/lib/dpkg/status"); err == nil && len(inv.Software) == 0 {
		t.Errorf("dpkg status present but no software listed; unavailable: %v", inv.Unavailable)
	}
}

// TestCollectUnprivileged runs TestUnprivilegedHelper from a copy of this
// test binary as uid/gid 65534 (setpriv) and checks that the collection
// succeeds and names what it could not read instead of failing.
func TestCollectUnprivileged(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to uid 65534")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "host.test")
	copyFile(t, self, bin)
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--",
		bin, "-test.run=^TestUnprivilegedHelper$", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "EDGEWARD_HOST_HELPER=1", "HOME="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("unprivileged run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	line, _, _ := bytes.Cut(stdout.Bytes(), []byte("\n"))
	var inv host.Inventory
	if err := json.Unmarshal(line, &inv); err != nil {
		t.Fatalf("decode helper output %q: %v", line, err)
	}
	if inv.Hostname == "" || inv.OS.KernelVersion == "" {
		t.Errorf("unprivileged snapshot lacks basics: %+v", inv)
	}
	if len(inv.Unavailable) == 0 {
		t.Errorf("unprivileged snapshot lists nothing unavailable")
	}
	t.Logf("unprivileged: %d software, %d sockets, unavailable %v", len(inv.Software), len(inv.Listening), inv.Unavailable)
}

// TestUnprivilegedHelper is run by TestCollectUnprivileged; it prints one
// snapshot as a JSON line.
func TestUnprivilegedHelper(t *testing.T) {
	if os.Getenv("EDGEWARD_HOST_HELPER") != "1" {
		t.Skip("helper for TestCollectUnprivileged")
	}
	if os.Geteuid() != 65534 {
		t.Fatalf("helper runs as uid %d", os.Geteuid())
	}
	c := newCollector(t, host.Config{})
	inv, err := c.Collect(context.Background())
	if err != nil {
		t.Fatalf("Collect as uid 65534: %v", err)
	}
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.Write(append(b, '\n'))
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
