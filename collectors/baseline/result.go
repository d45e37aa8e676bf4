package baseline

import (
	"fmt"
	"strings"
	"time"
)

// State is the outcome of one check.
type State string

// The result states (catalog §4.1; NOT_APPLICABLE is the catalog's NA).
const (
	StatePass          State = "PASS"
	StateFail          State = "FAIL"
	StateNotApplicable State = "NOT_APPLICABLE"
	StateNotConfigured State = "NOT_CONFIGURED"
	StateError         State = "ERROR"
	StateExempt        State = "EXEMPT"
)

// rank orders states for reports: failures first.
func (s State) rank() int {
	switch s {
	case StateFail:
		return 0
	case StateError:
		return 1
	case StateNotConfigured:
		return 2
	case StateExempt:
		return 3
	case StatePass:
		return 4
	}
	return 5
}

// Result is the outcome of one check on this host.
type Result struct {
	ID          string     `json:"id"`
	OS          string     `json:"os"`
	Area        string     `json:"area"`
	TitleZH     string     `json:"title_zh"`
	TitleEN     string     `json:"title_en"`
	Star        int        `json:"star"`
	Severity    Severity   `json:"severity"`
	Class       CheckClass `json:"check_class"`
	Controls    []string   `json:"controls"`
	SR          []string   `json:"iec62443_sr"`
	State       State      `json:"state"`
	Evidence    []string   `json:"evidence"`
	Remediation string     `json:"remediation"`
	// Exemption is set when State is EXEMPT.
	Exemption *Exemption `json:"exemption,omitempty"`
	// LastKnown is set by Run when State is ERROR and the check had a
	// non-ERROR result less than 24 h ago; scoring then uses it.
	LastKnown *LastKnown `json:"last_known,omitempty"`
}

// LastKnown is the previous non-ERROR result of a check.
type LastKnown struct {
	State State     `json:"state"`
	Time  time.Time `json:"time"`
}

// scored returns the state that scoring uses.
func (r *Result) scored() State {
	if r.State == StateError && r.LastKnown != nil {
		return r.LastKnown.State
	}
	return r.State
}

// outcome is what a probe decides: a state and the evidence for it.
type outcome struct {
	state    State
	evidence []string
}

func pass(ev ...string) outcome { return outcome{StatePass, ev} }
func fail(ev ...string) outcome { return outcome{StateFail, ev} }
func na(ev ...string) outcome   { return outcome{StateNotApplicable, ev} }
func notConfigured(key string, ev ...string) outcome {
	return outcome{StateNotConfigured, append(ev, "site_policy."+key+" not set")}
}
func errOut(ev ...string) outcome { return outcome{StateError, ev} }

// errFrom makes an ERROR outcome from a read error.
func errFrom(err error, ev ...string) outcome {
	return outcome{StateError, append(ev, describe(err))}
}

// verdict accumulates the findings of a probe with several conditions.
type verdict struct {
	bad  []string // conditions that fail
	good []string // evidence of conditions met
	errs []string // what could not be read
}

func (v *verdict) ok(format string, a ...any) { v.good = append(v.good, fmt.Sprintf(format, a...)) }
func (v *verdict) no(format string, a ...any) { v.bad = append(v.bad, fmt.Sprintf(format, a...)) }
func (v *verdict) err(err error)              { v.errs = append(v.errs, describe(err)) }
func (v *verdict) check(cond bool, format string, a ...any) {
	if cond {
		v.ok(format, a...)
	} else {
		v.no("not met: "+format, a...)
	}
}

// outcome returns FAIL when a condition failed, ERROR when something could
// not be read, PASS otherwise. Evidence lists failures first.
func (v *verdict) outcome() outcome {
	ev := append(append(append([]string(nil), v.bad...), v.errs...), v.good...)
	switch {
	case len(v.bad) > 0:
		return outcome{StateFail, ev}
	case len(v.errs) > 0:
		return outcome{StateError, ev}
	}
	return outcome{StatePass, ev}
}

// joinList formats a list for evidence.
func joinList(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
