package passive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgeward/edgeward/collectors"
)

// File replay in a Collector: exactly once across restarts.
//
// Each configured file is replayed by an Engine of its own, started
// empty, so that what a file produces depends only on its content and the
// configuration. The packets are cut into emission cycles after packet n
// when the cycle's capture time reaches SummaryInterval or it holds
// maxCyclePackets packets (a full cut: Records, the events and the asset
// and flow records due), or when the events waiting pass half of their
// budget (an event cut: the events only); the end of the file is a last
// full cut. Every cut depends only on the packets before it, so reading
// the file again cuts it at the same places and produces the same
// records, in the same order.
//
// A cut's records are handed over in one collectors.Checkpointer
// EmitCheckpoint call together with the file's checkpoint (fileCheckpoint:
// path, size, modification time, file id, the packet of the last full cut
// and of the last cut, done): after a crash either both are stored or
// neither. A Run, in this process or after a restart, reads the
// checkpoint first: a file whose identity (size, modification time, file
// id) matches a done checkpoint is not read again; one that matches an
// unfinished checkpoint is read again from its start with emission
// suppressed up to the checkpoint, forcing a full cut at StatePackets and
// an event cut at Packets, as the first run made them, so that the records
// stored already are regenerated and dropped and the next ones emitted; a
// file whose identity changed is read from the start as a new file. With
// an Emitter that keeps no checkpoints, they are kept in memory for the
// process.

// checkpointPrefix starts the Checkpointer name of a file's checkpoint;
// the absolute path follows.
const checkpointPrefix = "passive.file:"

// fileCheckpoint is the progress of one file, stored with the records.
type fileCheckpoint struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	FileID  string    `json:"file_id,omitempty"`
	// Packets: the records of packets 1..Packets are stored (the events
	// of them, and the asset and flow records up to StatePackets).
	Packets      uint64 `json:"packets"`
	StatePackets uint64 `json:"state_packets"`
	Cycles       uint64 `json:"cycles"`
	Done         bool   `json:"done"`
	// Error is why the file ended early (a truncated or invalid block).
	Error string `json:"error,omitempty"`
}

// sameFile reports whether the checkpoint describes the file id stands for.
func (cp *fileCheckpoint) sameFile(id fileIdentity) bool {
	return cp.Size == id.size && cp.ModTime.Equal(id.mtime) && cp.FileID == id.id
}

// fileIdentity is what tells a file apart from another at the same path.
type fileIdentity struct {
	size  int64
	mtime time.Time
	id    string // device and inode, or volume serial and file index
}

// File replay states of FileProgress.
const (
	FilePending = "pending" // not read yet
	FileReading = "reading"
	FileDone    = "done"    // read to its end (or to a truncated or invalid block: Error)
	FileFailed  = "failed"  // could not be opened: Error; not retried
	FileSkipped = "skipped" // done according to its checkpoint; not read again
)

// FileProgress is the state of one configured file in a Collector.
type FileProgress struct {
	Path    string `json:"path"`
	State   string `json:"state"`
	Packets uint64 `json:"packets"`
	Cycles  uint64 `json:"cycles"`
	Error   string `json:"error,omitempty"`
}

// setFile updates file i's progress.
func (c *Collector) setFile(i int, fn func(*FileProgress)) {
	c.mu.Lock()
	fn(&c.files[i])
	c.mu.Unlock()
}

