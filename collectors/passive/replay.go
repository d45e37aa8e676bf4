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
	src, err := OpenFile(path)
	if err != nil {
		if !rep.setError(err) {
			return rep, &openError{err}
		}
		return rep, nil
	}
	defer src.Close()
	ra := startReadAhead(src)
	defer ra.stop()
	var next time.Time
	for b := range ra.full {
		for i := range b.pkts {
			if rep.Packets&0xffff == 0 {
				if err := ctx.Err(); err != nil {
					return rep, fmt.Errorf("replay \"%s\": %w", path, err)
				}
			}
			p := &b.pkts[i]
			rep.Packets++
			if lock != nil {
				lock.Lock()
			}
			e.Process(*p)
			if ts := p.Timestamp; ts.After(next) {
				if !next.IsZero() {
					e.Flush(ts)
				}
				next = ts.Add(flushEvery)
			}
			if lock != nil {
				lock.Unlock()
			}
			if after != nil {
				if err := after(rep.Packets, p.Timestamp); err != nil {
					return rep, err
				}
			}
		}
		err := b.err
		ra.free <- b
		if errors.Is(err, io.EOF) {
			return rep, nil
		}
		if err != nil {
			if !rep.setError(err) {
				return rep, err
			}
			return rep, nil
		}
	}
	return rep, nil // not reached: the last batch carries io.EOF or the error
}

// readAhead reads a capture's packets on its own goroutine into batches,
// so that reading and parsing the file (a fifth of a replay) overlaps with
// the engine's work on another core. Two batches take turns: one filled
// while the engine works on the other, so memory stays bounded (each holds
// at most readAheadPackets packets and MaxPacketSize bytes, the copies of
// the packets' data).
type readAhead struct {
	full, free chan *packetBatch
	done       chan struct{}
	exited     chan struct{}
}

// packetBatch is a run of packets read ahead; err (io.EOF at the end of
// the file) is the read error that followed the last of them.
type packetBatch struct {
	pkts []Packet
	data []byte // the packets' bytes (cap MaxPacketSize, never grown)
	err  error
}

// readAheadPackets is the number of packets of a batch.
const readAheadPackets = 2048

func startReadAhead(src Source) *readAhead {
	ra := &readAhead{full: make(chan *packetBatch, 2), free: make(chan *packetBatch, 2),
		done: make(chan struct{}), exited: make(chan struct{})}
	for range 2 {
		ra.free <- &packetBatch{pkts: make([]Packet, 0, readAheadPackets), data: make([]byte, 0, MaxPacketSize)}
	}
	go ra.run(src)
	return ra
}

// run fills batches until a read fails (io.EOF included) or stop.
func (ra *readAhead) run(src Source) {
	defer close(ra.exited)
	var held Packet // read, not yet copied: did not fit the previous batch
	var isHeld bool
	for {
		var b *packetBatch
		select {
		case b = <-ra.free:
		case <-ra.done:
			return
		}
		b.pkts, b.data, b.err = b.pkts[:0], b.data[:0], nil
		for len(b.pkts) < cap(b.pkts) {
			p := held
			if !isHeld {
				var err error
				if p, err = src.ReadPacket(context.Background()); err != nil {
					b.err = err
					break
				}
			}
			if len(p.Data) > cap(b.data)-len(b.data) {
				if len(b.pkts) > 0 {
					held, isHeld = p, true // Data stays valid: no ReadPacket until it is copied
					break
				}
				b.data = make([]byte, 0, len(p.Data)) // larger than any batch (not from OpenFile)
			}
			isHeld = false
			k := len(b.data)
			b.data = append(b.data, p.Data...)
			p.Data = b.data[k:len(b.data):len(b.data)]
			b.pkts = append(b.pkts, p)
		}
		select {
		case ra.full <- b:
		case <-ra.done:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// stop ends the reading goroutine and waits for it, so that the source
// can be closed.
func (ra *readAhead) stop() {
	close(ra.done)
	<-ra.exited
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
