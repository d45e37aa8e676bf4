package baseline

import (
	"time"

	"github.com/edgeward/edgeward/collectors"
)

// The record kinds of this collector.
const (
	KindResult = "baseline.result" // class baseline, key = check id
	KindScore  = "baseline.score"  // class baseline, key = ScoreKey
	KindDrift  = "baseline.drift"  // class threat, key = check id
)

// ScoreKey is the key of the baseline.score state record.
const ScoreKey = "baseline.score"

// ResultBody is the body of a baseline.result record.
type ResultBody struct {
	CheckID     string     `json:"check_id"`
	TitleZH     string     `json:"title_zh"`
	TitleEN     string     `json:"title_en"`
	OS          string     `json:"os"`
	Area        string     `json:"area"`
	Star        int        `json:"star"`
	Severity    Severity   `json:"severity"`
	CheckClass  CheckClass `json:"check_class"`
	Controls    []string   `json:"controls"`
	SR          []string   `json:"iec62443_sr"`
	State       State      `json:"state"`
	Evidence    []string   `json:"evidence"`
	Remediation string     `json:"remediation"`
	Exemption   *Exemption `json:"exemption,omitempty"`
	LastKnown   *LastKnown `json:"last_known,omitempty"`
}

// ScoreBody is the body of a baseline.score record.
type ScoreBody struct {
	Host           string       `json:"host"`
	OS             string       `json:"os"`
	Role           string       `json:"role"`
	CatalogVersion string       `json:"catalog_version"`
	Level          int          `json:"level"`
	WeightedScore  float64      `json:"weighted_score"`
	Levels         []LevelScore `json:"levels"`
	Areas          []AreaScore  `json:"areas"`
	Counts         StateCounts  `json:"counts"`
	Unreadable     []string     `json:"unreadable"`
	// SelfDeclaredLevel is L_org from the self-declared answers: unofficial,
	// never part of Level.
	SelfDeclaredLevel int    `json:"self_declared_level"`
	Note              string `json:"note"`
}

// DriftBody is the body of a baseline.drift threat record.
type DriftBody struct {
	CheckID       string    `json:"check_id"`
	TitleZH       string    `json:"title_zh"`
	TitleEN       string    `json:"title_en"`
	Star          int       `json:"star"`
	PreviousState State     `json:"previous_state"`
	PreviousTime  time.Time `json:"previous_time"`
	State         State     `json:"state"`
	Evidence      []string  `json:"evidence"`
	Remediation   string    `json:"remediation"`
}

// recordSeverity maps a check to a record severity: the check's severity for
// a failing state, info otherwise.
func recordSeverity(r *Result) collectors.Severity {
	switch r.State {
	case StateFail, StateError:
		return collectors.Severity(r.Severity)
	}
	return collectors.SeverityInfo
}

// Records returns one baseline.result per check and one baseline.score, with
// Time set to the scan time. The agent stamps id, schema and agent identity.
func (r *Report) Records() []collectors.Record {
	out := make([]collectors.Record, 0, len(r.Results)+1)
	for i := range r.Results {
		x := &r.Results[i]
		out = append(out, collectors.Record{
			Class: collectors.ClassBaseline, Kind: KindResult, Time: r.Time, Key: x.ID, Severity: recordSeverity(x),
			Body: ResultBody{CheckID: x.ID, TitleZH: x.TitleZH, TitleEN: x.TitleEN, OS: x.OS, Area: x.Area, Star: x.Star,
				Severity: x.Severity, CheckClass: x.Class, Controls: x.Controls, SR: x.SR, State: x.State,
				Evidence: x.Evidence, Remediation: x.Remediation, Exemption: x.Exemption, LastKnown: x.LastKnown},
		})
	}
	lorg := 0
	if r.SelfDeclared != nil {
		lorg = r.SelfDeclared.Level
	}
	out = append(out, collectors.Record{
		Class: collectors.ClassBaseline, Kind: KindScore, Time: r.Time, Key: ScoreKey, Severity: collectors.SeverityInfo,
		Body: ScoreBody{Host: r.Host, OS: r.OS, Role: r.Role, CatalogVersion: r.CatalogVersion, Level: r.Score.Level,
			WeightedScore: r.Score.WeightedScore, Levels: r.Score.Levels, Areas: r.Score.Areas, Counts: r.Score.Counts,
			Unreadable: r.Unreadable, SelfDeclaredLevel: lorg, Note: r.Score.Note},
	})
	return out
}

// driftRecords returns a baseline.drift threat record for every check that
// was PASS (or EXEMPT) in the previous scan and is FAIL now.
func (r *Report) driftRecords(prev map[string]prevResult) []collectors.Record {
	var out []collectors.Record
	for i := range r.Results {
		x := &r.Results[i]
		p, ok := prev[x.ID]
		if !ok || x.State != StateFail || (p.state != StatePass && p.state != StateExempt) {
			continue
		}
		out = append(out, collectors.Record{
			Class: collectors.ClassThreat, Kind: KindDrift, Time: r.Time, Key: x.ID, Severity: collectors.Severity(x.Severity),
			Body: DriftBody{CheckID: x.ID, TitleZH: x.TitleZH, TitleEN: x.TitleEN, Star: x.Star, PreviousState: p.state,
				PreviousTime: p.at, State: x.State, Evidence: x.Evidence, Remediation: x.Remediation},
		})
	}
	return out
}
