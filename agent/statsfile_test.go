package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
)

// TestReadStatsSnapshotOnlyWhenLocked: `buffer stats` reads the running
// agent's snapshot only while the agent holds the file. When the file is
// missing or unreadable, a snapshot left by an earlier run must not be shown
// as if it described the buffer.
func TestReadStatsSnapshotOnlyWhenLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "buffer.db")
	buf, err := buffer.Open(path, buffer.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := buf.Put(context.Background(), buffer.Item{Stream: "threat", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := writeStatsFile(path, buf.Stats(), time.Now()); err != nil {
		t.Fatal(err)
	}

	// Locked by a running agent: the snapshot.
	snap, err := readStats(path)
	if err != nil {
		t.Fatalf("readStats while locked: %v", err)
	}
	if snap.SnapshotTime.IsZero() || snap.Accepted != 1 {
		t.Errorf("readStats while locked = %+v, want the snapshot with 1 accepted", snap)
	}

	// Not running: the file itself, not the snapshot.
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	snap, err = readStats(path)
	if err != nil {
		t.Fatalf("readStats after close: %v", err)
	}
	if !snap.SnapshotTime.IsZero() || snap.Queued != 1 {
		t.Errorf("readStats after close = %+v, want the file's own stats", snap)
	}

	// The buffer file is gone: an error, not the stale snapshot.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	snap, err = readStats(path)
	if err == nil {
		t.Errorf("readStats of a missing buffer = %+v, want an error", snap)
	} else if errors.Is(err, buffer.ErrLocked) {
		t.Errorf("readStats of a missing buffer: %v, must not claim a lock", err)
	}
}
