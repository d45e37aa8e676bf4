package agent

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/shirou/gopsutil/v3/process"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/uplink"
)

// heartbeat builds the agent.heartbeat status record: version, uptime, RSS,
// CPU time, queue counters (with drops by reason) and uplink and collector
// health. It is a state record (key = agent id), so a long outage keeps only
// the latest one queued.
type heartbeat struct {
	start time.Time
	buf   *buffer.Buffer
	up    *uplink.Client // nil when no uplink is configured
	colls []collectors.Collector
	key   string
}

// collectorStats returns the health counters of collectors that keep them
// (capture drops, decode errors), for the heartbeat.
func collectorStats(c collectors.Collector) (any, bool) {
	switch c := c.(type) {
	case *passive.Collector:
		return c.Stats(), true
	}
	return nil, false
}

// queueBody is the buffer part of the heartbeat and of `buffer stats`.
type queueBody struct {
	Queued    uint64            `json:"queued"`
	Accepted  uint64            `json:"accepted"`
	Delivered uint64            `json:"delivered"`
	Coalesced uint64            `json:"coalesced"`
	Dropped   map[string]uint64 `json:"dropped"`
	Bytes     int64             `json:"bytes"`
	FileBytes int64             `json:"file_bytes"`
	OldestAge float64           `json:"oldest_age_seconds"`
}

func newQueueBody(st buffer.Stats) queueBody {
	d := st.Dropped
	if d == nil {
		d = map[string]uint64{}
	}
	return queueBody{
		Queued: st.Queued, Accepted: st.Accepted, Delivered: st.Delivered, Coalesced: st.Coalesced,
		Dropped: d, Bytes: st.Bytes, FileBytes: st.FileBytes, OldestAge: st.OldestAge.Seconds(),
	}
}

func (h *heartbeat) record() collectors.Record {
	body := map[string]any{
		"version":        Version,
		"uptime_seconds": time.Since(h.start).Seconds(),
		"rss_bytes":      selfRSS(),
		"goroutines":     runtime.NumGoroutine(),
		"queue":          newQueueBody(h.buf.Stats()),
	}
	if cpu, ok := selfCPU(); ok {
		body["cpu_seconds"] = cpu
	}
	if h.up != nil {
		body["uplink"] = h.up.Stats()
	}
	cs := map[string]any{}
	for _, c := range h.colls {
		if st, ok := collectorStats(c); ok {
			cs[c.Name()] = st
		}
	}
	if len(cs) > 0 {
		body["collectors"] = cs
	}
	return collectors.Record{Class: collectors.ClassStatus, Kind: "agent.heartbeat", Key: h.key, Body: body}
}

// run emits a heartbeat now and then every interval until ctx is done.
func (h *heartbeat) run(ctx context.Context, emit collectors.Emitter, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := emit.Emit(ctx, h.record()); err != nil && ctx.Err() == nil {
			log.Error("emit heartbeat", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// self is this process for gopsutil. It is built directly rather than with
// process.NewProcess, which on Linux opens a pidfd (os.FindProcess) that is
// released only by a finalizer: one leaked descriptor per heartbeat until the
// garbage collector happens to run. MemoryInfo and Times read /proc (Linux)
// or open and close a process handle (Windows) on each call.
var self = &process.Process{Pid: int32(os.Getpid())}

// selfRSS returns this process's resident set size in bytes, or 0 when the
// OS does not tell.
func selfRSS() uint64 {
	m, err := self.MemoryInfo()
	if err != nil {
		return 0
	}
	return m.RSS
}

// selfCPU returns the CPU time (user+system) this process has used.
func selfCPU() (float64, bool) {
	t, err := self.Times()
	if err != nil {
		return 0, false
	}
	return t.User + t.System, true
}
