package passive_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// genPolling writes conns Modbus connections polled round-robin for rounds
// rounds (pcapgen.Polling).
func genPolling(w *pcapgen.Writer, conns, rounds int) error { return pcapgen.Polling(w, conns, rounds) }

// benchCapture returns the path of a benchmark capture written by gen: the
// file named by the environment variable env when set (written only if it
// does not exist yet, so that tshark can be timed on the same file), else a
// temporary file.
func benchCapture(b *testing.B, env, name string, gen func(*pcapgen.Writer) error) string {
	b.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = b.TempDir() + "/" + name
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w, err := pcapgen.NewWriter(f, layers.LinkTypeEthernet, 0)
	if err != nil {
		b.Fatal(err)
	}
	if err := gen(w); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkReplay replays a generated capture of about one million packets
// (1000 connections polled with FC 3, pcapgen.Polling) through Replay. Set
// PASSIVE_BENCH_PCAP to keep the capture at that path (and reuse it), e.g.
// to time tshark on the same file.
func BenchmarkReplay(b *testing.B) {
	path := benchCapture(b, "PASSIVE_BENCH_PCAP", "bench.pcap", func(w *pcapgen.Writer) error { return genPolling(w, 1000, 500) })
	benchReplay(b, path)
}

// BenchmarkReplayMixed replays the second capture shape: 1000 connections
// with mixed function codes, exceptions and segments carrying two ADUs
// (pcapgen.MixedPolling, about 0.9 million packets). PASSIVE_BENCH_MIXED_PCAP
// keeps the capture like PASSIVE_BENCH_PCAP.
func BenchmarkReplayMixed(b *testing.B) {
	path := benchCapture(b, "PASSIVE_BENCH_MIXED_PCAP", "mixed.pcap", func(w *pcapgen.Writer) error { return pcapgen.MixedPolling(w, 1000, 500) })
	benchReplay(b, path)
}

func benchReplay(b *testing.B, path string) {
	b.ReportAllocs()
	b.ResetTimer()
	var packets uint64
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for b.Loop() {
		sum, err := passive.Replay(context.Background(), []string{path}, passive.DefaultConfig(), nil)
		if err != nil {
			b.Fatal(err)
		}
		packets += sum.Packets
	}
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(packets), "allocs/packet")
}

