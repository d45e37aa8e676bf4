package modbus

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"
)

// TestLearnedSurvivesRestart: an Analyzer restored with what an earlier one
// learned (through its JSON form, as the agent stores it) knows the
// earlier writers, still reports a new one, and keeps the learning period
// that began before the restart instead of opening a new one.
func TestLearnedSurvivesRestart(t *testing.T) {
	t.Parallel()
	w := mbap(1, 1, 6, 0, 1, 0, 1)
	restarted := func(before *Analyzer, cfg Config) *Analyzer {
		l := before.Learned()
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		var back Learned
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		a := NewAnalyzer(cfg)
		a.Restore(back)
		return a
	}
	newMasters := func(a *Analyzer) []netip.Addr {
		var out []netip.Addr
		for _, al := range a.TakeAlerts() {
			if al.Kind == KindWriteNewMaster {
				out = append(out, al.Client)
			}
		}
		return out
	}

	t.Run("writers", func(t *testing.T) {
		t.Parallel()
		a := NewAnalyzer(Config{})
		gen0 := a.LearnedGeneration()
		exchange(a.NewSession(testClient, testServer), w, w, testT0)
		if got := newMasters(a); len(got) != 1 {
			t.Fatalf("first write: new masters %v, want %s", got, testClient.Addr())
		}
		if a.LearnedGeneration() == gen0 {
			t.Error("learning a writer did not change the generation")
		}
		b := restarted(a, Config{})
		exchange(b.NewSession(testClient, testServer), w, w, testT0.Add(time.Hour))
		exchange(b.NewSession(testClient2, testServer), w, w, testT0.Add(time.Hour))
		if got := newMasters(b); len(got) != 1 || got[0] != testClient2.Addr() {
			t.Errorf("after the restart: new masters %v, want only %s (%s was learned before)", got, testClient2.Addr(), testClient.Addr())
		}
	})

	t.Run("learning period", func(t *testing.T) {
		t.Parallel()
		cfg := Config{LearnPeriod: 10 * time.Minute}
		a := NewAnalyzer(cfg)
		exchange(a.NewSession(testClient, testServer), w, w, testT0)
		b := restarted(a, cfg)
		// 20 minutes after the first ADU: the period is over, a restart
		// does not open a new one
		exchange(b.NewSession(testClient2, testServer), w, w, testT0.Add(20*time.Minute))
		if got := newMasters(b); len(got) != 1 || got[0] != testClient2.Addr() {
			t.Errorf("after the learning period: new masters %v, want %s", got, testClient2.Addr())
		}
		// without the restored state the same write is learned silently
		c := NewAnalyzer(cfg)
		exchange(c.NewSession(testClient2, testServer), w, w, testT0.Add(20*time.Minute))
		if got := newMasters(c); len(got) != 0 {
			t.Errorf("fresh analyzer: new masters %v, want none (its learning period just began)", got)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		l := Learned{Start: testT0}
		for i := range 10 {
			l.Writers = append(l.Writers, netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}))
		}
		l.Writers = append(l.Writers, netip.Addr{}) // invalid: skipped
		a := NewAnalyzer(Config{MaxWriters: 4})
		a.Restore(l)
		got := a.Learned()
		if len(got.Writers) != 4 || got.Writers[0] != l.Writers[0] || got.Writers[3] != l.Writers[3] || !got.Start.Equal(testT0) {
			t.Errorf("restored %v from %v with MaxWriters 4, want the 4 most recent in order", got, l)
		}
	})
}
