package host

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// parseDpkgStatus parses a dpkg status file (deb822 paragraphs) and returns
// the packages whose Status ends in "installed" ("install ok installed",
// "hold ok installed"), in file order. Continuation lines are ignored; a
// line of more than 1 MiB is an error.
func parseDpkgStatus(r io.Reader) ([]Software, error) {
	var (
		out      []Software
		cur      Software
		status   string
		sawField bool
		sc       = bufio.NewScanner(r)
		flush    = func() {
			if sawField && cur.Name != "" && strings.HasSuffix(status, " installed") {
				cur.Source = "dpkg"
				out = append(out, cur)
			}
			cur, status, sawField = Software{}, "", false
		}
	)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes() // converted to strings only for the kept fields
		if len(bytes.TrimSpace(line)) == 0 {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // continuation of a multi-line field
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, fmt.Errorf("%w: dpkg status: line %q", ErrParse, truncateForError(string(line)))
		}
		sawField = true
		v = bytes.TrimSpace(v)
		switch string(k) { // no allocation: compiler-optimised comparison
		case "Package":
			cur.Name = string(v)
		case "Status":
			status = string(v)
		case "Version":
			cur.Version = string(v)
		case "Architecture":
			cur.Architecture = string(v)
		case "Maintainer":
			cur.Vendor = string(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan dpkg status: %w", err)
	}
	flush()
	return out, nil
}

// truncateForError shortens s for an error message.
func truncateForError(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
