//go:build !windows

package buffer

import (
	"errors"
	"os"
	"syscall"
)

// initialMmapCap is the largest InitialMmapSize handed to bbolt (before the
// 32-bit clamp). The mapping only reserves address space; the file itself
// grows in Options-independent 1 MiB steps (see openBolt).
const initialMmapCap = 1 << 30

// syncDir fsyncs the directory dir so that a rename inside it survives a
// power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return serr
	}
	return cerr
}

// diskFullMessage is strerror(ENOSPC), for errors bbolt formats with %s.
const diskFullMessage = "no space left on device"

func isDiskFullErrno(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
