package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/baseline"
	"github.com/edgeward/edgeward/collectors/host"
	"github.com/edgeward/edgeward/collectors/passive"
)

// cycleLog is the Emitter each collector gets: it hands the records on and,
// once they are stored, logs one line that says what the collection cycle
// found ("host: 312 packages, 9 listening sockets"), so that a person
// watching `edgeward run` sees the agent work. Collectors hand over one
// batch per cycle, so this is one line per collector and cycle.
type cycleLog struct {
	next collectors.Emitter
	log  *slog.Logger
	name string
}

// withCycleLog wraps emit for collector name; it keeps the optional
// Checkpointer side of emit.
func withCycleLog(emit collectors.Emitter, name string, log *slog.Logger) collectors.Emitter {
	c := cycleLog{next: emit, log: log, name: name}
	if cp, ok := emit.(collectors.Checkpointer); ok {
		return cycleLogCheckpointer{c, cp}
	}
	return c
}

// Emit implements collectors.Emitter.
func (c cycleLog) Emit(ctx context.Context, recs ...collectors.Record) error {
	err := c.next.Emit(ctx, recs...)
	c.logged(recs, err)
	return err
}

func (c cycleLog) logged(recs []collectors.Record, err error) {
	if len(recs) == 0 {
		return
	}
	releaseMemory()
	msg, attrs := summarize(c.name, recs)
	if err != nil {
		c.log.Warn(msg+" (not all stored)", append(attrs, "err", err)...)
		return
	}
	c.log.Info(msg, attrs...)
}

// cycleLogCheckpointer is a cycleLog over an Emitter that also stores
// collector progress.
type cycleLogCheckpointer struct {
	cycleLog
	cp collectors.Checkpointer
}

// Checkpoint implements collectors.Checkpointer.
func (c cycleLogCheckpointer) Checkpoint(ctx context.Context, name string) ([]byte, error) {
	return c.cp.Checkpoint(ctx, name)
}

// EmitCheckpoint implements collectors.Checkpointer.
func (c cycleLogCheckpointer) EmitCheckpoint(ctx context.Context, name string, state []byte, recs ...collectors.Record) error {
	err := c.cp.EmitCheckpoint(ctx, name, state, recs...)
	c.logged(recs, err)
	return err
}

// summarize describes one collection cycle in a line and in attributes.
func summarize(name string, recs []collectors.Record) (string, []any) {
	kinds := map[string]int{}
	var parts []string
	var attrs []any
	for _, r := range recs {
		kinds[r.Kind]++
		switch b := r.Body.(type) {
		case *host.Inventory:
			parts = append(parts, plural(len(b.Software), "package")+", "+plural(len(b.Listening), "listening socket")+", "+
				plural(len(b.Services), "service"))
			attrs = append(attrs, "packages", len(b.Software), "listening", len(b.Listening))
		case baseline.ScoreBody:
			n := b.Counts
			parts = append(parts, fmt.Sprintf("%d★, %d FAIL, %d PASS, %d not applicable, %d error",
				b.Level, n.Fail, n.Pass, n.NotApplicable+n.NotConfigured, n.Error))
			attrs = append(attrs, "stars", b.Level, "fail", n.Fail, "pass", n.Pass)
		}
	}
	if name == "passive" || kinds[passive.KindAsset]+kinds[passive.KindFlow] > 0 {
		events := len(recs) - kinds[passive.KindAsset] - kinds[passive.KindFlow]
		parts = append(parts, plural(kinds[passive.KindAsset], "asset")+", "+plural(kinds[passive.KindFlow], "flow")+", "+plural(events, "event"))
		attrs = append(attrs, "assets", kinds[passive.KindAsset], "flows", kinds[passive.KindFlow], "events", events)
	}
	if d := kinds[baseline.KindDrift]; d > 0 {
		parts = append(parts, fmt.Sprintf("%d changed since the last run", d))
	}
	if len(parts) == 0 {
		parts = append(parts, plural(len(recs), "record"))
	}
	return name + ": " + strings.Join(parts, "; "), append(attrs, "records", len(recs))
}

// plural writes "1 flow", "2 flows".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
