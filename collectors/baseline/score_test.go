package baseline

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mk builds a result for scoring tests.
func mk(id string, star int, sev Severity, st State) Result {
	return Result{ID: id, Star: star, Severity: sev, State: st, Area: "USB"}
}

// passing returns n passing Medium checks at star.
func passing(prefix string, star, n int) []Result {
	var out []Result
	for i := 0; i < n; i++ {
		out = append(out, mk(fmt.Sprintf("%s-%d-%03d", prefix, star, i), star, SeverityMedium, StatePass))
	}
	return out
}

func TestScoreLevelRule(t *testing.T) {
	t.Parallel()
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	base := func(extra ...Result) []Result {
		r := append(passing("LNX-X", 1, 20), passing("LNX-X", 2, 20)...)
		r = append(r, passing("LNX-X", 3, 10)...)
		r = append(r, mk("LNX-PLT-001", 3, SeverityMedium, StatePass), mk("LNX-PLT-002", 4, SeverityMedium, StatePass))
		return append(r, extra...)
	}
	tests := []struct {
		name    string
		results []Result
		want    int
	}{
		{"all pass reaches 4", base(), 4},
		{"open critical at 1 blocks every level", base(mk("LNX-ACC-004", 1, SeverityCritical, StateFail)), 0},
		{"critical ERROR blocks too", base(mk("LNX-ACC-004", 1, SeverityCritical, StateError)), 0},
		{"critical at 2 blocks level 2 only", base(mk("C2", 2, SeverityCritical, StateFail)), 1},
		{"high at 1 only lowers the score at 1, blocks 2", base(mk("H1", 1, SeverityHigh, StateFail)), 1},
		{"high at 2 does not block 2, blocks 3", base(mk("H2", 2, SeverityHigh, StateFail)), 2},
		{"NOT_CONFIGURED excluded at 1, fails from 2 up", base(mk("P2", 1, SeverityHigh, StateNotConfigured)), 1},
		{"NOT_CONFIGURED medium at 2 lowers the score only", base(mk("P3", 2, SeverityMedium, StateNotConfigured)), 4},
		{"PLT-001 not passing blocks 3", append(base()[:50], mk("LNX-PLT-001", 3, SeverityMedium, StateNotConfigured), mk("LNX-PLT-002", 4, SeverityMedium, StatePass)), 2},
		{"PLT-002 not passing blocks 4", append(base()[:51], mk("LNX-PLT-002", 4, SeverityMedium, StateFail)), 3},
		{"score below threshold at 1", append(passing("A", 1, 4), mk("M1", 1, SeverityMedium, StateFail), mk("M2", 1, SeverityMedium, StateFail)), 0},
		{"exempt critical passes the gate", base(mk("LNX-ACC-004", 1, SeverityCritical, StateExempt)), 4},
		{"NOT_APPLICABLE excluded", base(mk("NA1", 1, SeverityCritical, StateNotApplicable)), 4},
		{"no checks: level 0", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ComputeScore(tc.results, cat)
			if got.Level != tc.want {
				t.Errorf("level = %d, want %d; levels %+v", got.Level, tc.want, got.Levels)
			}
		})
	}
}

func TestScoreWeightsAndExemptCap(t *testing.T) {
	t.Parallel()
	// Weights: one Critical PASS (10) and one High FAIL (5) → S₁ = 10/15.
	r := []Result{mk("A", 1, SeverityCritical, StatePass), mk("B", 1, SeverityHigh, StateFail)}
	if got := levelScore(r, 1).Score; got != 0.6667 {
		t.Errorf("S1 = %v, want 0.6667", got)
	}
	// 10 % cap: total 20 (two Critical); one EXEMPT Critical weighs 10 > 2 → counts 0.5.
	r = []Result{mk("A", 1, SeverityCritical, StatePass), mk("B", 1, SeverityCritical, StateExempt)}
	if got := levelScore(r, 1).Score; got != 0.75 {
		t.Errorf("S1 with capped exemption = %v, want 0.75", got)
	}
	// Under the cap: Low (1) exempt of total 21 counts fully.
	r = []Result{mk("A", 1, SeverityCritical, StatePass), mk("B", 1, SeverityCritical, StatePass), mk("C", 1, SeverityLow, StateExempt)}
	if got := levelScore(r, 1).Score; got != 1 {
		t.Errorf("S1 with small exemption = %v, want 1", got)
	}
	// ERROR with a last known PASS counts as PASS.
	e := mk("E", 1, SeverityHigh, StateError)
	e.LastKnown = &LastKnown{State: StatePass}
	if got := levelScore([]Result{e}, 1); got.Score != 1 || len(got.Blockers) != 0 {
		t.Errorf("ERROR with last known PASS: %+v", got)
	}
}

func TestScoreCatalogExample(t *testing.T) {
	t.Parallel()
	// Catalog §4.7 shape: a High ★1 failure allows ★1 but gates ★2.
	r := append(passing("W", 1, 10), mk("WIN-ACC-003", 1, SeverityHigh, StateFail))
	r = append(r, passing("W", 2, 10)...)
	cat, _ := LoadCatalog()
	s := ComputeScore(r, cat)
	if s.Level != 1 {
		t.Fatalf("level %d, want 1", s.Level)
	}
	want := []string{"WIN-ACC-003 high from 1★ FAIL"}
	if diff := cmp.Diff(want, s.Levels[1].Blockers); diff != "" {
		t.Errorf("blockers at 2 (-want +got):\n%s", diff)
	}
}
