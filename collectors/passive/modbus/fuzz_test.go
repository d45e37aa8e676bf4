package modbus

import (
	"testing"
)

// FuzzModbus protects three invariants. (1) Neither ADU.DecodeFromBytes nor
// Session.Feed panics on any bytes split anyhow. (2) A successful decode
// consumes exactly the declared length. (3) A stream of well-formed ADUs
// built from the input yields exactly one ADU per frame whatever the split,
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

		// well-formed frames built from the input, random splits
		var stream []byte
		frames := 0
		for p := data; len(p) > 0; frames++ {
			n := min(int(p[0])%40+1, len(p))
			pdu := append([]byte{p[0]%127 + 1}, p[1:n]...)
			stream = append(stream, mbap(uint16(frames), p[0], pdu...)...)
			p = p[n:]
		}
		an = NewAnalyzer(Config{})
		s = an.NewSession(testClient, testServer)
		feedSplit(s, stream, splits, true)
		s.Close(testT0)
		st := an.Stats()
		if st.ADUs != uint64(frames) || st.Requests != uint64(frames) {
			t.Fatalf("well-formed stream: %d ADUs, %d requests, want %d", st.ADUs, st.Requests, frames)
		}
		checkCounters(t, st)
	})
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
