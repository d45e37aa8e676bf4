package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeward/edgeward/agent/internal/config"
)

// TestLoadConfigLocatesCollectorErrors: mistakes in the sections that a
// collector validates (the baseline's site_policy and self_declared) are
// reported like every other config error, with file, line and dotted key.
func TestLoadConfigLocatesCollectorErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown site policy key",
			"agent: {id: x}\ncollectors:\n  baseline:\n    site_policy:\n      min_password_length: 8\n      bogus_key: 1\n",
			"edgeward.yaml:6: collectors.baseline.site_policy.bogus_key: unknown key"},
		{"site policy value out of range",
			"agent: {id: x}\ncollectors:\n  baseline:\n    site_policy:\n      min_password_length: 0\n",
			"edgeward.yaml:5: collectors.baseline.site_policy.min_password_length: "},
		{"unknown self-declared question",
			"agent: {id: x}\ncollectors:\n  baseline:\n    self_declared:\n      NOPE-1: {answer: yes}\n",
			"edgeward.yaml:5: collectors.baseline.self_declared.NOPE-1: unknown question id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "edgeward.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadConfig(path)
			if err == nil {
				t.Fatal("config accepted")
			}
			if got := strings.TrimPrefix(err.Error(), filepath.Dir(path)+string(filepath.Separator)); !strings.HasPrefix(got, tc.want) {
				t.Errorf("error = %q, want prefix %q", got, tc.want)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error %v is not config.ErrInvalid", err)
			}
		})
	}
	if _, err := loadConfig(filepath.Join("..", "configs", "gateway.yaml")); err != nil {
		t.Errorf("shipped gateway.yaml: %v", err)
	}
}
