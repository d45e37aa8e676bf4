package baseline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	yaml "go.yaml.in/yaml/v3"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" = valid
	}{
		{"defaults", DefaultConfig(), ""},
		{"zero value", Config{}, ""},
		{"short interval", Config{Interval: time.Second}, "interval: must be at least 1m0s"},
		{"bad role", Config{Role: "plc"}, `role: must be one of auto|workstation|operator|gateway|server|portable, got "plc"`},
		{"unknown site key", Config{SitePolicy: map[string]any{"ntp": []any{"x"}}}, "site_policy.ntp: unknown key"},
		{"wrong type", Config{SitePolicy: map[string]any{"ntp_servers": "10.0.0.1"}}, "site_policy.ntp_servers: must be a list of strings, got string"},
		{"bad cidr", Config{SitePolicy: map[string]any{"management_cidrs": []any{"10.0.0.0/33"}}}, `site_policy.management_cidrs: bad CIDR "10.0.0.0/33"`},
		{"bad port", Config{SitePolicy: map[string]any{"allowed_listen_ports": []any{"22"}}}, `site_policy.allowed_listen_ports: port "22": want tcp/N or udp/N`},
		{"out of range", Config{SitePolicy: map[string]any{"patch_window_days": 0}}, "site_policy.patch_window_days: must be between 1 and 3650, got 0"},
		{"exemption without approver", Config{SitePolicy: map[string]any{"exemptions": map[string]any{"LNX-SSH-001": map[string]any{"reason": "x", "expires": "2027-01-01"}}}},
			"site_policy.exemptions.LNX-SSH-001: reason, approver and expires are required"},
		{"unknown question", Config{SelfDeclared: map[string]any{"ORG-X": map[string]any{"answer": "YES"}}}, "self_declared.ORG-X: unknown question id"},
		{"bad answer", Config{SelfDeclared: map[string]any{"ORG-G2016-8.1": map[string]any{"answer": "MAYBE"}}}, `self_declared.ORG-G2016-8.1.answer: must be YES, PARTIAL, NO or NA, got "MAYBE"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestDecodeSitePolicyYAML decodes a policy as the agent's YAML loader
// hands it over (map[string]any with uint64 numbers).
func TestDecodeSitePolicyYAML(t *testing.T) {
	t.Parallel()
	var raw map[string]any
	src := `
allowed_listen_ports: ["tcp/22", "udp/123"]
ntp_servers: [10.0.0.1]
patch_window_days: 60
av_signature_max_days: 30
ics_ports: [1962]
allow_wireless: true
management_cidrs: ["10.0.9.0/24"]
exemptions:
  LNX-SSH-001: {reason: "vendor tool needs root", approver: "plant manager", expires: 2027-01-31}
`
	if err := yaml.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatal(err)
	}
	p, err := DecodeSitePolicy(raw)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{p.AllowedListenPorts, p.NTPServers, p.PatchWindowDays, p.AVSignatureMaxDays, p.ICSPorts, p.AllowWireless,
		p.ManagementCIDRs[0].String(), p.BackupMaxAgeDays, p.MinPasswordLength, p.Exemptions["LNX-SSH-001"].Approver,
		p.Exemptions["LNX-SSH-001"].Expires.Format(time.DateOnly)}
	want := []any{[]string{"tcp/22", "udp/123"}, []string{"10.0.0.1"}, 60, 30, []int{1962}, true, "10.0.9.0/24", 30, 8, "plant manager", "2027-01-31"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestExemption(t *testing.T) {
	t.Parallel()
	rep := scanFixture(t, "debian-default", func(c *Config) {
		c.SitePolicy = map[string]any{"exemptions": map[string]any{
			"LNX-SSH-001": map[string]any{"reason": "vendor maintenance tool", "approver": "plant manager", "expires": "2027-06-30"},
			"LNX-SSH-002": map[string]any{"reason": "old", "approver": "x", "expires": "2025-01-01"},
		}}
	})
	states := map[string]State{}
	for _, r := range rep.Results {
		states[r.ID] = r.State
	}
	if states["LNX-SSH-001"] != StateExempt || states["LNX-SSH-002"] != StateFail {
		t.Errorf("SSH-001 %s (want EXEMPT), SSH-002 %s (want FAIL, exemption expired)", states["LNX-SSH-001"], states["LNX-SSH-002"])
	}
}

func TestSelfDeclaredLevel(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	yes := func(ev bool, reviewed bool) Declaration {
		d := Declaration{Answer: AnswerYes, DeclaredBy: "it"}
		if ev {
			d.Evidence = []string{"doc.pdf"}
		}
		if reviewed {
			d.Reviewer, d.ReviewStatus = "auditor", "accepted"
		}
		return d
	}
	all := func(star int, d Declaration) map[string]Declaration {
		m := map[string]Declaration{}
		for _, q := range OrgQuestions() {
			if q.Star <= star {
				m[q.ID] = d
			}
		}
		return m
	}
	tests := []struct {
		name string
		decl map[string]Declaration
		want int
	}{
		{"nothing declared", nil, 0},
		{"level 1 without evidence", all(1, yes(false, false)), 1},
		{"level 2 needs evidence", all(2, yes(false, false)), 1},
		{"level 2 with evidence", all(2, yes(true, false)), 2},
		{"level 3 needs review", all(3, yes(true, false)), 2},
		{"level 3 reviewed", all(3, yes(true, true)), 3},
		{"expired counts as NO", func() map[string]Declaration {
			m := all(1, yes(true, true))
			d := m["ORG-G2016-8.1"]
			d.ValidUntil = now.AddDate(0, -1, 0)
			m["ORG-G2016-8.1"] = d
			return m
		}(), 0},
	}
	for _, tc := range tests {
		if got := scoreSelfDeclared(tc.decl, now).Level; got != tc.want {
			t.Errorf("%s: L_org = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestSampleYAML decodes and validates the embedded sample configuration.
func TestSampleYAML(t *testing.T) {
	t.Parallel()
	var cfg Config // decoded exactly as the agent decodes collectors.baseline
	if err := yaml.Unmarshal(SampleYAML, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("sample.yaml: %v", err)
	}
	if cfg.Interval != DefaultInterval || !cfg.Enabled || cfg.Role != RoleAuto {
		t.Errorf("sample config %+v", cfg)
	}
	p, _ := DecodeSitePolicy(cfg.SitePolicy)
	if len(p.Exemptions) != 1 || p.AVSignatureMaxDays != 7 {
		t.Errorf("decoded sample policy %+v", p)
	}
}

// TestLastKnownCarriesErrors checks the 24 h rule for ERROR results in Run.
func TestLastKnownCarriesErrors(t *testing.T) {
	t.Parallel()
	root := copyFixture(t, "broken")
	c, err := New(fixtureConfig(t, "broken", root), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.target = "linux"
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	for _, tc := range []struct {
		age  time.Duration
		want bool
	}{{time.Hour, true}, {25 * time.Hour, false}} {
		prev := map[string]prevResult{"LNX-ACC-004": {state: StatePass, known: StatePass, at: now.Add(-tc.age)}}
		rep, err := c.scan(context.Background(), prev)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Results {
			if r.ID == "LNX-ACC-004" && (r.LastKnown != nil) != tc.want {
				t.Errorf("age %s: LastKnown = %+v, want set=%t", tc.age, r.LastKnown, tc.want)
			}
		}
	}
}
