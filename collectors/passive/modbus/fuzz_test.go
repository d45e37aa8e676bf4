package modbus

import (
	"testing"
)

// FuzzModbus protects three invariants. (1) Neither ADU.DecodeFromBytes nor
// Session.Feed panics on any bytes split anyhow. (2) A successful decode
// consumes exactly the declared length. (3) A stream of well-formed ADUs
// built from the input yields exactly one ADU per frame whatever the
// grouping into segments (and cuts after the first 8 bytes of an ADU),
// and the counters stay consistent (adus = requests + responses = sum of the
// per-function counts, exceptions <= adus).
func FuzzModbus(f *testing.F) {
	req, resp := readHolding(1, 1, 100, 4)
	f.Add(concat(req, resp), []byte{3, 7, 1})
	f.Add(mbap(0x17, 1, 0x2b, 0x0e, 0x01, 0x83, 0x00, 0x00, 0x01, 0x00, 0x03, 'a', 'b', 'c'), []byte{1})
	f.Add(unhex(f, "0000 0000 0003 0a 88 0b"), []byte{0})
	f.Add(unhex(f, "0001 0000 8804 05 07 08 09 10 0001 0000 8804"), []byte{5, 5})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), []byte{2})
	f.Add(unhex(f, "0001 0000 0005 0a 2a 0e 04 01 01 01 23"), []byte{11, 3})
	// framing as tshark does it: segments under 8 bytes, a held tail under
	// 6 bytes joined with the next segment, a malformed ADU before a
	// partial one, an oversized exception
	f.Add(concat(req, resp[:5], resp[5:]), []byte{6, 2, 12})
	f.Add(concat(mbap(2, 1, 1, 0), mbap(3, 1, 3, 0, 1, 0, 2)[:10], req), []byte{14, 11})
	f.Add(unhex(f, "0009 0000 0427 ff 8f 0b"), []byte{8, 200})
	f.Add(concat(mbap(4, 1, 0xe3), []byte{1, 2, 3, 4}, req), []byte{11, 15})
	f.Fuzz(func(t *testing.T, data, splits []byte) {
		var a ADU
		if err := a.DecodeFromBytes(data); err == nil {
			if a.Len() != len(data) || 8+len(a.Data) != len(data) {
				t.Fatalf("decoded length %d, data %d, input %d", a.Len(), len(a.Data), len(data))
			}
			if n, err := FrameLength(data); err != nil || n != len(data) {
				t.Fatalf("FrameLength = %d, %v, want %d", n, err, len(data))
			}
			_ = a.CheckPDU(true)
			_ = a.CheckPDU(false)
			var h DeviceIDHeader
			_ = a.DeviceID(&h, func(id uint8, v []byte) { _, _ = ObjectValueString(id, v) })
			_, _ = a.RequestAccesses()
		}

		// raw bytes, random splits and directions
		an := NewAnalyzer(Config{MaxPendingPerSession: 4})
		s := an.NewSession(testClient, testServer)
		feedSplit(s, data, splits, true)
		s.Gap(false)
		feedSplit(s, data, splits, false)
		s.Close(testT0)
		checkCounters(t, an.Stats())

		// well-formed frames built from the input, random splits: reads and
		// single writes (FC 1-6, address and quantity or value: 4 bytes) and
		// user-defined codes (65-72, 100-110) with any data, which
		// Wireshark's dissector shows as raw bytes. A malformed PDU would
		// change the framing of the rest of its segment (see the package
		// doc), so none is built here.
		var adus [][]byte
		for p := data; len(p) > 0; {
			n := min(int(p[0])%40+1, len(p))
			var pdu []byte
			if p[0]%2 == 0 {
				pdu = append([]byte{p[0]/2%6 + 1}, p[1:min(n, 5)]...)
				pdu = append(pdu, make([]byte, 5-len(pdu))...)
			} else {
				pdu = append([]byte{userDefinedFCs[int(p[0]/2)%len(userDefinedFCs)]}, p[1:n]...)
				pdu = append(pdu, make([]byte, max(0, 3-len(pdu)))...)
			}
			adus = append(adus, mbap(uint16(len(adus)), p[0], pdu...))
			p = p[n:]
		}
		frames := len(adus)
		an = NewAnalyzer(Config{})
		s = an.NewSession(testClient, testServer)
		feedGrouped(s, adus, splits)
		s.Close(testT0)
		st := an.Stats()
		if st.ADUs != uint64(frames) || st.Requests != uint64(frames) {
			t.Fatalf("well-formed stream: %d ADUs, %d requests, want %d", st.ADUs, st.Requests, frames)
		}
		checkCounters(t, st)
	})
}

// userDefinedFCs are the function codes Modbus leaves to vendors.
var userDefinedFCs = []byte{65, 66, 67, 68, 69, 70, 71, 72, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110}

// feedGrouped feeds whole ADUs a few to a Feed (counts from splits), the
// last of a group sometimes cut after its first 8 bytes and completed by
// the next Feed: the splits that tshark (and so Session) frames completely.
func feedGrouped(s *Session, adus [][]byte, splits []byte) {
	for i := 0; len(adus) > 0; i++ {
		var sp byte
		if len(splits) > 0 {
			sp = splits[i%len(splits)]
		}
		k := min(int(sp%3)+1, len(adus))
		var b []byte
		for _, a := range adus[:k-1] {
			b = append(b, a...)
		}
		last := adus[k-1]
		adus = adus[k:]
		if cut := 8 + int(sp>>2); sp&2 != 0 && cut < len(last) {
			s.Feed(true, append(b, last[:cut]...), testT0)
			s.Feed(true, last[cut:], testT0)
			continue
		}
		s.Feed(true, append(b, last...), testT0)
	}
}

// feedSplit feeds b in pieces whose sizes come from splits (cycled).
func feedSplit(s *Session, b, splits []byte, toServer bool) {
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(splits) > 0 {
			n = min(int(splits[i%len(splits)])+1, len(b))
		}
		s.Feed(toServer, b[:n], testT0)
		b = b[n:]
	}
}

func checkCounters(t *testing.T, st *Stats) {
	t.Helper()
	if st.ADUs != st.Requests+st.Responses {
		t.Fatalf("adus %d != requests %d + responses %d", st.ADUs, st.Requests, st.Responses)
	}
	var req, resp, exc uint64
	for _, c := range st.FunctionCodes {
		req += c.Requests
		resp += c.Responses
	}
	for _, n := range st.ExceptionsByCode {
		exc += n
	}
	if req != st.Requests || resp != st.Responses || exc > st.ADUs {
		t.Fatalf("per-function %d/%d, exceptions %d, totals %d/%d", req, resp, exc, st.Requests, st.Responses)
	}
}
