package opcua_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// writePcap writes steps as one TCP segment each between testClient and
// testServer (Ethernet/IPv4, sequence numbers contiguous).
func writePcap(t *testing.T, path string, steps []step) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	seq := [2]uint32{1000, 5000}
	ts := t0
	cli, srv := testClient.Addr().As4(), testServer.Addr().As4()
	for _, st := range steps {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: cli[:], DstIP: srv[:]}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(testClient.Port()), DstPort: layers.TCPPort(testServer.Port()), ACK: true, PSH: true, Window: 65535}
		i := 0
		if !st.toServer {
			ip.SrcIP, ip.DstIP = ip.DstIP, ip.SrcIP
			tcp.SrcPort, tcp.DstPort = tcp.DstPort, tcp.SrcPort
			i = 1
		}
		tcp.Seq, tcp.Ack = seq[i], seq[1-i]
		seq[i] += uint32(len(st.b))
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, tcp, gopacket.Payload(st.b)); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		ts = ts.Add(time.Millisecond)
	}
}

// ciphertext returns deterministic bytes standing for an encrypted body;
// first is its first byte (the one tshark reads as a NodeId encoding).
func ciphertext(first byte) []byte {
	b := make([]byte, 200)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	b[0], b[1] = first, 0
	return b
}

// TestCraftedAgainstTshark writes crafted conversations to pcap files and
// compares our counts with tshark's (when installed): multi-chunk and abort
// handling, encrypted channels (tshark 4.0 reads a type id from ciphertext
// too), and a stream picked up mid-session.
func TestCraftedAgainstTshark(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs tshark")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	valid := selfSigned(t, "ok.example", t0.Add(-24*time.Hour), t0.Add(365*24*time.Hour))
	encrypted := []step{
		cs(hel("opc.tcp://plc:4840")), sc(ack()),
		cs(opn(policyB256Sha256, valid, 1, ciphertext(1))), sc(opn(policyB256Sha256, valid, 1, ciphertext(0xA7))),
		cs(msg('F', 2, ciphertext(1))), sc(msg('F', 2, ciphertext(0x5c))), cs(msg('C', 3, ciphertext(2))),
		cs(msg('F', 3, ciphertext(0))), cs(clo(4)),
	}
	// picked up on a chunk boundary: a stream starting mid-chunk is where
	// tshark and this package differ on purpose (tshark takes the bytes at
	// offset 4 for a length and swallows the following chunks; Session skips
	// to the next Feed that starts with a valid header)
	r := msg('F', 2, readRequest("x"))
	mid := []step{cs(msg('F', 3, ciphertext(1))), cs(msg('F', 3, writeRequest("valve"))), sc(msg('F', 3, readResponse())), cs(r)}
	signed := []step{
		cs(hel("opc.tcp://plc:4840")), sc(ack()),
		cs(opn(policyB256Sha256, nil, 1, ciphertext(0x99))), sc(opn(policyB256Sha256, nil, 1, ciphertext(0x98))),
		cs(msg('F', 2, append(readRequest("x"), ciphertext(0x33)[:32]...))), sc(msg('F', 2, append(readResponse(), ciphertext(0x33)[:32]...))),
	}
	cases := map[string][]step{"conversation": conversation(t), "encrypted": encrypted, "mid-session": mid, "signed": signed}
	dir := t.TempDir()
	cfgDir := filepath.Join(dir, "wsconfig")
	if err := os.Mkdir(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, steps := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".pcap")
		writePcap(t, path, steps)
		cmd := exec.Command(tshark, "-n", "-r", path, "-o", "opcua.tcp.port:4840", "-T", "fields",
			"-E", "occurrence=a", "-E", "separator=/t", "-e", "opcua.transport.type", "-e", "opcua.servicenodeid.numeric")
		cmd.Env = append(os.Environ(), "WIRESHARK_CONFIG_DIR="+cfgDir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: tshark: %v", name, err)
		}
		want := &opcua.Stats{MessageTypes: map[string]uint64{}, Services: map[string]uint64{}}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			cols := strings.Split(line, "\t")
			for _, typ := range strings.Split(cols[0], ",") {
				if typ != "" {
					want.Messages++
					want.MessageTypes[typ]++
				}
			}
			if len(cols) > 1 {
				for _, n := range strings.Split(cols[1], ",") {
					if id, err := strconv.ParseUint(n, 10, 32); err == nil {
						svc, _ := opcua.ServiceName(uint32(id))
						want.Services[svc]++
					}
				}
			}
		}
		a := opcua.NewAnalyzer(opcua.Config{})
		if err := replay(a, path, []uint16{4840}); err != nil {
			t.Fatal(err)
		}
		got := a.Stats()
		type view struct {
			Messages uint64
			Types    map[string]uint64
			Services map[string]uint64
		}
		if diff := cmp.Diff(view{want.Messages, want.MessageTypes, want.Services}, view{got.Messages, got.MessageTypes, got.Services}); diff != "" {
			t.Errorf("%s: counts (-tshark +ours):\n%s", name, diff)
		}
		if got.Malformed != 0 {
			t.Errorf("%s: malformed = %d", name, got.Malformed)
		}
	}
}
