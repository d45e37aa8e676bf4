package baseline

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// walkLimit bounds the file-system walk of the FIL checks (entries).
const walkLimit = 200_000

// walkRoots are the system paths walked for SUID/SGID, world-writable and
// unowned files; temporary directories are left out.
func walkRoots() []string {
	return []string{"bin", "sbin", "lib", "lib64", "usr", "etc", "boot", "opt", "var"}
}

// walkSkip are subtrees not walked: temporary files, caches, containers,
// and data-only trees (/usr/share, headers, sources) that hold no programs,
// which keeps the walk of a typical gateway to a few ten thousand entries.
func walkSkip() []string {
	return []string{"var/tmp", "var/cache", "var/lib/docker", "var/lib/containers", "var/lib/lxc", "var/log/journal", "var/lib/apt/lists", "usr/share", "usr/include", "usr/src"}
}

// walkEntry is a file found by the walk that a FIL check looks at.
type walkEntry struct {
	Path     string // absolute on the host
	Mode     fs.FileMode
	UID, GID int
}

// walkResult is what the bounded walk found.
type walkResult struct {
	SetID, WorldWritable, Unowned []walkEntry
	Entries                       int
	Truncated                     bool
	Errs                          []error
}

// systemWalk walks the system paths once per scan (bounded by walkLimit,
// without following symbolic links or crossing into /proc, /sys or /dev).
func (e *env) systemWalk() walkResult {
	r, _ := memoize(e, "walk", func() (walkResult, error) {
		var out walkResult
		uids, gids := e.knownIDs()
		skip := map[string]bool{}
		for _, s := range walkSkip() {
			skip[s] = true
		}
		for _, top := range walkRoots() {
			start := e.root.Path(top)
			if st, err := os.Lstat(start); err != nil || !st.IsDir() {
				continue // absent, or a usrmerge link walked through usr
			}
			err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					if !isNotExist(err) {
						out.Errs = append(out.Errs, &readError{path: strings.TrimPrefix(p, e.root.Path()), err: err})
					}
					return nil
				}
				if out.Entries >= walkLimit {
					out.Truncated = true
					return fs.SkipAll
				}
				out.Entries++
				rel, _ := filepath.Rel(e.root.Path(), p)
				rel = filepath.ToSlash(rel)
				if d.IsDir() && skip[rel] {
					return fs.SkipDir
				}
				if d.Type()&fs.ModeSymlink != 0 {
					return nil
				}
				fi, err := d.Info()
				if err != nil {
					return nil
				}
				m := fi.Mode()
				ent := walkEntry{Path: "/" + rel, Mode: m}
				uid, gid, ok := fileIDs(fi)
				ent.UID, ent.GID = uid, gid
				if m.IsRegular() && m&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
					out.SetID = append(out.SetID, ent)
				}
				if m.Perm()&0o002 != 0 && (m.IsRegular() || (m.IsDir() && m&fs.ModeSticky == 0)) {
					out.WorldWritable = append(out.WorldWritable, ent)
				}
				if ok && uids != nil && (!uids[uid] || !gids[gid]) {
					out.Unowned = append(out.Unowned, ent)
				}
				return nil
			})
			if err != nil {
				out.Errs = append(out.Errs, err)
			}
			if out.Truncated {
				break
			}
		}
		return out, nil
	})
	return r
}

// knownIDs returns the uids of /etc/passwd and gids of /etc/group (nil when
// they cannot be read). The owner of the root directory counts as known, so
// that a fixture tree copied by an unprivileged user is not "unowned".
func (e *env) knownIDs() (map[int]bool, map[int]bool) {
	pw, err := e.passwd()
	gb, gerr := e.read("etc", "group")
	if err != nil || gerr != nil {
		return nil, nil
	}
	uids, gids := map[int]bool{}, map[int]bool{}
	for _, p := range pw {
		uids[p.UID] = true
	}
	for _, l := range strings.Split(string(gb), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 3 {
			gids[atoiOr(f[2], -1)] = true
		}
	}
	if st, err := os.Stat(e.root.Path()); err == nil {
		if u, g, ok := fileIDs(st); ok {
			uids[u], gids[g] = true, true
		}
	}
	return uids, gids
}

// walkEvidence describes the bounds of the walk.
func walkEvidence(w walkResult) string {
	s := "walked " + itoa(w.Entries) + " entries under /" + strings.Join(walkRoots(), ", /") + " (not following links; skipped /" + strings.Join(walkSkip(), ", /") + ")"
	if w.Truncated {
		s += "; stopped at the bound of " + itoa(walkLimit) + " entries"
	}
	return s
}

