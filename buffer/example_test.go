package buffer_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/edgeward/edgeward/buffer"
)

// Example shows the agent putting records and the uplink draining them:
// Next hands out a batch, Ack removes it once the broker acknowledged it.
func Example() {
	dir, err := os.MkdirTemp("", "edgeward-buffer-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	b, err := buffer.Open(filepath.Join(dir, "queue.db"), buffer.Options{MaxBytes: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()

	// Agent side: a threat event and two states of the same asset.
	if err := b.Put(ctx,
		buffer.Item{Stream: "threat", Priority: 4, Data: []byte(`{"kind":"modbus.scan"}`)},
		buffer.Item{Stream: "asset", Key: "10.0.0.5", Priority: 2, Data: []byte(`{"role":"plc"}`)},
	); err != nil {
		log.Fatal(err)
	}
	if err := b.Put(ctx, buffer.Item{Stream: "asset", Key: "10.0.0.5", Priority: 2, Data: []byte(`{"role":"plc","vendor":"Schneider"}`)}); err != nil {
		log.Fatal(err)
	}

	// Uplink side: wait for data, publish a batch, ack what the broker took.
	<-b.Ready()
	batch, err := b.Next(ctx, 0, 100, 256<<10)
	if err != nil {
		log.Fatal(err)
	}
	var acked []uint64
	for _, e := range batch {
		fmt.Printf("publish seq=%d stream=%s %s\n", e.Seq, e.Stream, e.Data)
		acked = append(acked, e.Seq)
	}
	if err := b.Ack(ctx, acked...); err != nil {
		log.Fatal(err)
	}
	st := b.Stats()
	fmt.Printf("accepted=%d delivered=%d coalesced=%d queued=%d\n", st.Accepted, st.Delivered, st.Coalesced, st.Queued)
	// Output:
	// publish seq=1 stream=threat {"kind":"modbus.scan"}
	// publish seq=3 stream=asset {"role":"plc","vendor":"Schneider"}
	// accepted=3 delivered=2 coalesced=1 queued=0
}
