package agent

import (
	"sync"
	"time"
)

// reportGate decides whether a finding is reported again: a finding is
// known by a key (what it is about) and a fingerprint (what it says); it is
// reported when its key is new, when its fingerprint changed, or when it was
// last reported repeat ago or more. It remembers at most max keys: when
// full, keys not reported within repeat are forgotten, then all (at worst a
// finding is reported once more). Safe for concurrent use.
type reportGate struct {
	repeat time.Duration
	max    int

	mu   sync.Mutex
	seen map[string]reported
}

type reported struct {
	fingerprint string
	at          time.Time
	suppressed  uint64 // held back since at
}

func newReportGate(repeat time.Duration, max int) *reportGate {
	return &reportGate{repeat: repeat, max: max, seen: map[string]reported{}}
}

// fresh reports whether the finding key with fingerprint fp is reported at
// now, and if so how many times it was held back since it last was.
func (g *reportGate) fresh(key, fp string, now time.Time) (bool, uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old, ok := g.seen[key]
	if ok && old.fingerprint == fp && now.Sub(old.at) < g.repeat {
		old.suppressed++
		g.seen[key] = old
		return false, 0
	}
	if !ok && len(g.seen) >= g.max {
		for k, r := range g.seen {
			if now.Sub(r.at) >= g.repeat {
				delete(g.seen, k)
			}
		}
		if len(g.seen) >= g.max {
			clear(g.seen)
		}
	}
	g.seen[key] = reported{fingerprint: fp, at: now}
	return true, old.suppressed
}
