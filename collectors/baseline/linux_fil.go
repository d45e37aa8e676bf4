package baseline

import (
	"io/fs"
	"os"
	"strings"
)

// sensitiveFiles lists the files of LNX-FIL-001 with the widest accepted
// mode and whether the file must exist.
func sensitiveFiles() []struct {
	path     string
	mode     fs.FileMode
	required bool
} {
	return []struct {
		path     string
		mode     fs.FileMode
		required bool
	}{
		{"etc/passwd", 0o644, true},
		{"etc/group", 0o644, true},
		{"etc/shadow", 0o640, true},
		{"etc/gshadow", 0o640, false},
		{"etc/sudoers", 0o440, false},
		{"boot/grub/grub.cfg", 0o600, false},
		{"boot/grub2/grub.cfg", 0o600, false},
	}
}

// filePermissions is LNX-FIL-001: sensitive files at or stricter than the
// listed modes and owned by the owner of the root (root on a real host).
func filePermissions(e *env) outcome {
	var v verdict
	owner := ownerOf(e.root.Path())
	for _, f := range sensitiveFiles() {
		st, err := os.Stat(e.root.Path(strings.Split(f.path, "/")...))
		if err != nil {
			if isNotExist(err) && !f.required {
				continue
			}
			v.err(&readError{path: f.path, err: err})
			continue
		}
		m := st.Mode().Perm()
		uid := ownerOf(e.root.Path(strings.Split(f.path, "/")...))
		ok := m&^f.mode == 0 && uid == owner
		if uid != owner {
			v.no("/%s owned by uid %d", f.path, uid)
			continue
		}
		v.check(ok, "/%s mode %04o (max %04o)", f.path, m, f.mode)
	}
	return v.outcome()
}

// tmpMounts is LNX-FIL-005: /tmp, /dev/shm and /var/tmp are separate
// mounts with nodev, nosuid and noexec, both running (/proc/mounts) and
// persisted (/etc/fstab, when it lists them).
func tmpMounts(e *env) outcome {
	var v verdict
	running := map[string]string{}
	mb, err := e.read("proc", "mounts")
	procOK := err == nil
	if err != nil && !isNotExist(err) {
		v.err(err)
	}
	for _, m := range parseMounts(mb) {
		running[m[1]] = m[3] // the last mount on a point is the visible one
	}
	persisted := map[string]string{}
	if fb, err := e.readOptional("etc", "fstab"); err == nil {
		for _, m := range parseMounts(fb) {
			persisted[m[1]] = m[3]
		}
	}
	has := func(opts string) []string {
		var miss []string
		o := "," + opts + ","
		for _, w := range []string{"nodev", "nosuid", "noexec"} {
			if !strings.Contains(o, ","+w+",") {
				miss = append(miss, w)
			}
		}
		return miss
	}
	for _, mp := range []string{"/tmp", "/dev/shm", "/var/tmp"} {
		ro, isRun := running[mp]
		po, isPers := persisted[mp]
		switch {
		case procOK && !isRun:
			v.no("%s is not a separate mount (/proc/mounts): nodev,nosuid,noexec cannot apply", mp)
		case procOK:
			if miss := has(ro); len(miss) > 0 {
				v.no("%s mounted with %s: missing %s (/proc/mounts)", mp, ro, strings.Join(miss, ","))
			} else {
				v.ok("%s mounted with %s (/proc/mounts)", mp, ro)
			}
		case !isPers:
			v.no("%s not in /etc/fstab and /proc/mounts not readable", mp)
		}
		if isPers {
			if miss := has(po); len(miss) > 0 {
				v.no("%s in /etc/fstab with %s: missing %s (applied at the next boot)", mp, po, strings.Join(miss, ","))
			} else {
				v.ok("%s in /etc/fstab with %s", mp, po)
			}
		}
	}
	return v.outcome()
}
