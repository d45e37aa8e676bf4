package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRotatingFile writes past the size cap several times: the current file
// never exceeds it, keep old files are kept in order and nothing written to
// the kept files is lost.
func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log", "edgeward.log")
	r, err := openRotating(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	line := func(i int) string { return strings.Repeat(string(rune('a'+i)), 39) + "\n" } // 40 bytes
	for i := range 7 {
		if _, err := r.Write([]byte(line(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// 7 lines of 40 bytes, 2 per 100-byte file: g | e f | c d (a b dropped).
	for file, want := range map[string]string{
		path:        line(6),
		path + ".1": line(4) + line(5),
		path + ".2": line(2) + line(3),
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("%s = %q, want %q", filepath.Base(file), b, want)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3 exists (keep is 2): %v", path, err)
	}

	// Reopening appends.
	r, err = openRotating(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	r.Write([]byte(line(7)))
	r.Close()
	if b, _ := os.ReadFile(path); string(b) != line(6)+line(7) {
		t.Errorf("after reopening: %q", b)
	}
	if _, err := r.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
}
