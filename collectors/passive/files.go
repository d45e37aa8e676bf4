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

// File replay in a Collector, exactly once across restarts: see the
// package documentation ("Files in a Collector").

// checkpointPrefix starts the Checkpointer name of a file's checkpoint;
// the absolute path follows.
const checkpointPrefix = "passive.file:"

// fileCheckpoint is the progress of one file, stored with the records.
type fileCheckpoint struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	FileID  string    `json:"file_id,omitempty"`
	// Packets is the packet after which the last complete cut was made
	// (the records of packets 1..Packets are stored), StatePackets that of
	// the last complete full cut.
	Packets      uint64 `json:"packets"`
	StatePackets uint64 `json:"state_packets"`
	// Partial is a cut whose first records are stored, the rest not yet.
	Partial *partialCut `json:"partial,omitempty"`
	Cycles  uint64      `json:"cycles"`
	Done    bool        `json:"done"`
	// Error is why the file ended early (a truncated or invalid block).
	Error string `json:"error,omitempty"`
}

// partialCut is a cut stored in several EmitCheckpoint calls, of which
// the first Records records are stored.
type partialCut struct {
	At      uint64 `json:"at"`    // after this packet
	Final   bool   `json:"final"` // the end-of-file cut
	Full    bool   `json:"full"`  // with asset and flow records
	Records int    `json:"records"`
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
	err     error  // why a failed file could not be opened
}

// fileErrors returns why the files that failed could not be opened.
func (c *Collector) fileErrors() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, f := range c.files {
		if f.err != nil {
			errs = append(errs, f.err)
		}
	}
	return errors.Join(errs...)
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
		c.setFile(i, func(f *FileProgress) { f.State, f.Error, f.err = FileFailed, err.Error(), err })
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

	r := &fileReplay{c: c, e: e, cp: cp, ctx: ctx, name: name, index: i, from: from,
		state: fileCheckpoint{Path: abs, Size: id.size, ModTime: id.mtime, FileID: id.id}}
	after := r.after
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
	r.state.Error = rep.Error
	if err := r.store(rep.Packets, true, true, recs); err != nil {
		return err
	}
	c.log.Info("capture file replayed", "file", path, "packets", rep.Packets, "cycles", r.state.Cycles)
	c.setFile(i, func(f *FileProgress) { f.State, f.Packets, f.Error = FileDone, rep.Packets, rep.Error })
	return nil
}

// maxBatchRecords bounds the records handed over in one EmitCheckpoint
// (or Emit) call, so that a cut of thousands of asset and flow records does
// not make the buffer hold them all in one transaction.
const maxBatchRecords = 512

// fileReplay is the emission side of one file's replay (see above).
type fileReplay struct {
	c     *Collector
	e     *Engine
	cp    collectors.Checkpointer
	ctx   context.Context
	name  string
	index int
	from  fileCheckpoint // the progress stored by an earlier run
	state fileCheckpoint // the progress made by this run

	cycleEnd time.Time // capture time at which the current cycle ends
	inCycle  int       // packets in the current cycle
}

// after decides whether a cycle ends after packet n of time ts and, if
// so, hands its records to store. Within the stored progress it cuts
// exactly where the stored cuts were.
func (r *fileReplay) after(n uint64, ts time.Time) error {
	if r.cycleEnd.IsZero() {
		r.cycleEnd = ts.Add(r.c.cfg.SummaryInterval)
	}
	r.inCycle++
	full := !ts.Before(r.cycleEnd) || r.inCycle >= maxCyclePackets
	events := !full && r.e.pendingFull()
	switch p := r.from.Partial; {
	case n <= r.from.Packets:
		full, events = n == r.from.StatePackets, n == r.from.Packets
	case p != nil && !p.Final && n == p.At:
		full, events = p.Full, !p.Full
	case p != nil && (p.Final || n < p.At):
		full, events = false, false // no cut was made there
	}
	if !full && !events {
		return nil
	}
	r.c.mu.Lock()
	var recs []collectors.Record
	if full {
		recs = r.e.Records(ts)
		r.cycleEnd, r.inCycle = time.Time{}, 0
	} else {
		recs = r.e.Events()
	}
	r.c.mu.Unlock()
	return r.store(n, full, false, recs)
}

// store hands over the records of the cut after packet n (full: with
// asset and flow records; final: the end of the file) with the checkpoint,
// in batches of at most maxBatchRecords, leaving out what the stored
// progress already holds (regenerated records).
func (r *fileReplay) store(n uint64, full, final bool, recs []collectors.Record) error {
	st := &r.state
	st.Cycles++
	i := 0
	switch p := r.from.Partial; {
	case !final && n <= r.from.Packets:
		i = len(recs) // stored
	case p != nil && p.At == n && p.Final == final:
		i = min(p.Records, len(recs))
	}
	for {
		j := min(i+maxBatchRecords, len(recs))
		if j < len(recs) {
			st.Partial = &partialCut{At: n, Final: final, Full: full, Records: j}
		} else { // the cut is complete
			st.Partial = nil
			st.Packets = n
			if full {
				st.StatePackets = n
			}
			st.Done = final
			if i == j && !final {
				break // nothing to store now: the next call carries this progress
			}
		}
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		if err := r.cp.EmitCheckpoint(r.ctx, r.name, b, recs[i:j]...); err != nil {
			return fmt.Errorf("emit %d records of %q: %w", j-i, r.c.files[r.index].Path, err)
		}
		if i = j; i == len(recs) {
			break
		}
	}
	r.c.setFile(r.index, func(f *FileProgress) { f.Packets, f.Cycles = n, st.Cycles })
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
		return fileIdentity{}, fmt.Errorf("%s is not a regular file: %w", path, ErrUnknownFormat)
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
