package buffer

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// trimMapping drops this process's mappings of the first size bytes of
// bbolt's memory map of the file (madvise MADV_DONTNEED). bbolt reads the
// file through a shared, read-only map, so every page a drain or a fill
// reads stays in the resident set until the file is closed: a backlog of
// 50 MB added 50 MB of file-backed memory. The pages stay in the page
// cache; a page read again is mapped again (a minor fault) with the same
// content, since bbolt writes through the file. Only the writer goroutine
// calls it, which is the only one that remaps the file, so the address is
// current. Errors are ignored: it only frees memory.
func trimMapping(db *bolt.DB, size int64) {
	if db == nil || size <= 0 {
		return
	}
	defer func() { _ = recover() }() // Info asserts that the file is mapped
	addr := db.Info().Data
	if addr == 0 {
		return
	}
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, addr, uintptr(size), unix.MADV_DONTNEED)
}
