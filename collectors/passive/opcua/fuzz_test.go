package opcua_test

import (
	"runtime"
	"testing"

	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// fuzzServices are the service ids whose bodies the decoder reads.
var fuzzServices = []uint32{397, 431, 446, 449, 461, 464, 467, 470, 488, 494, 500, 506, 634, 673, 712}

// FuzzOPCUA feeds arbitrary bytes to a session, both directions, cut at
// fuzzer-chosen split points, after a None handshake. Invariants: no panic;
// the chunk count never exceeds what the bytes can hold (tshark counts
// chunks of 8 bytes); Stats and the tables stay consistent; the heap stays
// small (every length read from the wire is bounded before use). With bit 2
// of dir the bytes become the body of one of the decoded services.
func FuzzOPCUA(f *testing.F) {
	f.Add(hugeArrayMsg(), uint8(7), uint8(0))
	f.Add(mustHex(f, frameRead), uint8(13), uint8(1))
	f.Add(mustHex(f, frameOPNReq), uint8(0), uint8(0))
	f.Add(mustHex(f, frameHEL), uint8(3), uint8(0))
	f.Add(mustHex(f, frameERR), uint8(1), uint8(1))
	f.Add(msg('F', 2, getEndpointsResponse(endpointSpec{"opc.tcp://x:4840", policyNoneURI, 1, []uint32{0, 1}, []byte{0x30, 0x82, 0x01}})), uint8(9), uint8(1))
	f.Add(msg('F', 4, activateSessionRequest(324, userToken("u", "p", ""))), uint8(5), uint8(0))
	f.Add(msg('F', 5, callRequest(85, 1)), uint8(2), uint8(0))
	f.Add(msg('F', 5, writeRequest("n")), uint8(2), uint8(0))
	f.Add(append(msg('C', 7, []byte{1, 0, 0x77, 2}), msg('F', 7, make([]byte, 40))...), uint8(11), uint8(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f}, uint8(11), uint8(4))
	f.Add(writeRequest("n")[4:], uint8(11), uint8(4))
	f.Add(getEndpointsResponse(endpointSpec{"u", policyNoneURI, 1, []uint32{0}, nil})[4:], uint8(1), uint8(4))
	// framing as tshark does it: size 0, sizes below 8, unknown message and
	// chunk types, a size 2 GiB ahead, 8-byte chunks
	f.Add([]byte("MSGF\x00\x00\x00\x00MSGF\x18\x00\x00\x00"), uint8(3), uint8(0))
	f.Add(append([]byte("CLOF\x05\x00\x00\x00ab"), mustHex(f, frameRead)...), uint8(255), uint8(1))
	f.Add([]byte("XYZF\x0a\x00\x00\x00abACKX\x08\x00\x00\x00ERRC\x08\x00\x00\x00"), uint8(4), uint8(0))
	f.Add(append([]byte("MSGF\x00\x00\x00\xf0"), mustHex(f, frameRead)...), uint8(20), uint8(2))
	f.Add(append(mustHex(f, frameRead)[:len(mustHex(f, frameRead))-9], mustHex(f, frameRead)...), uint8(6), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, split, dir uint8) {
		if dir&4 != 0 {
			// wrap the bytes as the body of a decoded service in one MSG
			id := fuzzServices[int(split)%len(fuzzServices)]
			data = msg('F', 9, append((&enc{}).node(id).b, data...))
		}
		a := opcua.NewAnalyzer(opcua.Config{})
		s := a.NewSession(testClient, testServer)
		for _, st := range noneHandshake() {
			s.Feed(st.toServer, st.b, t0)
		}
		base := a.Stats().Messages
		step := int(split) + 1
		toServer := dir&1 == 0
		for p := data; len(p) > 0; {
			n := min(step, len(p))
			s.Feed(toServer, p[:n], t0)
			if dir&2 != 0 {
				toServer = !toServer
			}
			p = p[n:]
		}
		s.Close(t0)
		st := a.Stats()
		if got := st.Messages - base; got > uint64(len(data)/8) {
			t.Fatalf("%d chunks from %d bytes", got, len(data))
		}
		var types uint64
		for _, n := range st.MessageTypes {
			types += n
		}
		if types != st.Messages {
			t.Fatalf("message types sum %d != messages %d", types, st.Messages)
		}
		_ = a.Devices()
		_ = a.Flows()
		_ = a.TakeAlerts()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > 512<<20 {
			t.Fatalf("heap %d bytes", ms.HeapAlloc)
		}
	})
}
