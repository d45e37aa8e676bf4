package baseline

import "strings"

// diskEncryption is LNX-ENC-001: on portable hosts and gateways the root
// file system sits on a dm-crypt (LUKS) device; other roles are
// NOT_APPLICABLE.
func diskEncryption(e *env) outcome {
	if e.role != RolePortable && e.role != RoleGateway {
		return na("role " + e.role + ": disk encryption required only on portable hosts and unattended gateways")
	}
	b, err := e.read("proc", "mounts")
	if err != nil {
		return errFrom(err)
	}
	dev := ""
	for _, m := range parseMounts(b) {
		if m[1] == "/" {
			dev = m[0]
		}
	}
	if dev == "" {
		return errOut("root mount not found in proc/mounts")
	}
	dm := ""
	switch {
	case strings.HasPrefix(dev, "/dev/dm-"):
		dm = strings.TrimPrefix(dev, "/dev/")
	case strings.HasPrefix(dev, "/dev/mapper/"):
		name := strings.TrimPrefix(dev, "/dev/mapper/")
		for _, p := range e.root.Glob("sys/block/dm-*/dm/name") {
			if n, err := e.root.ReadRel(p); err == nil && strings.TrimSpace(string(n)) == name {
				dm = strings.Split(p, "/")[2]
			}
		}
	}
	if dm == "" {
		return fail("root file system on " + dev + " (not a device-mapper device)")
	}
	if e.cryptBelow(dm, 0) {
		return pass("root file system on " + dev + " backed by dm-crypt")
	}
	return fail("root file system on " + dev + " is not encrypted")
}

// cryptBelow reports whether the dm device or one of its slaves is a CRYPT
// target.
func (e *env) cryptBelow(dm string, depth int) bool {
	if depth > 4 {
		return false
	}
	if u, err := e.root.ReadFile("sys", "block", dm, "dm", "uuid"); err == nil && strings.HasPrefix(string(u), "CRYPT-") {
		return true
	}
	for _, s := range e.root.Glob("sys/block/" + dm + "/slaves/dm-*") {
		if e.cryptBelow(strings.Split(s, "/")[4], depth+1) {
			return true
		}
	}
	return false
}
