// Package host collects one inventory snapshot of the machine the agent runs
// on and emits it as an asset record of kind "host.inventory" keyed by the
// agent id.
//
// # Basics
//
// New validates a Config; Collect takes one snapshot; Record wraps a
// snapshot in a collectors.Record; Run collects at once and then every
// Config.Interval until its context is cancelled.
//
// The snapshot holds the hostname, OS and kernel, boot time,
// virtualisation, CPU, memory, mounted file systems, network interfaces,
// listening sockets with their owning process, logged-in users, installed
// software and services. Lists are sorted and capped (see the Max*
// constants); Inventory.Truncated counts what a cap left out.
//
// Every file the collector reads on Linux is read through Config.Root
// (default "/"), including gopsutil's reads of proc, sys, etc, var, run and
// dev, which are redirected through the context (common.EnvKey), never
// through the process environment. Reads are bounded.
//
// Methods, per source:
//   - installed software: the dpkg status file (var/lib/dpkg/status); the rpm
//     database when it is the sqlite rpmdb (a small pure-Go sqlite b-tree
//     reader, see rpm.go); a BerkeleyDB or ndb rpm database is reported as
//     unavailable. On Windows, the Uninstall registry keys (64-bit and
//     WOW6432Node views, machine-wide).
//   - services on Linux: unit files in etc, run, usr/local/lib, usr/lib and
//     lib systemd/system (first found wins, as systemd does); enabled when
//     linked from an etc/systemd/system/*.wants or *.requires directory,
//     masked when linked to /dev/null, static without an [Install] section;
//     running when the unit's cgroup under sys/fs/cgroup (v2, hybrid or v1
//     "systemd" hierarchy) lists at least one process. No D-Bus, no
//     systemctl. On Windows, the service control manager.
//   - logged-in users on Linux: the utmp file (run/utmp, then var/run/utmp).
//
// # Caveats
//
// Fields that cannot be read (missing file, permission denied, unsupported
// OS) are left out of the body and listed in Inventory.Unavailable with the
// reason; Collect fails only when its context ends. An unprivileged agent
// cannot see which process owns another user's socket: those sockets are
// listed without a process and counted under "listening.process".
//
// Config.Root redirects file reads only. Interface addresses (netlink), file
// system usage (statfs of Root joined with the mount point), the kernel
// architecture (uname) and the logical CPU count describe the kernel the
// agent runs on. utmp and the rpm database are read as plain files: a
// absolute symlink inside Root (var/run -> /run) is not followed into Root,
// which is why run/utmp is tried first. Recent rpm writes to the sqlite
// database in WAL mode; changes still in rpmdb.sqlite-wal are not seen until
// rpm checkpoints them.
//
// gopsutil caches its virtualisation guess for the whole process: the first
// Collector to ask decides it for every other root in the same process.
package host