// steadyFrames returns the frames of one long polling connection, as they
// would come from a capture.
func steadyFrames(t testing.TB, rounds int) []passive.Packet {
	var buf bytes.Buffer
	w, err := pcapgen.NewWriter(&buf, layers.LinkTypeEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := genPolling(w, 1, rounds); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/steady.pcap"
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := passive.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []passive.Packet
	for {
		p, err := src.ReadPacket(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Data = append([]byte(nil), p.Data...)
		out = append(out, p)
	}
	return out
}

// TestProcessDoesNotAllocate checks that decoding, reassembling and
// analysing the packets of an established Modbus connection allocates
// nothing per packet.
func TestProcessDoesNotAllocate(t *testing.T) { // not parallel: AllocsPerRun forbids it
	frames := steadyFrames(t, 3000)
	e, err := passive.NewEngine(passive.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// warm up: handshake and the first thousand transactions
	i := 0
	for ; i < 2000; i++ {
		e.Process(frames[i])
	}
	allocs := testing.AllocsPerRun(1000, func() {
		e.Process(frames[i])
		e.Process(frames[i+1])
		i += 2
	})
	if allocs != 0 {
		t.Errorf("Process allocates %.2f times per request/response pair", allocs)
	}
}

// BenchmarkProcess measures Engine.Process alone on in-memory frames of an
// established connection.
func BenchmarkProcess(b *testing.B) {
	frames := steadyFrames(b, 20000)
	e, err := passive.NewEngine(passive.DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range frames[:1000] {
		e.Process(p)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if n == len(frames)-4 {
			b.StopTimer()
			e, _ = passive.NewEngine(passive.DefaultConfig(), nil)
			for _, p := range frames[:1000] {
				e.Process(p)
			}
			n = 1000
			b.StartTimer()
		}
		e.Process(frames[n])
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// genOPCUAPolling writes conns OPC UA connections on port 4840 (policy
// None: HEL/ACK, OPN, CreateSession, ActivateSession) polled round-robin
// with ReadRequest/ReadResponse for rounds rounds, then CLO, between 20
// clients and 50 servers.
func genOPCUAPolling(w *pcapgen.Writer, conns, rounds int) error {
	w.Step = 10 * time.Microsecond
	cs := make([]*pcapgen.Conn, conns)
	for i := range cs {
		cli := pcapgen.Endpoint{MAC: net.HardwareAddr{0, 0x80, 0xf4, 0, 0, byte(i % 20)},
			Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i % 20)}), uint16(20000+i))}
		srv := pcapgen.Endpoint{MAC: net.HardwareAddr{0, 0x0e, 0x8c, 0, 1, byte(i % 50)},
			Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 2, byte(i % 50)}), 4840)}
		cs[i] = w.Conn(cli, srv)
		err := errors.Join(cs[i].Handshake(),
			cs[i].Send(true, pcapgen.Hello("opc.tcp://plc:4840")), cs[i].Send(false, pcapgen.Ack()),
			cs[i].Send(true, pcapgen.Open(pcapgen.PolicyNone, nil, 1, pcapgen.OpenRequest(1))),
			cs[i].Send(false, pcapgen.Open(pcapgen.PolicyNone, nil, 1, pcapgen.OpenResponse())),
			cs[i].Send(true, pcapgen.Msg(2, pcapgen.CreateSessionRequest("urn:bench", nil))),
			cs[i].Send(true, pcapgen.Msg(3, pcapgen.ActivateSessionRequest(pcapgen.TokenAnonymous, pcapgen.AnonymousToken()))),
			cs[i].Send(false, pcapgen.Msg(3, pcapgen.ActivateSessionResponse(0))))
		if err != nil {
			return err
		}
	}
	req, resp := pcapgen.ReadRequest("Line1.Temperature"), pcapgen.ReadResponse()
	for r := range rounds {
		for _, c := range cs {
			id := uint32(10 + r)
			if err := errors.Join(c.Send(true, pcapgen.Msg(id, req)), c.Send(false, pcapgen.Msg(id, resp))); err != nil {
				return err
			}
		}
	}
	for _, c := range cs {
		if err := errors.Join(c.Send(true, pcapgen.CloseChannel(uint32(10+rounds))), c.Close()); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkReplayOPCUA replays a generated OPC UA capture of about 300000
// packets (500 connections, None policy, Read requests and responses)
// through Replay and reports OPC UA messages per second. Set
// PASSIVE_BENCH_OPCUA_PCAP to keep the capture at that path (and reuse it)
// to time tshark on the same file:
//
//	tshark -n -r FILE -d tcp.port==4840,opcua -T fields -e opcua.transport.type > /dev/null
func BenchmarkReplayOPCUA(b *testing.B) {
	path := benchCapture(b, "PASSIVE_BENCH_OPCUA_PCAP", "bench-opcua.pcap", func(w *pcapgen.Writer) error { return genOPCUAPolling(w, 500, 300) })
	b.ReportAllocs()
	b.ResetTimer()
	var packets, messages uint64
	for b.Loop() {
		sum, err := passive.Replay(context.Background(), []string{path}, passive.DefaultConfig(), nil)
		if err != nil {
			b.Fatal(err)
		}
		packets += sum.Packets
		messages += sum.OPCUA.Messages
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(messages)/b.Elapsed().Seconds(), "messages/s")
}

// BenchmarkReplayStorm replays a flow storm (pcapgen.Storm: 200,000
// distinct connections with garbage, partial frames and out-of-order data
// on 502 and 4840; STORM_CONNS changes the number) with the default
// memory budget and reports the peak live heap (sampled after a forced GC
// every 100 ms) against the budget, and the tables' own accounting at the
// end. Set PASSIVE_STORM_PCAP to keep the capture at that path (and reuse
// it), e.g. for `edgeward replay` or `make soak`.
func BenchmarkReplayStorm(b *testing.B) {
	conns := 200000
	if v := os.Getenv("STORM_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("STORM_CONNS: %v", err)
		}
		conns = n
	}
	path := benchCapture(b, "PASSIVE_STORM_PCAP", "storm.pcap", func(w *pcapgen.Writer) error {
		return pcapgen.WriteStorm(w, pcapgen.Storm{Conns: conns, Seed: 1})
	})
	cfg := passive.DefaultConfig()
	var peak uint64
	for b.Loop() {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		stop := make(chan struct{})
		sampled := make(chan uint64)
		go func() {
			var p uint64
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					sampled <- p
					return
				case <-t.C:
					runtime.GC()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					p = max(p, ms.HeapAlloc-min(ms.HeapAlloc, base.HeapAlloc))
				}
			}
		}()
		sum, err := passive.Replay(context.Background(), []string{path}, cfg, nil)
		close(stop)
		peak = max(peak, <-sampled)
		if err != nil {
			b.Fatal(err)
		}
		st := sum.Stats
		b.ReportMetric(float64(st.Flows.Evicted), "conns-evicted")
		b.ReportMetric(float64(sum.EventsOmitted), "events-omitted")
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-live-MB")
	b.ReportMetric(float64(cfg.MemoryBudget)/(1<<20), "budget-MB")
}
