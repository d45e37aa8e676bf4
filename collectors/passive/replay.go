package passive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// flushEvery is how much capture time passes between two Flush calls
// during a replay.
const flushEvery = time.Second

// FileReport says how much of one capture file was read.
type FileReport struct {
	Path    string `json:"path"`
	Packets uint64 `json:"packets"`
	// Error is set when the file could not be read to its end: an invalid
	// or truncated block (*CaptureError). The packets before it were
	// processed; SkippedBytes (-1: unknown, compressed file) were not.
	Error        string `json:"error,omitempty"`
	SkippedBytes int64  `json:"skipped_bytes,omitempty"`
	err          error
}

// Err returns the *CaptureError that stopped the file early, or nil.
func (r FileReport) Err() error { return r.err }

// Replay decodes the capture files in order through one Engine and returns
// its Summary. Connections still open at the end are ended (so partial
// frames are counted) before the Summary is taken. A file that cannot be
// opened fails the replay; a file whose structure breaks part way
// (truncated, invalid block) is read up to the break and reported in
// Summary.Files, so a caller can be tolerant or strict; frames that cannot
// be decoded are counted, never fatal. Replay returns ctx's error if it is
// cancelled.
func Replay(ctx context.Context, files []string, cfg Config, log *slog.Logger) (*Summary, error) {
	e, err := NewEngine(cfg, log)
	if err != nil {
		return nil, err
	}
	e.forSummary = true
	// the MAC vendor table is needed for the Summary's assets: decompress
	// it on the other core while the packets are read
	go sharedOUI() // (its error is reported when the table is used)
	var reports []FileReport
	for _, path := range files {
		rep, err := e.replayFile(ctx, path, nil, nil)
		if err != nil {
			return nil, err
		}
		reports = append(reports, rep)
	}
	e.Flush(time.Time{})
	s := e.Summary()
	s.Files = reports
	return s, nil
}

// openError is a capture file that could not be opened at all (missing,
// unreadable, not a capture).
type openError struct{ error }

func (e *openError) Unwrap() error { return e.error }

// replayFile feeds one file to e, holding lock (when set) while the engine
// works on a packet, and calls after (when set) after each packet with its
// number (from 1) and time, without the lock. It flushes the engine every
// second of capture time. The error is an open failure (*openError), a
// read failure, cancellation or after's error; a truncated or invalid
// block ends the file and is reported in FileReport.
func (e *Engine) replayFile(ctx context.Context, path string, lock sync.Locker, after func(n uint64, ts time.Time) error) (FileReport, error) {
	rep := FileReport{Path: path}
	if lock == nil {
		lock = nopLocker{}
	}
	src, err := OpenFile(path)
	if err != nil {
		if !rep.setError(err) {
			return rep, &openError{err}
		}
		return rep, nil
	}
	defer src.Close()
	var next time.Time
	for {
		if rep.Packets&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return rep, fmt.Errorf("replay \"%s\": %w", path, err)
			}
		}
		p, err := src.ReadPacket(ctx)
		if errors.Is(err, io.EOF) {
			return rep, nil
		}
		if err != nil {
			if !rep.setError(err) {
				return rep, err
			}
			return rep, nil
		}
		rep.Packets++
		lock.Lock()
		e.Process(p)
		if ts := p.Timestamp; ts.After(next) {
			if !next.IsZero() {
				e.Flush(ts)
			}
			next = ts.Add(flushEvery)
		}
		lock.Unlock()
		if after != nil {
			if err := after(rep.Packets, p.Timestamp); err != nil {
				return rep, err
			}
		}
	}
}

// setError records err in r when it is a *CaptureError.
func (r *FileReport) setError(err error) bool {
	var ce *CaptureError
	if !errors.As(err, &ce) {
		return false
	}
	r.Error, r.SkippedBytes, r.err = ce.Error(), ce.Skipped, ce
	return true
}

type nopLocker struct{}

func (nopLocker) Lock()   {}
func (nopLocker) Unlock() {}
