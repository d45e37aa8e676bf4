//go:build unix

package passive

import (
	"fmt"
	"os"
	"syscall"
)

// fileID returns the device and inode of a file.
func fileID(_ string, fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino))
}
