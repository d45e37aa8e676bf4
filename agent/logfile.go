package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// rotatingFile is an io.Writer that appends to a log file and, when the
// next write would take it past max bytes, renames it to path.1 (path.1 to
// path.2, and so on, keeping keep old files) and starts a new one. It is
// the agent's log when it runs as a Windows service, where stderr goes
// nowhere. It is safe for concurrent use.
type rotatingFile struct {
	mu   sync.Mutex
	path string
	max  int64
	keep int
	f    *os.File
	size int64
}

// openRotating opens (appends to) path, creating its directory.
func openRotating(path string, max int64, keep int) (*rotatingFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	r := &rotatingFile{path: path, max: max, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log file: %w", err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write appends p, rotating first when p would not fit.
func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate shifts the old files and reopens path. The file is closed before
// it is renamed, as Windows requires.
func (r *rotatingFile) rotate() error {
	r.f.Close()
	r.f = nil
	name := func(i int) string { return r.path + "." + strconv.Itoa(i) }
	os.Remove(name(r.keep))
	for i := r.keep - 1; i >= 1; i-- {
		os.Rename(name(i), name(i+1)) // absent old files are fine
	}
	if err := os.Rename(r.path, name(1)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("rotate log file: %w", err)
	}
	return r.open()
}

// Close closes the current file.
func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
