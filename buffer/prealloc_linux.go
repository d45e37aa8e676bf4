package buffer

import (
	"os"
	"syscall"
)

// preallocate gives the byte range [from, to) of f real disk blocks without
// writing them; the file grows to at least to.
func preallocate(f *os.File, from, to int64) error {
	return syscall.Fallocate(int(f.Fd()), 0, from, to-from)
}
