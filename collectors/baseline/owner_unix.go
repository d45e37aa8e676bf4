//go:build unix

package baseline

import (
	"os"
	"syscall"
	"time"
)

// ownerOf returns the uid owning path, or -1 when it cannot be read. Files are
// compared with the owner of the root directory, which is root (0) on a real
// host and the test user in a fixture tree.
func ownerOf(path string) int {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid)
	}
	return -1
}

// fileIDs returns the owner uid and gid of a file.
func fileIDs(fi os.FileInfo) (uid, gid int, ok bool) {
	if s, isStat := fi.Sys().(*syscall.Stat_t); isStat {
		return int(s.Uid), int(s.Gid), true
	}
	return 0, 0, false
}

// fileCtime returns the inode change time of a file.
func fileCtime(fi os.FileInfo) (time.Time, bool) {
	if s, isStat := fi.Sys().(*syscall.Stat_t); isStat {
		sec, nsec := s.Ctim.Unix()
		return time.Unix(sec, nsec), true
	}
	return time.Time{}, false
}
