package modbus

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// pollStream returns n FC 3 requests and their responses as two byte
// streams.
func pollStream(n int) (toServer, toClient []byte) {
	for i := 0; i < n; i++ {
		req, resp := readHolding(uint16(i+1), 1, 100, 4)
		toServer = append(toServer, req...)
		toClient = append(toClient, resp...)
	}
	return toServer, toClient
}

func statsOf(t *testing.T, feed func(s *Session)) (*Analyzer, *Stats) {
	t.Helper()
	a := NewAnalyzer(Config{})
	s := a.NewSession(testClient, testServer)
	feed(s)
	s.Close(testT0.Add(time.Second))
	return a, a.Stats()
}

func TestSessionSplits(t *testing.T) {
	t.Parallel()
	up, down := pollStream(5)
	_, want := statsOf(t, func(s *Session) {
		for i := 0; i < 5; i++ { // one ADU per Feed, interleaved
			l := len(up) / 5
			s.Feed(true, up[i*l:(i+1)*l], testT0)
			l = len(down) / 5
			s.Feed(false, down[i*l:(i+1)*l], testT0)
		}
	})
	if want.ADUs != 10 || want.Requests != 5 || want.Responses != 5 || want.Malformed != 0 {
		t.Fatalf("baseline stats = %+v", want)
	}
	tests := []struct {
		name string
		feed func(s *Session)
	}{
		{"several ADUs in one Feed", func(s *Session) {
			s.Feed(true, up, testT0)
			s.Feed(false, down, testT0)
		}},
		{"pipelined ADUs cut across segments", func(s *Session) {
			// (tshark does not take fewer than 8 bytes that start an ADU
			// at the start of a segment, or after an ADU completed by
			// reassembly, for Modbus: TestSessionResync)
			for _, b := range [][]byte{up, down} {
				toServer := &b[0] == &up[0]
				l := int(b[5]) + 6
				s.Feed(toServer, b[:l+10], testT0)
				s.Feed(toServer, b[l+10:3*l+3], testT0)
				s.Feed(toServer, b[3*l+3:], testT0)
			}
		}},
		{"ADU split byte by byte after its first 8 bytes", func(s *Session) {
			for _, b := range [][]byte{up, down} {
				toServer := &b[0] == &up[0]
				for len(b) > 0 {
					l := int(b[5]) + 6
					s.Feed(toServer, b[:8], testT0)
					for i := 8; i < l; i++ {
						s.Feed(toServer, b[i:i+1], testT0)
					}
					b = b[l:]
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, got := statsOf(t, tt.feed)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Stats() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionResync(t *testing.T) {
	t.Parallel()
	req1, _ := readHolding(1, 1, 0, 2)
	req2, _ := readHolding(2, 1, 0, 2)
	req3, _ := readHolding(3, 1, 0, 2)
	// FC 16 request whose data holds bytes shaped like an MBAP header
	// (protocol 0, length 6) that does not line up with the stream.
	tricky := mbap(9, 1, 16, 0, 0, 0, 4, 8, 0, 0, 0, 0, 0, 6, 1, 3)
	http := []byte("GET / HTTP/1.1\r\nHost: plc\r\n\r\n")
	tests := []struct {
		name          string
		feed          func(s *Session)
		wantADUs      uint64
		wantMalformed uint64
	}{
		{"mid-stream start inside an ADU drops the segment, like tshark", func(s *Session) {
			s.Feed(true, concat(req1[5:], req2, req3), testT0)
			s.Feed(true, req3, testT0)
		}, 1, 0},
		{"mid-stream start, tail split from the next ADU", func(s *Session) {
			s.Feed(true, req1[3:], testT0)
			s.Feed(true, req2, testT0)
			s.Feed(true, req3, testT0)
		}, 2, 0},
		{"mid-stream start inside header-shaped data", func(s *Session) {
			s.Feed(true, concat(tricky[9:], req2, req3), testT0)
		}, 0, 1},
		{"segment shorter than 8 bytes at a boundary is not Modbus, like tshark", func(s *Session) {
			s.Feed(true, req1[:7], testT0) // header sent alone
			s.Feed(true, req1[7:], testT0)
			s.Feed(true, req2, testT0)
		}, 1, 0},
		{"fewer than 6 bytes held join the whole next segment as one chain, like tshark", func(s *Session) {
			s.Feed(true, concat(req1, req2[:4]), testT0)
			s.Feed(true, concat(req2[4:], req3), testT0)
		}, 3, 0},
		{"held bytes that fail the heuristic once joined drop the next segment, like tshark", func(s *Session) {
			s.Feed(true, concat(req1, []byte{1, 2, 3, 4}), testT0)
			s.Feed(true, concat(req2, req3), testT0)
			s.Feed(true, req3, testT0)
		}, 2, 1},
		{"a segment that looks like TLS ends Modbus on the connection, like tshark", func(s *Session) {
			s.Feed(true, req1, testT0)
			s.Feed(false, []byte{0x17, 3, 3, 0, 0x10, 1, 2, 3, 4}, testT0)
			s.Feed(true, req2, testT0)
			s.Feed(false, req3, testT0)
		}, 1, 2},
		{"ADU reassembled from a chain's tail is judged by the heuristic, like tshark", func(s *Session) {
			bad := append([]byte(nil), req2...)
			bad[2] = 7
			s.Feed(true, concat(req1, bad[:9]), testT0)
			s.Feed(true, concat(bad[9:], req3), testT0)
		}, 2, 1},
		{"gap drops the partial ADU", func(s *Session) {
			s.Feed(true, concat(req1, req2[:6]), testT0)
			s.Gap(true)
			s.Feed(true, req2[9:], testT0) // the rest after a loss: garbage tail
			s.Feed(true, req3, testT0)
		}, 2, 0},
		{"garbage between ADUs", func(s *Session) {
			s.Feed(true, req1, testT0)
			s.Feed(true, []byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0xff}, testT0)
			s.Feed(true, req2, testT0)
			s.Feed(true, req3, testT0)
		}, 3, 1},
		{"non-Modbus payload on 502", func(s *Session) {
			s.Feed(true, http, testT0)
		}, 0, 1},
		{"protocol id not zero", func(s *Session) {
			bad := append([]byte(nil), req1...)
			bad[3] = 1
			s.Feed(true, req2, testT0)
			s.Feed(true, bad, testT0)
			s.Feed(true, req3, testT0)
		}, 2, 1},
		{"truncated ADU at close", func(s *Session) {
			s.Feed(true, req1, testT0)
			s.Feed(true, req2[:9], testT0)
		}, 1, 1},
		{"protocol id not zero inside a chain counts, like tshark", func(s *Session) {
			bad := append([]byte(nil), req2...)
			bad[2] = 7
			s.Feed(true, concat(req1, bad, req3), testT0)
		}, 3, 1},
		{"oversized length at a boundary swallows later data, like tshark", func(s *Session) {
			// digitalbond-modbus_test_data_part1.pcap frame 76: length 0x8804
			s.Feed(true, req1, testT0)
			s.Feed(true, unhex(t, "0001 0000 8804 05 07 08 09 10"), testT0)
			s.Feed(true, req2, testT0)
			s.Feed(true, req3, testT0)
		}, 1, 1},
		{"oversized ADU completed counts once", func(s *Session) {
			big := mbap(5, 1, append([]byte{3, 254}, make([]byte, 1500)...)...)
			s.Feed(true, req1, testT0)
			s.Feed(true, big[:700], testT0)
			s.Feed(true, big[700:], testT0)
			s.Feed(true, req2, testT0)
		}, 3, 1},
		{"trailing bytes after an ADU join the next segment, like tshark", func(s *Session) {
			// digitalbond-modbus_test_data_part1.pcap frames 111 and 113
			seg := unhex(t, "0001000000050a2a0e0401010123")
			s.Feed(false, seg, testT0)
			s.Feed(false, seg, testT0)
		}, 1, 1},
		{"malformed PDU still counts as an ADU", func(s *Session) {
			s.Feed(false, mbap(0, 1, 0x2b, 0x0e, 0x01, 0x00), testT0)
		}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, st := statsOf(t, tt.feed)
			if st.ADUs != tt.wantADUs || st.Malformed != tt.wantMalformed {
				t.Errorf("adus, malformed = %d, %d, want %d, %d", st.ADUs, st.Malformed, tt.wantADUs, tt.wantMalformed)
			}
		})
	}
}

func TestSessionPendingBounded(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{MaxPendingPerSession: 2})
	s := a.NewSession(testClient, testServer)
	var resps [][]byte
	for i := uint16(1); i <= 4; i++ {
		req, resp := readHolding(i, 1, 0, 1)
		s.Feed(true, req, testT0)
		resps = append(resps, resp)
	}
	s.Feed(false, resps[2], testT0) // tid 3: pending
	s.Feed(false, resps[3], testT0) // tid 4: pending
	s.Feed(false, resps[0], testT0) // tid 1: dropped from the full table
	_, stray := readHolding(77, 1, 0, 1)
	s.Feed(false, stray, testT0)
	s.Close(testT0)
	f := a.Flows()
	if len(f) != 1 {
		t.Fatalf("Flows() = %d flows", len(f))
	}
	if f[0].Unanswered != 2 || f[0].Unmatched != 2 || f[0].Requests != 4 || f[0].Responses != 4 {
		t.Errorf("flow unanswered/unmatched/requests/responses = %d/%d/%d/%d, want 2/2/4/4",
			f[0].Unanswered, f[0].Unmatched, f[0].Requests, f[0].Responses)
	}
}

func TestStatsJSON(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{})
	v6 := netip.MustParseAddrPort("[2001:db8::1]:502")
	s := a.NewSession(testClient, testServer)
	req, resp := readHolding(1, 1, 0, 2)
	s.Feed(true, req, testT0)
	s.Feed(false, resp, testT0)
	s.Feed(true, mbap(2, 10, 3, 0, 0x20, 0, 1), testT0)
	s.Feed(false, mbap(2, 10, 0x83, 0x02), testT0)
	s.Feed(true, mbap(3, 1, 0x2b, 0x0e, 0x01, 0x00), testT0)
	// icsnpp-modbus_example.pcap frame 94 objects, plus a second response
	// ("more follows" continuation) with object 3.
	s.Feed(false, unhex(t, "0003 0000 003d 01 2b 0e 01 83 ff 03 03"+
		"00 10 5a65656b204d6f64627573205465737"+"4"+
		"01 18 50726f746f636f6c2050617273696e672069732066756e21"+
		"02 07 312e322e332e36"), testT0)
	s.Feed(true, mbap(4, 1, 0x2b, 0x0e, 0x01, 0x03), testT0)
	s.Feed(false, mbap(4, 1, 0x2b, 0x0e, 0x01, 0x83, 0x00, 0x00, 0x01, 0x03, 0x03, 'a', 'b', 'c'), testT0)
	s6 := a.NewSession(netip.MustParseAddrPort("[2001:db8::2]:50000"), v6)
	s6.Feed(true, mbap(1, 255, 8, 0, 0, 0xa5, 0x37), testT0)
	s6.Feed(false, mbap(1, 255, 8, 0, 0, 0xa5, 0x37), testT0)
	s6.Feed(true, []byte("garbage that is not modbus at all, clearly"), testT0)
	s.Close(testT0)
	s6.Close(testT0)
	got, err := json.Marshal(a.Stats())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"adus":10,"requests":5,"responses":5,` +
		`"function_codes":{"3":{"requests":2,"responses":2},"8":{"requests":1,"responses":1},"43":{"requests":2,"responses":2}},` +
		`"exceptions_by_code":{"2":1},"unit_ids":[1,10,255],"servers":["192.0.2.1:502","[2001:db8::1]:502"],` +
		`"device_identification":[{"server":"192.0.2.1:502","unit_id":1,"objects":{"0":"Zeek Modbus Test","1":"Protocol Parsing is fun!","2":"1.2.3.6","3":"abc"}}],` +
		`"malformed":1}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Stats JSON (-want +got):\n%s", diff)
	}

	empty, _ := json.Marshal(NewAnalyzer(Config{}).Stats())
	wantEmpty := `{"adus":0,"requests":0,"responses":0,"function_codes":{},"exceptions_by_code":{},"unit_ids":[],"servers":[],"device_identification":[],"malformed":0}`
	if string(empty) != wantEmpty {
		t.Errorf("empty Stats JSON = %s, want %s", empty, wantEmpty)
	}
}

