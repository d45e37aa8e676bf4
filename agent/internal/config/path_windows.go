package config

import (
	"os"
	"path/filepath"
)

// DefaultFile returns the configuration file used when none is named:
// %ProgramData%\edgeward\edgeward.yaml.
func DefaultFile() string { return filepath.Join(programData(), "edgeward", "edgeward.yaml") }

func programData() string {
	if base := os.Getenv("ProgramData"); base != "" {
		return base
	}
	return `C:\ProgramData`
}

// defaultBufferPath is %ProgramData%\edgeward\buffer.db.
func defaultBufferPath() string {
	return filepath.Join(programData(), "edgeward", "buffer.db")
}
