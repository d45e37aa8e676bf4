package host

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// parseOSRelease parses an os-release(5) file into KEY -> value, removing
// shell quoting. Lines that are not assignments are skipped.
func parseOSRelease(r io.Reader) (map[string]string, error) {
	out := make(map[string]string)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			continue
		}
		out[k] = unquoteOSRelease(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan os-release: %w", err)
	}
	return out, nil
}

// unquoteOSRelease removes one level of double or single quotes.
func unquoteOSRelease(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if u, err := strconv.Unquote(v); err == nil {
			return u
		}
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	return v
}
