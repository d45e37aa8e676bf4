package agent

import (
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/edgeward/edgeward/agent/internal/config"
)

func forcedGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestReleaseMemory checks that the first release after a quiet period
// runs a forced collection at once, and that a second one within
// memoryReleaseGap is deferred (one pending release), not run.
func TestReleaseMemory(t *testing.T) {
	memRelease.Lock()
	memRelease.last, memRelease.pending = time.Time{}, false
	memRelease.Unlock()

	before := forcedGCs()
	releaseMemory()
	deadline := time.Now().Add(30 * time.Second)
	for forcedGCs() == before {
		if time.Now().After(deadline) {
			t.Fatal("releaseMemory ran no forced collection")
		}
		time.Sleep(10 * time.Millisecond)
	}

	releaseMemory()
	releaseMemory()
	memRelease.Lock()
	pending := memRelease.pending
	memRelease.Unlock()
	if !pending {
		t.Error("a release within memoryReleaseGap of the last one is not deferred")
	}
}

// TestMemorySettings: `run` and `replay` set the soft memory limit from
// limits.memory and the collector's target to gcPercent, each unless its
// environment variable (GOMEMLIMIT, GOGC) says otherwise.
func TestMemorySettings(t *testing.T) {
	oldPct, oldLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(oldPct); debug.SetMemoryLimit(oldLimit) })
	c := config.Default()
	c.Limits.Memory = 64 * config.MiB

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	setMemorySettings(c)
	if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); pct != gcPercent || limit != 48<<20 {
		t.Errorf("defaults: GC percent %d, memory limit %d; want %d and %d (64 MiB less 16 MiB)", pct, limit, gcPercent, 48<<20)
	}

	debug.SetMemoryLimit(1 << 40)
	t.Setenv("GOGC", "200")
	t.Setenv("GOMEMLIMIT", "1TiB")
	setMemorySettings(c)
	if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); pct != 100 || limit != 1<<40 {
		t.Errorf("with GOGC and GOMEMLIMIT set: GC percent %d, memory limit %d; want both left as they were", pct, limit)
	}
}
