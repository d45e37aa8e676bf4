package passive_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// streamCounts is what the framing comparison checks on one connection.
type streamCounts struct {
	ADUs, Requests, Responses int
	FunctionCodes             map[string][2]int // query, response
	Exceptions                map[string]int
	UnitIDs                   []int
	UAMessages                int
	UATypes                   map[string]int
	UAServices                map[string]int
}

func newStreamCounts() *streamCounts {
	return &streamCounts{FunctionCodes: map[string][2]int{}, Exceptions: map[string]int{},
		UnitIDs: []int{}, UATypes: map[string]int{}, UAServices: map[string]int{}}
}

// tsharkStreams dissects path with tshark (Modbus/TCP on 502, OPC UA on
// 4840, no personal preferences) and returns the counts per tcp.stream, and
// the per-frame lines of each stream for messages.
func tsharkStreams(t *testing.T, tshark, path string) (map[int]*streamCounts, map[int][]string) {
	t.Helper()
	cfg := t.TempDir()
	cmd := exec.Command(tshark, "-n", "-r", path, "-o", "mbtcp.tcp.port:502", "-o", "opcua.tcp.port:4840",
		"-T", "fields", "-E", "occurrence=a", "-E", "separator=/t",
		"-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "mbtcp.trans_id",
		"-e", "modbus.func_code", "-e", "modbus.exception_code", "-e", "mbtcp.unit_id",
		"-e", "opcua.transport.type", "-e", "opcua.servicenodeid.numeric", "-e", "frame.number")
	cmd.Env = append(os.Environ(), "WIRESHARK_CONFIG_DIR="+cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v: %s", path, err, stderr.String())
	}
	counts := map[int]*streamCounts{}
	frames := map[int][]string{}
	list := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 10 || f[0] == "" {
			continue
		}
		id, _ := strconv.Atoi(f[0])
		c := counts[id]
		if c == nil {
			c = newStreamCounts()
			counts[id] = c
		}
		if f[3] != "" || f[7] != "" {
			frames[id] = append(frames[id], "frame "+f[9]+": "+strings.Join(f[1:9], " | "))
		}
		query := f[2] == "502"
		adus := len(list(f[3]))
		c.ADUs += adus
		if query {
			c.Requests += adus
		} else {
			c.Responses += adus
		}
		for _, fc := range list(f[4]) {
			n, _ := strconv.Atoi(fc)
			k := strconv.Itoa(n)
			v := c.FunctionCodes[k]
			if query {
				v[0]++
			} else {
				v[1]++
			}
			c.FunctionCodes[k] = v
		}
		for _, e := range list(f[5]) {
			c.Exceptions[e]++
		}
		for _, u := range list(f[6]) {
			n, _ := strconv.Atoi(u)
			if !slices.Contains(c.UnitIDs, n) {
				c.UnitIDs = append(c.UnitIDs, n)
			}
		}
		for _, typ := range list(f[7]) {
			c.UAMessages++
			c.UATypes[typ]++
		}
		for _, n := range list(f[8]) {
			if id, err := strconv.ParseUint(n, 10, 32); err == nil {
				svc, _ := opcua.ServiceName(uint32(id))
				c.UAServices[svc]++
			}
		}
	}
	for _, c := range counts {
		slices.Sort(c.UnitIDs)
	}
	return counts, frames
}

// ourStream replays one stream alone through the engine (default config)
// and returns its counts.
func ourStream(t *testing.T, dir string, s pcapgen.Stream) *streamCounts {
	t.Helper()
	path := filepath.Join(dir, "one.pcap")
	writeStreams(t, path, []pcapgen.Stream{s})
	sum, err := passive.Replay(context.Background(), []string{path}, passive.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newStreamCounts()
	m := sum.Modbus
	c.ADUs, c.Requests, c.Responses = int(m.ADUs), int(m.Requests), int(m.Responses)
	for k, v := range m.FunctionCodes {
		c.FunctionCodes[k] = [2]int{int(v.Requests), int(v.Responses)}
	}
	for k, v := range m.ExceptionsByCode {
		c.Exceptions[k] = int(v)
	}
	c.UnitIDs = append(c.UnitIDs, m.UnitIDs...)
	u := sum.OPCUA
	c.UAMessages = int(u.Messages)
	for k, v := range u.MessageTypes {
		c.UATypes[k] = int(v)
	}
	for k, v := range u.Services {
		c.UAServices[k] = int(v)
	}
	return c
}

func writeStreams(t *testing.T, path string, streams []pcapgen.Stream) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcapgen.NewWriter(f, layers.LinkTypeEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := pcapgen.WriteStreams(w, streams); err != nil {
		t.Fatal(err)
	}
}

// framingSeeds is how many seeds of each generator TestFramingAgainstTshark
// runs (each seed one capture of framingStreams connections);
// EDGEWARD_FRAMING_SEEDS runs more.
const (
	framingSeeds   = 12
	framingStreams = 16
)

func framingSeedCount() uint64 {
	if n, err := strconv.ParseUint(os.Getenv("EDGEWARD_FRAMING_SEEDS"), 10, 32); err == nil && n > 0 {
		return n
	}
	return framingSeeds
}

// TestFramingAgainstTshark generates captures that mix valid Modbus/TCP and
// OPC UA frames with malformed ones (bad protocol ids, lengths and message
// sizes, unknown types, garbage, tiny and split segments, several frames to
// a segment) and fuzzed segments, dissects each with tshark and compares
// our counts with tshark's connection by connection: ADUs, requests,
// responses, per function code and direction, exception codes, unit ids,
// OPC UA messages per type and services.
func TestFramingAgainstTshark(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs tshark")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: apt-get install tshark")
	}
	gens := map[string]func(seed uint64, n int) []pcapgen.Stream{
		"modbus": pcapgen.MixedModbus, "opcua": pcapgen.MixedOPCUA,
	}
	for name, gen := range gens {
		for seed := uint64(1); seed <= framingSeedCount(); seed++ {
			t.Run(fmt.Sprintf("%s-%d", name, seed), func(t *testing.T) {
				dir := t.TempDir()
				streams := gen(seed, framingStreams)
				path := filepath.Join(dir, "all.pcap")
				writeStreams(t, path, streams)
				theirs, frames := tsharkStreams(t, tshark, path)
				for i, s := range streams {
					want := theirs[i]
					if want == nil {
						want = newStreamCounts()
					}
					got := ourStream(t, dir, s)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("stream %d (%s) differs from tshark (-tshark +ours):\n%s\ntshark frames:\n%s\nsegments:\n%s",
							i, strings.Join(s.Kinds, ","), diff, strings.Join(frames[i], "\n"), dumpPieces(s.Pieces))
					}
				}
			})
		}
	}
}

// dumpPieces shows the segments of a stream in hex (at most 40 bytes each).
func dumpPieces(ps []pcapgen.Piece) string {
	var b strings.Builder
	for i, p := range ps {
		dir := "c>s"
		if !p.ToServer {
			dir = "s>c"
		}
		fmt.Fprintf(&b, "%3d %s %4d % x", i, dir, len(p.Payload), p.Payload[:min(len(p.Payload), 40)])
		if len(p.Payload) > 40 {
			b.WriteString(" ...")
		}
		b.WriteByte('\n')
	}
	return b.String()
}