// setidAllowed are set-user-ID and set-group-ID programs that distributions
// ship on purpose.
func setidAllowed() []string {
	return []string{"su", "sudo", "sudoedit", "passwd", "chsh", "chfn", "newgrp", "gpasswd", "mount", "umount", "pkexec", "ping", "ping6",
		"fusermount", "fusermount3", "ssh-keysign", "dbus-daemon-launch-helper", "chage", "expiry", "unix_chkpwd", "crontab", "wall", "write",
		"ssh-agent", "at", "pam_timestamp_check", "Xorg.wrap", "polkit-agent-helper-1", "userhelper", "mount.nfs", "mount.cifs", "utempter",
		"dotlockfile", "newuidmap", "newgidmap", "chrome-sandbox", "lockdev", "postdrop", "postqueue", "staprun", "bsd-write", "mlocate", "plocate",
		"grub2-set-bootflag", "usernetctl", "cockpit-session", "locate", "ntfs-3g", "exim4", "procmail", "sg", "vmware-user-suid-wrapper"}
}

// setidFiles is LNX-FIL-002: every SUID/SGID file in the system paths is a
// known, distribution-shipped program (by name) owned by an installed
// package where the package database can tell.
func setidFiles(e *env) outcome {
	w := e.systemWalk()
	owned, haveDB := e.packageFiles()
	var v verdict
	for _, f := range w.SetID {
		ownedBy := haveDB && (owned[strings.TrimPrefix(f.Path, "/")] != "" || owned[usrMerged(f.Path)] != "")
		switch {
		case ownedBy:
			v.good = append(v.good, f.Path)
		case haveDB:
			v.no("%s mode %s is not owned by any installed package", f.Path, f.Mode)
		case contains(setidAllowed(), filepath.Base(f.Path)):
			v.good = append(v.good, f.Path)
		default:
			v.no("%s mode %s is not a known set-ID program (no package database to tell its origin)", f.Path, f.Mode)
		}
	}
	for _, err := range w.Errs {
		v.err(err)
	}
	if len(v.good) > 0 {
		v.good = []string{"known set-ID programs: " + joinList(v.good)}
	}
	v.good = append(v.good, walkEvidence(w))
	if len(v.errs) > 0 && len(v.bad) == 0 {
		v.good = append(v.good, v.errs...)
		v.errs = nil // what could be walked was clean; unreadable parts are listed
	}
	return v.outcome()
}

// usrMerged maps /usr/bin/x to bin/x and back, as dpkg records the path the
// package shipped.
func usrMerged(p string) string {
	p = strings.TrimPrefix(p, "/")
	if r, ok := strings.CutPrefix(p, "usr/"); ok {
		return r
	}
	return "usr/" + p
}

// worldWritable is LNX-FIL-003: no world-writable file, and no
// world-writable directory without the sticky bit, in the system paths.
func worldWritable(e *env) outcome {
	w := e.systemWalk()
	var v verdict
	for _, f := range w.WorldWritable {
		kind := "file"
		if f.Mode.IsDir() {
			kind = "directory without the sticky bit"
		}
		v.no("world-writable %s %s (mode %s)", kind, f.Path, f.Mode)
	}
	v.good = append(v.good, walkEvidence(w))
	for _, err := range w.Errs {
		v.good = append(v.good, describe(err))
	}
	return v.outcome()
}

// unownedFiles is LNX-FIL-004: every file in the system paths belongs to a
// user of /etc/passwd and a group of /etc/group.
func unownedFiles(e *env) outcome {
	if u, _ := e.knownIDs(); u == nil {
		if _, err := e.passwd(); err != nil {
			return errFrom(err)
		}
		_, err := e.read("etc", "group")
		return errFrom(err)
	}
	w := e.systemWalk()
	var v verdict
	sort.Slice(w.Unowned, func(i, j int) bool { return w.Unowned[i].Path < w.Unowned[j].Path })
	for i, f := range w.Unowned {
		if i == 20 {
			v.no("and %d more unowned files", len(w.Unowned)-20)
			break
		}
		v.no("%s owned by uid %d gid %d, not in /etc/passwd or /etc/group", f.Path, f.UID, f.GID)
	}
	v.good = append(v.good, walkEvidence(w))
	return v.outcome()
}
