package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgeward/edgeward/buffer"
)

// bbolt's file lock is exclusive, so `edgeward buffer stats` cannot open the
// buffer while the agent runs. The running agent therefore publishes a
// consistent snapshot of the counters next to the buffer file every
// statsEvery, and `buffer stats` reads it when the buffer is locked.
const statsEvery = time.Second

// statsSnapshot is the file written beside the buffer.
type statsSnapshot struct {
	queueBody
	SnapshotTime time.Time `json:"snapshot_time,omitzero"`
}

func statsFile(bufPath string) string { return bufPath + ".stats.json" }

// writeStatsFile atomically replaces the snapshot file.
func writeStatsFile(bufPath string, st buffer.Stats, now time.Time) error {
	b, err := json.Marshal(statsSnapshot{queueBody: newQueueBody(st), SnapshotTime: now.UTC()})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(bufPath), ".stats-*")
	if err != nil {
		return fmt.Errorf("write stats snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write stats snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write stats snapshot: %w", err)
	}
	return os.Rename(tmp.Name(), statsFile(bufPath))
}

// publishStats writes the snapshot every statsEvery until ctx is done, and
// once more at the end.
func publishStats(ctx context.Context, buf *buffer.Buffer, bufPath string, log *slog.Logger) {
	t := time.NewTicker(statsEvery)
	defer t.Stop()
	warned := false
	var last [5]uint64
	for {
		// Write only when a counter moved: no idle writes on SD-card hosts.
		st := buf.Stats()
		if cur := counters(st); cur != last {
			err := writeStatsFile(bufPath, st, time.Now())
			switch {
			case err == nil:
				last = cur
			case !warned:
				log.Warn("cannot publish buffer stats for 'edgeward buffer stats'", "err", err)
				warned = true
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// counters are the values whose change makes a new snapshot worth writing.
func counters(st buffer.Stats) [5]uint64 {
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	return [5]uint64{st.Accepted, st.Delivered, st.Coalesced, st.Queued, dropped}
}

// readStats returns the buffer's counters: from the file itself when no agent
// holds it, else (the file is locked) from the running agent's snapshot. Any
// other error (a missing or corrupt buffer) is returned as is: the snapshot
// left by an earlier run would describe a file that is no longer there.
func readStats(bufPath string) (statsSnapshot, error) {
	st, err := buffer.ReadStats(bufPath)
	if err == nil {
		return statsSnapshot{queueBody: newQueueBody(st)}, nil
	}
	if !errors.Is(err, buffer.ErrLocked) {
		return statsSnapshot{}, err
	}
	b, serr := os.ReadFile(statsFile(bufPath))
	if serr != nil {
		return statsSnapshot{}, err
	}
	var snap statsSnapshot
	if jerr := json.Unmarshal(b, &snap); jerr != nil {
		return statsSnapshot{}, fmt.Errorf("%w (and the running agent's snapshot \"%s\" is unreadable: %w)", err, statsFile(bufPath), jerr)
	}
	return snap, nil
}
