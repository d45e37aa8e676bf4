package baseline

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// thresholds are θ₁..θ₄ of catalog §4.3.
var thresholds = [5]float64{0, 0.80, 0.85, 0.90, 0.90}

// exemptCap is the share of the total weight that EXEMPT may fill at full
// value; beyond it each further EXEMPT counts 0.5.
const exemptCap = 0.10

// Score is the host-observable star level and the figures behind it.
type Score struct {
	// Level is L(h): the highest star level whose gates and thresholds hold
	// for it and every lower level; 0 means below 基础建设级.
	Level int `json:"level"`
	// WeightedScore is S at the host's next level (Level+1, at most 4), the
	// figure to improve; S at every level is in Levels.
	WeightedScore float64      `json:"weighted_score"`
	Levels        []LevelScore `json:"levels"`
	Areas         []AreaScore  `json:"areas"`
	Counts        StateCounts  `json:"counts"`
	// Verified says which levels a host agent can verify at all: 4★ and 5★
	// are never shown as verified (catalog §1.2).
	Note string `json:"note"`
}

// LevelScore is S_N with its gates for one level N.
type LevelScore struct {
	Star      int     `json:"star"`
	Score     float64 `json:"score"`     // S_N over applicable checks with star ≤ N
	Threshold float64 `json:"threshold"` // θ_N
	Met       bool    `json:"met"`       // gates hold and S_N ≥ θ_N (this level alone)
	// Blockers lists the gate failures, e.g. "LNX-ACC-004 critical FAIL".
	Blockers []string `json:"blockers"`
	// Pass and Total count the applicable checks with star exactly N;
	// PassRate = Pass / Total (0 when Total is 0).
	Pass     int     `json:"pass"`
	Total    int     `json:"total"`
	PassRate float64 `json:"pass_rate"`
}

// AreaScore is the pass rate of one control area over its applicable checks.
type AreaScore struct {
	Area     string  `json:"area"`
	TitleZH  string  `json:"title_zh"`
	TitleEN  string  `json:"title_en"`
	Pass     int     `json:"pass"`
	Total    int     `json:"total"`
	PassRate float64 `json:"pass_rate"`
}

// StateCounts counts results per state.
type StateCounts struct {
	Pass          int `json:"pass"`
	Fail          int `json:"fail"`
	NotApplicable int `json:"not_applicable"`
	NotConfigured int `json:"not_configured"`
	Error         int `json:"error"`
	Exempt        int `json:"exempt"`
}

func (c *StateCounts) add(s State) {
	switch s {
	case StatePass:
		c.Pass++
	case StateFail:
		c.Fail++
	case StateNotApplicable:
		c.NotApplicable++
	case StateNotConfigured:
		c.NotConfigured++
	case StateError:
		c.Error++
	case StateExempt:
		c.Exempt++
	}
}

// scoreNote is shown with every score.
const scoreNote = "主机可观测部分预评估，非官方评定 / pre-assessment of the host-observable part, not an official rating; 4★ and 5★ cannot be verified on a host"

// ComputeScore applies the scoring rule of catalog §4.3 to results. It is
// pure: the same results give the same score.
func ComputeScore(results []Result, cat *Catalog) Score {
	s := Score{Note: scoreNote}
	for i := range results {
		s.Counts.add(results[i].State)
	}
	prevOK := true
	for n := 1; n <= 4; n++ {
		ls := levelScore(results, n)
		s.Levels = append(s.Levels, ls)
		if prevOK && ls.Met {
			s.Level = n
		} else {
			prevOK = false
		}
	}
	s.WeightedScore = s.Levels[s.NextLevel()-1].Score
	s.Areas = areaScores(results, cat)
	return s
}

// value returns v(c) at level n for a scored state, and whether c is in C_n.
func value(st State, n int) (float64, bool) {
	switch st {
	case StatePass:
		return 1, true
	case StateFail, StateError:
		return 0, true
	case StateNotConfigured:
		if n == 1 {
			return 0, false
		}
		return 0, true
	case StateExempt:
		return 1, true
	}
	return 0, false
}

// levelScore computes S_n and the gates of level n.
func levelScore(results []Result, n int) LevelScore {
	ls := LevelScore{Star: n, Threshold: thresholds[n]}
	var total, got float64
	var exempt []int
	for i := range results {
		r := &results[i]
		if r.Star > n {
			continue
		}
		st := r.scored()
		v, in := value(st, n)
		if !in {
			continue
		}
		w := r.Severity.Weight()
		total += w
		if st == StateExempt {
			exempt = append(exempt, i)
		} else {
			got += w * v
		}
		if r.Star == n {
			ls.Total++
			if st == StatePass || st == StateExempt {
				ls.Pass++
			}
		}
		ls.Blockers = append(ls.Blockers, gates(r, st, n)...)
	}
	var exemptW float64
	for _, i := range exempt {
		w := results[i].Severity.Weight()
		if exemptW+w <= exemptCap*total {
			got += w
		} else {
			got += 0.5 * w
		}
		exemptW += w
	}
	if total > 0 {
		ls.Score = round4(got / total)
	}
	if ls.Total > 0 {
		ls.PassRate = round4(float64(ls.Pass) / float64(ls.Total))
	}
	ls.Met = len(ls.Blockers) == 0 && total > 0 && ls.Score >= ls.Threshold
	return ls
}

// gates returns the gate failures of r (scored as st) at level n: a
// critical check that does not pass, a high check from a lower level that
// does not pass, and the platform-integration checks from 3★ and 4★.
func gates(r *Result, st State, n int) []string {
	var out []string
	okState := st == StatePass || st == StateExempt
	switch {
	case r.Severity == SeverityCritical && !okState:
		out = append(out, fmt.Sprintf("%s critical %s", r.ID, st))
	case r.Severity == SeverityHigh && r.Star < n && !okState:
		out = append(out, fmt.Sprintf("%s high from %d★ %s", r.ID, r.Star, st))
	}
	if (n >= 3 && strings.HasSuffix(r.ID, "-PLT-001") || n >= 4 && strings.HasSuffix(r.ID, "-PLT-002")) && st != StatePass {
		out = append(out, fmt.Sprintf("%s platform integration %s", r.ID, st))
	}
	return out
}

// NextLevel is the level the host would reach next (Level+1, at most 4):
// the level WeightedScore is computed at.
func (s Score) NextLevel() int {
	return min(s.Level+1, 4)
}

// areaScores computes the pass rate per control area over applicable checks
// (PASS and EXEMPT pass; NOT_APPLICABLE is excluded; everything else fails).
func areaScores(results []Result, cat *Catalog) []AreaScore {
	by := map[string]*AreaScore{}
	var order []string
	for i := range results {
		r := &results[i]
		a, ok := by[r.Area]
		if !ok {
			zh, en := cat.AreaTitle(r.Area)
			a = &AreaScore{Area: r.Area, TitleZH: zh, TitleEN: en}
			by[r.Area] = a
			order = append(order, r.Area)
		}
		st := r.scored()
		if st == StateNotApplicable {
			continue
		}
		a.Total++
		if st == StatePass || st == StateExempt {
			a.Pass++
		}
	}
	sort.Strings(order)
	out := make([]AreaScore, 0, len(order))
	for _, k := range order {
		a := by[k]
		if a.Total > 0 {
			a.PassRate = round4(float64(a.Pass) / float64(a.Total))
		}
		out = append(out, *a)
	}
	return out
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }
