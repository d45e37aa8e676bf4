package buffer

import (
	"errors"
	"syscall"
)

// initialMmapCap is the largest InitialMmapSize handed to bbolt. On Windows
// bbolt resizes the file to InitialMmapSize at open, which would defeat size
// accounting and compaction, so the mapping grows on demand instead.
const initialMmapCap = 0

// syncDir is a no-op on Windows, where directories cannot be fsynced; NTFS
// journals the rename itself.
func syncDir(string) error { return nil }

// diskFullMessage is the text of ERROR_DISK_FULL, for errors bbolt formats
// with %s.
const diskFullMessage = "not enough space on the disk"

// isDiskFullErrno matches ERROR_HANDLE_DISK_FULL (39) and ERROR_DISK_FULL
// (112).
func isDiskFullErrno(err error) bool {
	return errors.Is(err, syscall.Errno(39)) || errors.Is(err, syscall.Errno(112))
}
