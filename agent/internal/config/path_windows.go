package config

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// DefaultFile returns the configuration file used when none is named:
// %ProgramData%\edgeward\edgeward.yaml.
func DefaultFile() string { return filepath.Join(programData(), "edgeward", "edgeward.yaml") }

// programData is the ProgramData known folder (C:\ProgramData). It is asked
// of the shell rather than read from the environment, which a service may
// not have or may have differently from the user who installed it; the
// variable and then C:\ProgramData are the fallbacks.
func programData() string {
	if p, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0); err == nil && p != "" {
		return p
	}
	if base := os.Getenv("ProgramData"); base != "" {
		return base
	}
	return `C:\ProgramData`
}

// defaultBufferPath is %ProgramData%\edgeward\buffer.db.
func defaultBufferPath() string {
	return filepath.Join(programData(), "edgeward", "buffer.db")
}
