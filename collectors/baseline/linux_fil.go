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
			v.no("%s owned by uid %d", f.path, uid)
			continue
		}
		v.check(ok, "%s mode %04o (max %04o)", f.path, m, f.mode)
	}
	return v.outcome()
}
