package agent

import (
	"io"
	"os"
	"strconv"
)

// tableWidth is the width the scan table wraps to: the terminal's width when
// the report goes to a terminal, else $COLUMNS when set, else 0 (the
// report's default of 100 columns).
func tableWidth(stdout io.Writer, toStdout bool) int {
	if f, ok := stdout.(*os.File); ok && toStdout && isTerminal(f) {
		if n := terminalWidth(f); n > 0 {
			return n
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 0
}
