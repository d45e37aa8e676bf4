package host

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Read caps.
const (
	maxSmallFile = 1 << 20  // proc, sys, os-release, unit files, utmp
	maxDBFile    = 64 << 20 // dpkg status, rpm database
)

// hostRoot is the directory the host's file system is read under ("/" in
// production, a fixture tree in tests). It is a value, never a global.
type hostRoot string

// path joins elems under the root.
func (r hostRoot) path(elems ...string) string {
	return filepath.Join(append([]string{string(r)}, elems...)...)
}

// readFile reads a whole file, failing with ErrTooLarge beyond max bytes.
// It does not trust the size in the file's metadata: proc and sys files
// report 0 or 4096 whatever their content.
func readFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllCapped(f, path, max)
}

// readAllCapped reads r to the end, failing with ErrTooLarge beyond max.
func readAllCapped(r io.Reader, name string, max int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if n > max {
		return nil, fmt.Errorf("read %s: %w: over %d bytes", name, ErrTooLarge, max)
	}
	return buf.Bytes(), nil
}

// firstLine returns the first line of a small file, trimmed of space.
func firstLine(path string) (string, error) {
	b, err := readFile(path, maxSmallFile)
	if err != nil {
		return "", err
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return string(bytes.TrimSpace(b)), nil
}

// cappedReader reads from r and fails with ErrTooLarge once more than left
// bytes have been read, so a stream parser stays bounded without holding
// the whole file.
type cappedReader struct {
	r    io.Reader
	name string
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, fmt.Errorf("read %s: %w", c.name, ErrTooLarge)
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return 0, fmt.Errorf("read %s: %w: over the cap", c.name, ErrTooLarge)
	}
	return n, err
}
