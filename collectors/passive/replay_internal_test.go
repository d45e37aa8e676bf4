package passive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// readAheadCapture writes a pcap whose packets cross the read-ahead
// batches both ways: by count (more than readAheadPackets small frames)
// and by bytes (large frames that do not fit the rest of a batch, and
// one of MaxPacketSize). It returns the file and its frames.
func readAheadCapture(t *testing.T) (string, [][]byte) {
	t.Helper()
	var frames [][]byte
	add := func(n int, size int) {
		for range n {
			f := make([]byte, size)
			for i := range f {
				f[i] = byte(len(frames) + i)
			}
			frames = append(frames, f)
		}
	}
	add(10, 60)
	add(3, 100_000)
	add(readAheadPackets+100, 70)
	add(1, MaxPacketSize)
	add(5, 64)
	var b bytes.Buffer
	w, err := pcapgen.NewWriter(&b, layers.LinkTypeEthernet, MaxPacketSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "ra.pcap")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, frames
}

// drain collects the packets of every batch (copied) up to the batch
// carrying the read error, and that error.
func drain(t *testing.T, src Source) ([]Packet, error) {
	t.Helper()
	ra := startReadAhead(src)
	defer ra.stop()
	var got []Packet
	for b := range ra.full {
		for _, p := range b.pkts {
			p.Data = bytes.Clone(p.Data)
			got = append(got, p)
		}
		err := b.err
		ra.free <- b
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// TestReadAheadKeepsEveryPacket: the read-ahead batches hand over every
// packet of a capture in order, with its bytes, time and lengths, then
// io.EOF.
func TestReadAheadKeepsEveryPacket(t *testing.T) {
	path, frames := readAheadCapture(t)
	src, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := drain(t, src)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("read-ahead ended with %v, want io.EOF", err)
	}
	if len(got) != len(frames) {
		t.Fatalf("%d packets, want %d", len(got), len(frames))
	}
	for i, p := range got {
		if !bytes.Equal(p.Data, frames[i]) || p.CaptureLength != len(frames[i]) || p.Length != len(frames[i]) {
			t.Fatalf("packet %d: %d bytes (capture length %d, length %d), want the %d bytes written", i, len(p.Data), p.CaptureLength, p.Length, len(frames[i]))
		}
		if i > 0 && !p.Timestamp.After(got[i-1].Timestamp) {
			t.Fatalf("packet %d at %v, not after packet %d at %v", i, p.Timestamp, i-1, got[i-1].Timestamp)
		}
	}
}

// TestReadAheadTruncated: a capture cut inside a record hands over the
// packets before it, then the *CaptureError.
func TestReadAheadTruncated(t *testing.T) {
	path, frames := readAheadCapture(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)-30], 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := drain(t, src)
	var ce *CaptureError
	if !errors.As(err, &ce) || !errors.Is(err, ErrTruncated) {
		t.Fatalf("read-ahead ended with %v, want a truncated-capture error", err)
	}
	if len(got) != len(frames)-1 {
		t.Fatalf("%d packets before the truncated record, want %d", len(got), len(frames)-1)
	}
}

// TestReplayFileStopsEarly: when the per-packet callback fails, replayFile
// returns its error after that packet and the reading goroutine ends
// (replayFile returns at all).
func TestReplayFileStopsEarly(t *testing.T) {
	path, _ := readAheadCapture(t)
	e, err := NewEngine(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	rep, err := e.replayFile(context.Background(), path, nil, func(n uint64, _ time.Time) error {
		if n == 20 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || rep.Packets != 20 {
		t.Fatalf("replayFile = %d packets, %v; want 20 packets and the callback's error", rep.Packets, err)
	}
}