// replayFile replays configured file i exactly once (see above). A file
// that cannot be opened is logged, marked failed and skipped; the error
// returned is a checkpoint or emit failure, or cancellation.
func (c *Collector) replayFile(ctx context.Context, emit collectors.Emitter, cp collectors.Checkpointer, i int) error {
	path := c.files[i].Path
	if st := c.files[i].State; st == FileFailed || st == FileSkipped || st == FileDone {
		return nil
	}
	fail := func(err error) error {
		c.log.Error("capture file skipped: fix collectors.passive.files; it is not retried until the agent restarts", "file", path, "err", err)
		c.setFile(i, func(f *FileProgress) { f.State, f.Error = FileFailed, err.Error() })
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fail(err)
	}
	id, err := identify(abs)
	if err != nil {
		return fail(err)
	}
	name := checkpointPrefix + abs
	prev, err := loadCheckpoint(ctx, cp, name)
	if err != nil {
		return err
	}
	var from fileCheckpoint // the stored progress to resume from
	switch {
	case prev != nil && prev.sameFile(id) && prev.Done:
		c.log.Info("capture file already replayed; not read again", "file", path, "packets", prev.Packets)
		c.setFile(i, func(f *FileProgress) {
			f.State, f.Packets, f.Cycles, f.Error = FileSkipped, prev.Packets, prev.Cycles, prev.Error
		})
		return nil
	case prev != nil && prev.sameFile(id):
		from = *prev
		c.log.Info("resuming capture file", "file", path, "stored_packets", from.Packets)
	case prev != nil:
		c.log.Info("capture file changed since its checkpoint; reading it as a new file", "file", path)
	}
	e, err := NewEngine(c.cfg, c.log)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.eng = e
	c.files[i].State = FileReading
	c.mu.Unlock()

	state := fileCheckpoint{Path: abs, Size: id.size, ModTime: id.mtime, FileID: id.id}
	// store hands over one cut's records with the checkpoint, unless the
	// cut is within the stored progress (regenerated: dropped).
	store := func(n uint64, recs []collectors.Record, full bool) error {
		state.Cycles++
		state.Packets = n
		if full {
			state.StatePackets = n
		}
		if !state.Done && n <= from.Packets {
			return nil
		}
		b, err := json.Marshal(state)
		if err != nil {
			return err
		}
		if err := cp.EmitCheckpoint(ctx, name, b, recs...); err != nil {
			return fmt.Errorf("emit %d records of %q: %w", len(recs), path, err)
		}
		c.setFile(i, func(f *FileProgress) { f.Packets, f.Cycles = n, state.Cycles })
		return nil
	}
	var cycleEnd time.Time
	var inCycle int
	after := func(n uint64, ts time.Time) error {
		if cycleEnd.IsZero() {
			cycleEnd = ts.Add(c.cfg.SummaryInterval)
		}
		inCycle++
		full, events := !ts.Before(cycleEnd) || inCycle >= maxCyclePackets, e.pendingFull()
		if n <= from.Packets { // within the stored progress: cut where it was stored
			full, events = n == from.StatePackets, n == from.Packets
		}
		if !full && !events {
			return nil
		}
		c.mu.Lock()
		var recs []collectors.Record
		if full {
			recs = e.Records(ts)
			cycleEnd, inCycle = time.Time{}, 0
		} else {
			recs = e.Events()
		}
		c.mu.Unlock()
		return store(n, recs, full)
	}
	rep, err := e.replayFile(ctx, path, &c.mu, after)
	if err != nil {
		var oe *openError
		if errors.As(err, &oe) {
			return fail(oe.error)
		}
		return err
	}
	if rep.err != nil {
		c.log.Warn("capture file not read to its end", "file", path, "err", rep.err)
	}
	c.mu.Lock()
	e.Flush(time.Time{})
	recs := e.Records(e.maxTS)
	c.mu.Unlock()
	state.Done, state.Error = true, rep.Error
	if err := store(rep.Packets, recs, true); err != nil {
		return err
	}
	c.log.Info("capture file replayed", "file", path, "packets", rep.Packets, "cycles", state.Cycles)
	c.setFile(i, func(f *FileProgress) { f.State, f.Packets, f.Error = FileDone, rep.Packets, rep.Error })
	return nil
}

// loadCheckpoint returns the checkpoint stored under name, or nil.
func loadCheckpoint(ctx context.Context, cp collectors.Checkpointer, name string) (*fileCheckpoint, error) {
	b, err := cp.Checkpoint(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %q: %w", name, err)
	}
	if b == nil {
		return nil, nil
	}
	var st fileCheckpoint
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, nil // unreadable: the file is read as a new one
	}
	return &st, nil
}

// identify returns the identity of the file at path.
func identify(path string) (fileIdentity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileIdentity{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileIdentity{}, fmt.Errorf("%s is not a regular file", path)
	}
	return fileIdentity{size: fi.Size(), mtime: fi.ModTime().UTC(), id: fileID(path, fi)}, nil
}

// memCheckpoints keeps checkpoints in memory, for an Emitter that does
// not (collectors.Checkpointer): records and state are not stored
// atomically, but both are lost together when the process ends.
type memCheckpoints struct {
	emit collectors.Emitter
	mu   sync.Mutex
	m    map[string][]byte
}

func (m *memCheckpoints) Checkpoint(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[name], nil
}

func (m *memCheckpoints) EmitCheckpoint(ctx context.Context, name string, state []byte, recs ...collectors.Record) error {
	if len(recs) > 0 {
		if err := m.emit.Emit(ctx, recs...); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string][]byte{}
	}
	m.m[name] = state
	return nil
}