func TestTables(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{})
	s := a.NewSession(testClient, testServer)
	t1 := testT0.Add(time.Second)
	req, resp := readHolding(1, 1, 100, 10)
	s.Feed(true, req, testT0)
	s.Feed(false, resp, testT0)
	req, resp = readHolding(2, 1, 110, 5) // adjacent: merges into 100-114
	s.Feed(true, req, testT0)
	s.Feed(false, resp, testT0)
	s.Feed(true, mbap(3, 1, 16, 0, 200, 0, 2, 4, 0, 1, 0, 2), t1)
	s.Feed(false, mbap(3, 1, 16, 0, 200, 0, 2), t1)
	s.Feed(true, mbap(4, 2, 5, 0, 7, 0xff, 0), t1)
	s.Feed(false, mbap(4, 2, 0x85, 0x02), t1)
	s.Close(t1)

	wantFlow := []Flow{{
		Client: testClient.Addr(), Server: testServer,
		FunctionCodes: []FunctionCount{
			{Function: 3, Name: "Read Holding Registers", Class: "read", Requests: 2, Responses: 2},
			{Function: 5, Name: "Write Single Coil", Class: "write", Requests: 1, Responses: 1, Exceptions: 1},
			{Function: 16, Name: "Write Multiple Registers", Class: "write", Requests: 1, Responses: 1},
		},
		UnitIDs: []uint8{1},
		Read:    AddressRanges{HoldingRegisters: []Range{{100, 114}}},
		Written: AddressRanges{HoldingRegisters: []Range{{200, 201}}},
		Refused: []Outcome{{Exception: 2, Requests: 1, UnitIDs: []uint8{2}, FunctionCodes: []uint8{5},
			Written: AddressRanges{Coils: []Range{{7, 7}}}}},
		Requests: 4, Responses: 4, Exceptions: 1,
		FirstSeen: testT0, LastSeen: t1,
	}}
	if diff := cmp.Diff(wantFlow, a.Flows(), cmpopts.IgnoreFields(Flow{}, "BytesToServer", "BytesToClient"), netipOpts()); diff != "" {
		t.Errorf("Flows() (-want +got):\n%s", diff)
	}
	wantDev := []Device{{Server: testServer, UnitIDs: []uint8{1}, FunctionCodes: []uint8{3, 16},
		Refused:  []Outcome{{Exception: 2, Requests: 1, UnitIDs: []uint8{2}, FunctionCodes: []uint8{5}}},
		Requests: 4, Responses: 4, Exceptions: 1, FirstSeen: testT0, LastSeen: t1}}
	if diff := cmp.Diff(wantDev, a.Devices(), netipOpts()); diff != "" {
		t.Errorf("Devices() (-want +got):\n%s", diff)
	}
	wantCli := []Client{{Addr: testClient.Addr(), Servers: []netip.AddrPort{testServer}, Wrote: true,
		Requests: 4, Responses: 4, FirstSeen: testT0, LastSeen: t1}}
	if diff := cmp.Diff(wantCli, a.Clients(), netipOpts()); diff != "" {
		t.Errorf("Clients() (-want +got):\n%s", diff)
	}
}

