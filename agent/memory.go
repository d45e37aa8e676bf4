package agent

import (
	"runtime/debug"
	"sync"
	"time"
)

// memoryReleaseGap is the least time between two releases of free heap
// memory to the operating system (see releaseMemory).
const memoryReleaseGap = 30 * time.Second

var memRelease struct {
	sync.Mutex
	last    time.Time
	pending bool
}

// releaseMemory runs a garbage collection and returns the freed heap pages
// to the operating system: now, or memoryReleaseGap after the previous
// release when that was more recent. The agent calls it when a collection
// cycle's records are stored: a host or baseline scan allocates a few MB
// that are garbage once its records are in the buffer, and without it the
// runtime keeps those pages (up to the heap goal, twice the live heap)
// resident until its background scavenger returns them minutes later, so an
// idle agent's resident set would stay at its last scan's. A forced
// collection of the small idle heap costs about a millisecond; the gap
// bounds the cost when collectors emit often (passive capture).
func releaseMemory() {
	memRelease.Lock()
	defer memRelease.Unlock()
	if memRelease.pending {
		return
	}
	wait := memoryReleaseGap - time.Since(memRelease.last)
	if memRelease.last.IsZero() || wait <= 0 {
		memRelease.last = time.Now()
		go debug.FreeOSMemory()
		return
	}
	memRelease.pending = true
	time.AfterFunc(wait, func() {
		memRelease.Lock()
		memRelease.pending = false
		memRelease.last = time.Now()
		memRelease.Unlock()
		debug.FreeOSMemory()
	})
}
