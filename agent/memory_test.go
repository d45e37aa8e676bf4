package agent

import (
	"runtime/metrics"
	"testing"
	"time"
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