func TestTablesBounded(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{MaxDevices: 3, MaxFlows: 3, MaxClients: 3, MaxWriters: 3})
	for i := 0; i < 10; i++ {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 40000)
		sv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 502)
		s := a.NewSession(c, sv)
		w := mbap(1, 1, 6, 0, 1, 0, 1)
		exchange(s, w, w, testT0) // executed: the client is learned as a writer
		s.Close(testT0)
	}
	if len(a.Flows()) != 3 || len(a.Devices()) != 3 || len(a.Clients()) != 3 {
		t.Errorf("tables = %d flows, %d devices, %d clients, want 3 each", len(a.Flows()), len(a.Devices()), len(a.Clients()))
	}
	d, c, f, w := a.Evictions()
	if d != 7 || c != 7 || f != 7 || w != 7 {
		t.Errorf("Evictions() = %d %d %d %d, want 7 each", d, c, f, w)
	}
	if got := a.Flows()[2].Client; got != netip.MustParseAddr("10.0.0.9") {
		t.Errorf("most recent flow client = %v", got)
	}
}

func TestRangeSetBounded(t *testing.T) {
	t.Parallel()
	var s rangeSet
	for i := 0; i < 1000; i++ {
		s.add(uint16(i*10), 2)
	}
	if len(s.r) > maxRangesPerTable {
		t.Fatalf("rangeSet holds %d intervals, want <= %d", len(s.r), maxRangesPerTable)
	}
	r := s.ranges()
	if r[0].Start != 0 || r[len(r)-1].End != 9991 {
		t.Errorf("ranges span %v..%v, want 0..9991", r[0], r[len(r)-1])
	}
	var u rangeSet
	u.add(65535, 10) // clipped at the top of the address space
	u.add(0, 1)
	u.add(2, 1)
	u.add(1, 1) // fills the hole
	if diff := cmp.Diff([]Range{{0, 2}, {65535, 65535}}, u.ranges()); diff != "" {
		t.Errorf("ranges (-want +got):\n%s", diff)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff(DefaultConfig(), NewAnalyzer(Config{}).Config()); diff != "" {
		t.Errorf("zero Config (-want +got):\n%s", diff)
	}
	got := NewAnalyzer(Config{MaxFlows: 7, ScanUnitThreshold: -1, Window: time.Second, IdentSweepThreshold: 1000}).Config()
	want := DefaultConfig()
	want.MaxFlows, want.Window, want.IdentSweepThreshold = 7, time.Second, 256
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("partial Config (-want +got):\n%s", diff)
	}
}
