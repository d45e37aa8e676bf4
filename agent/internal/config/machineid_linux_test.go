package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeward/edgeward/agent/internal/config"
)

// TestDefaultAgentIDFrom reads machine ids from fixture roots under
// testdata/machineid.
func TestDefaultAgentIDFrom(t *testing.T) {
	t.Parallel()
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no hostname: %v", err)
	}
	tests := []struct {
		root string
		want string
	}{
		// /etc/machine-id wins over the dbus copy, and is lowercased.
		{filepath.Join("testdata", "machineid", "systemd"), "4c4c4544003a4b1080b5c4c04f4a4e32"},
		{filepath.Join("testdata", "machineid", "dbus-only"), "0123456789abcdef0123456789abcdef"},
		// systemd writes "uninitialized" during first boot: skipped.
		{filepath.Join("testdata", "machineid", "uninitialized"), "aaaabbbbccccddddeeeeffff00001111"},
		// No machine id at all: the hostname, as one safe topic level.
		{t.TempDir(), strings.ToLower(host)},
	}
	for _, tc := range tests {
		if got := config.DefaultAgentIDFrom(tc.root); got != tc.want {
			t.Errorf("DefaultAgentIDFrom(%s) = %q, want %q", tc.root, got, tc.want)
		}
	}
	if id := config.DefaultAgentID(); id == "" || strings.ContainsAny(id, "/+# ") {
		t.Errorf("DefaultAgentID() = %q, want a non-empty topic level", id)
	}
}
