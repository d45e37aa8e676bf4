package host

import (
	"fmt"
	"strconv"
	"strings"
)

// parseBtime returns the "btime" (boot time, seconds since the epoch) of a
// Linux proc/stat file.
func parseBtime(b []byte) (uint64, error) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: proc/stat: btime %q", ErrParse, v)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: proc/stat: no btime line", ErrParse)
}
