package passive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// flushEvery is how much capture time passes between two Flush calls
// during a replay.
const flushEvery = time.Second

// Replay decodes the capture files in order through one Engine and returns
// its Summary. Connections still open at the end are ended (so partial
// frames are counted) before the Summary is taken. A file that cannot be
// opened or read fails the replay; frames that cannot be decoded are
// counted, never fatal. Replay returns ctx's error if it is cancelled.
func Replay(ctx context.Context, files []string, cfg Config, log *slog.Logger) (*Summary, error) {
	e, err := NewEngine(cfg, log)
	if err != nil {
		return nil, err
	}
	for _, path := range files {
		if err := e.replayFile(ctx, path); err != nil {
			return nil, err
		}
	}
	e.Flush(time.Time{})
	return e.Summary(), nil
}

// replayFile feeds one file to e.
func (e *Engine) replayFile(ctx context.Context, path string) error {
	src, err := OpenFile(path)
	if err != nil {
		return err
	}
	defer src.Close()
	var next time.Time
	for n := 0; ; n++ {
		if n&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("replay %q: %w", path, err)
			}
		}
		p, err := src.ReadPacket(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				e.log.Warn("capture ends with a truncated record", "file", path, "err", err)
				return nil
			}
			return err
		}
		e.Process(p)
		if ts := p.Timestamp; ts.After(next) {
			if !next.IsZero() {
				e.Flush(ts)
			}
			next = ts.Add(flushEvery)
		}
	}
}
