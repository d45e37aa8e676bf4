package opcua_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// Real frames from icsnpp-open62541_client-server_mainloop.pcap (the shared
// captures), checked with
// tshark -n -r icsnpp-open62541_client-server_mainloop.pcap -Y opcua -T fields -e frame.number -e opcua.transport.type -e tcp.payload
const (
	// frame 6: HEL, endpoint opc.tcp://localhost:4840
	frameHEL = "48454c463800000000000000ffff0000ffff00000000000000000000180000006f70632e7463703a2f2f6c6f63616c686f73743a34383430"
	// frame 8: ACK
	frameACK = "41434b461c00000000000000ffff0000ffff00000000000000000000"
	// frame 10: OPN OpenSecureChannelRequest (446), SecurityPolicy#None, mode None
	frameOPNReq = "4f504e4684000000000000002f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e65ffffffffffffffff01000000010000000100be010000caa2e64e2dd1d5010000000000000000ffffffff00000000000000000000000000000001000000ffffffffc0270900"
	// frame 12: OPN OpenSecureChannelResponse (449)
	frameOPNResp = "4f504e4687000000030000002f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e65ffffffffffffffff01000000010000000100c1013a3fee4e2dd1d501000000000000000000ffffffff000000000000000300000003000000263fee4e2dd1d501c0270900ffffffff"
	// frame 84: MSG ReadRequest (631) of ns=1;s=the.answer
	frameRead = "4d5347467900000004000000040000001400000014000000010077020401003912161546f36d34fecffcbfbacb4c14bed68b4f2dd1d5011500000000000000ffffffff00000000000000000000000000000000000000010000000301000a0000007468652e616e737765720d000000ffffffff0000ffffffff"
	// frame 18: CLO CloseSecureChannelRequest (452)
	frameCLO = "434c4f4639000000030000000300000003000000030000000100c4010000566bf64e2dd1d5010100000000000000ffffffff10270000000000"
	// iti-opc-ua-ap-method-wireshark-freeze.pcap frame 43 (-o opcua.tcp.port:12001):
	// ERR 0x80020000 BadInternalError, null reason
	frameERR = "455252461000000000000280ffffffff"
)

func TestChunkHeaderDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    opcua.ChunkHeader
		wantErr error
	}{
		{"real HEL", frameHEL, opcua.ChunkHeader{MessageType: [3]byte{'H', 'E', 'L'}, ChunkType: 'F', Size: 56}, nil},
		{"real ACK", frameACK, opcua.ChunkHeader{MessageType: [3]byte{'A', 'C', 'K'}, ChunkType: 'F', Size: 28}, nil},
		{"real OPN", frameOPNReq, opcua.ChunkHeader{MessageType: [3]byte{'O', 'P', 'N'}, ChunkType: 'F', Size: 132}, nil},
		{"real MSG", frameRead, opcua.ChunkHeader{MessageType: [3]byte{'M', 'S', 'G'}, ChunkType: 'F', Size: 121}, nil},
		{"real CLO", frameCLO, opcua.ChunkHeader{MessageType: [3]byte{'C', 'L', 'O'}, ChunkType: 'F', Size: 57}, nil},
		{"real ERR", frameERR, opcua.ChunkHeader{MessageType: [3]byte{'E', 'R', 'R'}, ChunkType: 'F', Size: 16}, nil},
		{"intermediate MSG", "4d534743" + "00100000", opcua.ChunkHeader{MessageType: [3]byte{'M', 'S', 'G'}, ChunkType: 'C', Size: 4096}, nil},
		{"abort MSG", "4d534741" + "18000000", opcua.ChunkHeader{MessageType: [3]byte{'M', 'S', 'G'}, ChunkType: 'A', Size: 24}, nil},
		{"short", "48454c46380000", opcua.ChunkHeader{}, opcua.ErrShortHeader},
		{"unknown type", "475554461c000000", opcua.ChunkHeader{}, opcua.ErrMessageType},
		{"HEL chunk C", "48454c433800000000", opcua.ChunkHeader{}, opcua.ErrChunkType},
		{"MSG chunk X", "4d534758" + "18000000", opcua.ChunkHeader{}, opcua.ErrChunkType},
		{"MSG too small", "4d534746" + "10000000", opcua.ChunkHeader{}, opcua.ErrChunkSize},
		{"MSG too big", "4d534746" + "01000001", opcua.ChunkHeader{}, opcua.ErrChunkSize},
		{"HEL too big", "48454c46" + "00100100", opcua.ChunkHeader{}, opcua.ErrChunkSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h opcua.ChunkHeader
			err := h.DecodeFromBytes(mustHex(t, tc.in))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("DecodeFromBytes error = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecognize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"hello", frameHEL, true},
		{"mid-session MSG", frameRead, true},
		{"mid-session OPN", frameOPNReq, true},
		{"mid-session CLO", frameCLO, true},
		{"ACK alone is not a stream start", frameACK, false},
		{"ERR alone is not a stream start", frameERR, false},
		{"HTTP", "474554202f20485454502f312e31", false},
		{"modbus", "000100000006010300000001", false},
		{"short", "48454c", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := opcua.Recognize(mustHex(t, tc.in)); got != tc.want {
				t.Errorf("Recognize = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDecodeDoesNotAllocate is not parallel: testing.AllocsPerRun refuses to
// run in a parallel test.
func TestDecodeDoesNotAllocate(t *testing.T) {
	frames := [][]byte{mustHex(t, frameRead), mustHex(t, "475554461c000000"), mustHex(t, "4d5347")}
	var h opcua.ChunkHeader
	n := testing.AllocsPerRun(1000, func() {
		for _, f := range frames {
			_ = h.DecodeFromBytes(f)
			_ = opcua.Recognize(f)
		}
		_, _, _ = opcua.DecodeServiceID(frames[0][24:])
	})
	if n != 0 {
		t.Errorf("ChunkHeader.DecodeFromBytes/Recognize/DecodeServiceID allocate %v times per run, want 0", n)
	}
}

func BenchmarkDecode(b *testing.B) {
	f := mustHex(b, frameRead)
	var h opcua.ChunkHeader
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	for b.Loop() {
		_ = h.DecodeFromBytes(f)
	}
}
