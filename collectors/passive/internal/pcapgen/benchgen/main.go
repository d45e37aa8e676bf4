// Command benchgen writes the capture shapes of the replay benchmarks, for
// timing `edgeward replay` and tshark on the same file:
//
//	go run ./collectors/passive/internal/pcapgen/benchgen -shape mixed -o mixed.pcap
//
// Shapes: polling (pcapgen.Polling) and mixed (pcapgen.MixedPolling), 1000
// connections and 500 rounds by default (about one million packets).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

func main() {
	out := flag.String("o", "bench.pcap", "output pcap file")
	shape := flag.String("shape", "polling", "capture shape: polling or mixed")
	conns := flag.Int("conns", 1000, "connections")
	rounds := flag.Int("rounds", 500, "request/response rounds per connection")
	flag.Parse()
	gen := map[string]func(*pcapgen.Writer, int, int) error{"polling": pcapgen.Polling, "mixed": pcapgen.MixedPolling}[*shape]
	if gen == nil {
		fmt.Fprintf(os.Stderr, "benchgen: unknown shape %q: want polling or mixed\n", *shape)
		os.Exit(2)
	}
	if err := write(*out, func(w *pcapgen.Writer) error { return gen(w, *conns, *rounds) }); err != nil {
		fmt.Fprintln(os.Stderr, "benchgen:", err)
		os.Exit(1)
	}
}

func write(path string, gen func(*pcapgen.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := pcapgen.NewWriter(bw, layers.LinkTypeEthernet, 0)
	if err == nil {
		err = gen(w)
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
