package modbus

import (
	"net/netip"
	"slices"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// Learned is what an Analyzer has learned of the plant that must outlive a
// restart of the agent: the clients seen writing, and when the learning
// period began. Without it every writer's first write after a restart
// would be reported as a new master again (LearnPeriod zero), or a new
// learning period would open a blind window after each restart.
type Learned struct {
	// Start is the capture time of the first ADU the learning period counts
	// from (zero: none seen yet).
	Start time.Time `json:"start,omitzero"`
	// Writers are the learned writers, most recently seen first (at most
	// Config.MaxWriters).
	Writers []netip.Addr `json:"writers"`
}

// Learned returns what a has learned.
func (a *Analyzer) Learned() Learned {
	l := Learned{Start: a.start, Writers: make([]netip.Addr, 0, a.writers.Len())}
	a.writers.Each(func(n *bounded.Node[netip.Addr, struct{}]) { l.Writers = append(l.Writers, n.Key) })
	return l
}

// LearnedGeneration changes each time a learns a writer or its learning
// period begins, so that a caller stores Learned only when it changed.
func (a *Analyzer) LearnedGeneration() uint64 { return a.learnedGen }

// Restore gives a, before its first ADU, what an earlier Analyzer learned:
// its writers are known (the most recent kept within Config.MaxWriters)
// and the learning period counts from l.Start. Invalid addresses are
// skipped.
func (a *Analyzer) Restore(l Learned) {
	if a.start.IsZero() {
		a.start = l.Start
	}
	ws := l.Writers[:min(len(l.Writers), a.cfg.MaxWriters)]
	for _, w := range slices.Backward(ws) {
		if w.IsValid() && a.writers.Peek(w) == nil {
			a.writers.Add(w)
		}
	}
	a.writerCache = [len(a.writerCache)]*bounded.Node[netip.Addr, struct{}]{}
	a.learnedGen++
}
