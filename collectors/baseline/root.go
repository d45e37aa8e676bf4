package baseline

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxRead bounds every file read (procfs uses the same cap) but the package
// database, which is bounded by maxPackageDB: a dpkg status file of a
// desktop or a well-equipped server holds several MiB.
const (
	maxRead      = 1 << 20
	maxPackageDB = 64 << 20
)

// fsRoot is the directory that stands for "/" of the inspected host. Paths are
// built only through Path, never from a package-level variable.
type fsRoot struct{ dir string }

// Path joins elem under the root: Path("etc", "ssh", "sshd_config").
func (r fsRoot) Path(elem ...string) string {
	return filepath.Join(append([]string{r.dir}, elem...)...)
}

// rel returns the slash-separated path relative to the root, for evidence.
func rel(elem ...string) string { return strings.Join(elem, "/") }

// ReadFile reads a regular file of at most maxRead bytes. Errors keep the
// relative path in a *readError so that evidence can name it.
func (r fsRoot) ReadFile(elem ...string) ([]byte, error) {
	return r.readFileMax(maxRead, elem...)
}

// readFileMax is ReadFile with a cap of max bytes.
func (r fsRoot) readFileMax(max int64, elem ...string) ([]byte, error) {
	f, size, err := r.openRegular(elem...)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// sized from the file's length (io.ReadAll alone doubles its way up,
	// leaving twice the file in garbage)
	var buf bytes.Buffer
	buf.Grow(int(min(size, max)) + bytes.MinRead)
	_, err = buf.ReadFrom(io.LimitReader(f, max+1))
	b := buf.Bytes()
	name := rel(elem...)
	if err != nil {
		return nil, &readError{path: name, err: err}
	}
	if int64(len(b)) > max {
		return nil, &readError{path: name, err: ErrTooLarge, max: max}
	}
	return b, nil
}

// scanLines calls each for every line (without its end of line) of a
// regular file of at most max bytes, gunzipped when its name ends in .gz
// (max then bounds the uncompressed bytes), without holding the file in
// memory: the package database and the package logs run to MiBs. line is
// valid only during the call. A file over max yields ErrTooLarge, a line
// over maxRead bufio.ErrTooLong, each possibly after some lines were
// handed to each. Errors are *readError.
func (r fsRoot) scanLines(max int64, each func(line []byte), elem ...string) error {
	f, _, err := r.openRegular(elem...)
	if err != nil {
		return err
	}
	defer f.Close()
	name := rel(elem...)
	var src io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return &readError{path: name, err: err}
		}
		src = zr
	}
	lr := &io.LimitedReader{R: src, N: max + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 64<<10), maxRead)
	for sc.Scan() {
		if lr.N <= 0 {
			break
		}
		each(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		return &readError{path: name, err: err}
	}
	if lr.N <= 0 {
		return &readError{path: name, err: ErrTooLarge, max: max}
	}
	return nil
}

// openRegular opens a regular file under the root and returns its size. A
// path that is not a regular file is refused before it is opened (opening
// a FIFO would block).
func (r fsRoot) openRegular(elem ...string) (*os.File, int64, error) {
	p := r.Path(elem...)
	name := rel(elem...)
	st, err := os.Stat(p)
	if err != nil {
		return nil, 0, &readError{path: name, err: err}
	}
	if !st.Mode().IsRegular() {
		return nil, 0, &readError{path: name, err: ErrNotRegular}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, &readError{path: name, err: err}
	}
	return f, st.Size(), nil
}

// Exists reports whether the path exists (without following a final symlink,
// so that systemd links to /dev/null or to absolute paths outside a fixture
// root count as present).
func (r fsRoot) Exists(elem ...string) bool {
	_, err := os.Lstat(r.Path(elem...))
	return err == nil
}

// Glob returns the relative paths (slash-separated, sorted) matching pattern
// under the root. An invalid pattern yields nothing.
func (r fsRoot) Glob(pattern string) []string {
	m, err := filepath.Glob(filepath.Join(r.dir, filepath.FromSlash(pattern)))
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for _, p := range m {
		if q, err := filepath.Rel(r.dir, p); err == nil {
			out = append(out, filepath.ToSlash(q))
		}
	}
	sort.Strings(out)
	return out
}

// ReadRel reads a slash-separated relative path (as returned by Glob).
func (r fsRoot) ReadRel(p string) ([]byte, error) {
	return r.ReadFile(strings.Split(p, "/")...)
}

// readError is a read failure of one file under the root.
type readError struct {
	path string
	err  error
	max  int64 // the cap exceeded, with ErrTooLarge
}

func (e *readError) Error() string { return "read " + e.path + ": " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// describe turns a read error into evidence with the absolute path on the
// inspected host: "permission denied reading /etc/shadow", "/etc/shadow not
// found".
func describe(err error) string {
	var re *readError
	if !errors.As(err, &re) {
		return err.Error()
	}
	re = &readError{path: "/" + strings.TrimPrefix(re.path, "/"), err: re.err, max: re.max}
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied reading " + re.path
	case errors.Is(err, fs.ErrNotExist):
		return re.path + " not found"
	case errors.Is(err, ErrNotRegular):
		return re.path + " is not a regular file"
	case errors.Is(err, ErrTooLarge):
		return fmt.Sprintf("%s is larger than %d bytes", re.path, re.max)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("read %s: %v", re.path, pe.Err)
	}
	return err.Error()
}

// isNotExist reports whether err says the file is absent.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
