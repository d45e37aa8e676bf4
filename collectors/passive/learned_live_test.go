//go:build linux

package passive_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
	"github.com/edgeward/edgeward/collectors/passive/modbus"
)

// bufferEmitter stores records (their JSON bodies, Stream = kind) and
// checkpoints in a real buffer file, as the agent's recorder does.
type bufferEmitter struct{ buf *buffer.Buffer }

func (b bufferEmitter) items(recs []collectors.Record) ([]buffer.Item, error) {
	out := make([]buffer.Item, 0, len(recs))
	for _, r := range recs {
		data, err := json.Marshal(r.Body)
		if err != nil {
			return nil, err
		}
		out = append(out, buffer.Item{Stream: r.Kind, Data: data})
	}
	return out, nil
}

func (b bufferEmitter) Emit(ctx context.Context, recs ...collectors.Record) error {
	return b.EmitCheckpoint(ctx, "", nil, recs...)
}

func (b bufferEmitter) Checkpoint(ctx context.Context, name string) ([]byte, error) {
	return b.buf.Meta(ctx, "checkpoint/"+name)
}

func (b bufferEmitter) EmitCheckpoint(ctx context.Context, name string, state []byte, recs ...collectors.Record) error {
	items, err := b.items(recs)
	if err != nil {
		return err
	}
	var meta map[string][]byte
	if name != "" {
		meta = map[string][]byte{"checkpoint/" + name: state}
	}
	return b.buf.PutWithMeta(ctx, meta, items...)
}

// TestLiveLearnedWritersSurviveRestart: the Modbus writers a live capture
// learned are stored with its records, so that after a restart (a new
// Collector over the reopened buffer file) a known master's write raises
// no modbus.write_new_master, while a new master's still does.
func TestLiveLearnedWritersSurviveRestart(t *testing.T) {
	t.Parallel()
	requireLiveCapture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveModbus(ln, func(req []byte) []byte { return req }) // an FC 6 write's response is its request
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	write := func(from string) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req, _ := pcapgen.WriteSingle(1, 1, 0, 1)
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, len(req))); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "buffer.db")
	var after uint64 // the last record read from the buffer

	// run captures on lo, writing from each address in from until
	// every one of them was seen writing (the flow records count the
	// answered write), and returns the clients of the write_new_master
	// events it stored.
	run := func(from ...string) map[string]bool {
		buf, err := buffer.Open(path, buffer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer buf.Close()
		cfg := passive.DefaultConfig()
		cfg.Interfaces = []string{"lo"}
		cfg.Ports.Modbus = []uint16{port}
		cfg.SummaryInterval = time.Second
		col, err := passive.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- col.Run(ctx, bufferEmitter{buf}) }()
		masters, wrote := map[string]bool{}, map[string]bool{}
		for deadline := time.Now().Add(20 * time.Second); len(wrote) < len(from); {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("the writes from %v were not all seen (seen: %v); stats %+v", from, wrote, col.Stats())
			}
			for _, f := range from {
				write(f)
			}
			time.Sleep(1500 * time.Millisecond)
			es, err := buf.Next(ctx, after, 10000, 64<<20)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				after = e.Seq
				switch e.Stream {
				case passive.KindFlow:
					var f passive.Flow
					if err := json.Unmarshal(e.Data, &f); err != nil {
						t.Fatal(err)
					}
					if f.FunctionCodes["6"].Responses > 0 {
						wrote[f.Client] = true
					}
				case modbus.KindWriteNewMaster:
					var ev passive.Event
					if err := json.Unmarshal(e.Data, &ev); err != nil {
						t.Fatal(err)
					}
					masters[ev.Client] = true
				}
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
		return masters
	}

	if got := run("127.0.0.1"); !got["127.0.0.1"] || len(got) != 1 {
		t.Fatalf("first run: new masters %v, want 127.0.0.1", got)
	}
	if got := run("127.0.0.1", "127.0.0.2"); !got["127.0.0.2"] || got["127.0.0.1"] {
		t.Errorf("after the restart: new masters %v, want 127.0.0.2 only (127.0.0.1 was learned by the first run)", got)
	}
}
