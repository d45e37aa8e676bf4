// Command stormgen writes a flow-storm capture (pcapgen.Storm) for memory
// measurements of `edgeward replay` and `edgeward run`:
//
//	go run ./collectors/passive/internal/pcapgen/stormgen -conns 200000 -o storm.pcap
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
	out := flag.String("o", "storm.pcap", "output pcap file")
	conns := flag.Int("conns", 200000, "distinct connections")
	seed := flag.Uint64("seed", 1, "seed of the random payloads")
	flag.Parse()
	if err := write(*out, pcapgen.Storm{Conns: *conns, Seed: *seed}); err != nil {
		fmt.Fprintln(os.Stderr, "stormgen:", err)
		os.Exit(1)
	}
}

func write(path string, s pcapgen.Storm) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := pcapgen.NewWriter(bw, layers.LinkTypeEthernet, 0)
	if err == nil {
		err = pcapgen.WriteStorm(w, s)
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
