package buffer

import (
	"os"
	"syscall"
)

// preallocate gives the byte range [from, to) of the file at path real disk
// blocks without changing its size. bbolt grows its file with ftruncate,
// which leaves the new tail sparse; with the tail allocated, a transaction
// that must write new pages (even one that only deletes records, since bbolt
// copies on write) still succeeds when the file system is full, so the buffer
// can always drop records to make room. It uses its own descriptor: bbolt's
// flock belongs to bbolt's, and closing this one does not release it.
func preallocate(path string, from, to int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return syscall.Fallocate(int(f.Fd()), 0, from, to-from)
}
