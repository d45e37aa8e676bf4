package opcua_test

import (
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

func kinds(al []opcua.Alert) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range al {
		if !seen[a.Kind] {
			seen[a.Kind] = true
			out = append(out, a.Kind)
		}
	}
	sort.Strings(out)
	return out
}

func TestDetections(t *testing.T) {
	t.Parallel()
	expired := selfSigned(t, "old.example", t0.Add(-400*24*time.Hour), t0.Add(-24*time.Hour))
	expiring := selfSigned(t, "soon.example", t0.Add(-300*24*time.Hour), t0.Add(5*24*time.Hour))
	valid := selfSigned(t, "ok.example", t0.Add(-24*time.Hour), t0.Add(365*24*time.Hour))
	encrypted := ciphertext(1)
	faults := func(n int, code uint32) []step {
		var out []step
		for i := 0; i < n; i++ {
			out = append(out, cs(msg('F', uint32(10+i), activateSessionRequest(324, userToken("admin", "x", "http://www.w3.org/2001/04/xmlenc#rsa-oaep")))),
				sc(msg('F', uint32(10+i), serviceFault(code))))
		}
		return out
	}
	errs := func(n int) []step {
		var out []step
		for i := 0; i < n; i++ {
			out = append(out, sc(errChunk(0x80860000, "too busy")))
		}
		return out
	}
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"none read-only session is only none", append(noneHandshake(),
			cs(msg('F', 2, createSessionRequest("urn:client", valid))),
			cs(msg('F', 3, readRequest("a"))), sc(msg('F', 3, readResponse()))),
			[]string{opcua.KindSecurityNone}},
		{"discovery over none is silent", append(noneHandshake(),
			cs(msg('F', 2, reqHeader((&enc{}).node(428)).null().null().null().b)),
			sc(msg('F', 2, getEndpointsResponse(endpointSpec{"opc.tcp://plc:4840", policyB256Sha256, 3, []uint32{1}, valid})))),
			nil},
		{"benign signed and encrypted session", []step{
			cs(hel("opc.tcp://plc:4840")), sc(ack()),
			cs(opn(policyB256Sha256, valid, 1, encrypted)), sc(opn(policyB256Sha256, valid, 1, encrypted)),
			cs(msg('F', 2, encrypted)), sc(msg('F', 2, encrypted)), cs(msg('F', 3, encrypted))},
			nil},
		{"endpoint offering none", []step{sc(msg('F', 2, getEndpointsResponse(
			endpointSpec{"opc.tcp://plc:4840", policyNoneURI, 1, []uint32{0}, nil})))},
			[]string{opcua.KindEndpointInsecurePolicy}},
		{"endpoint offering basic128rsa15", []step{sc(msg('F', 2, getEndpointsResponse(
			endpointSpec{"opc.tcp://plc:4840", "http://opcfoundation.org/UA/SecurityPolicy#Basic128Rsa15", 3, []uint32{1}, nil})))},
			[]string{opcua.KindEndpointInsecurePolicy}},
		{"anonymous session", append(noneHandshake(),
			cs(msg('F', 4, activateSessionRequest(321, anonymousToken()))), sc(msg('F', 4, activateSessionResponse(0)))),
			[]string{opcua.KindAnonymousSession, opcua.KindSecurityNone}},
		{"anonymous session refused", append(noneHandshake(),
			cs(msg('F', 4, activateSessionRequest(321, anonymousToken()))), sc(msg('F', 4, activateSessionResponse(0x80210000)))),
			[]string{opcua.KindSecurityNone}},
		{"cleartext password", []step{
			cs(msg('F', 4, activateSessionRequest(324, userToken("operator", "secret", ""))))},
			[]string{opcua.KindCleartextPassword}},
		{"encrypted password", []step{
			cs(msg('F', 4, activateSessionRequest(324, userToken("operator", "ciphertext", "http://www.w3.org/2001/04/xmlenc#rsa-oaep"))))},
			nil},
		{"write from a new client", []step{cs(msg('F', 5, writeRequest("valve.open")))},
			[]string{opcua.KindWriteNewClient}},
		{"method call from a new client", []step{cs(msg('F', 5, callRequest(85, 11492)))},
			[]string{opcua.KindMethodCallNewClient}},
		{"delete nodes", []step{cs(msg('F', 5, deleteNodesRequest("pump1")))},
			[]string{opcua.KindNodeManagement}},
		{"add nodes", []step{cs(msg('F', 5, addNodesRequest("backdoor")))},
			[]string{opcua.KindNodeManagement}},
		{"brute force", faults(5, 0x801F0000), []string{opcua.KindBruteForce}},
		{"few failures", faults(4, 0x801F0000), nil},
		{"faults that are not authentication", faults(10, 0x80250000), nil},
		{"err flood", errs(10), []string{opcua.KindErrFlood}},
		{"few errs", errs(9), nil},
		{"expired certificate", []step{cs(opn(policyB256Sha256, expired, 1, encrypted))},
			[]string{opcua.KindCertExpired}},
		{"expiring certificate", []step{sc(opn(policyB256Sha256, expiring, 1, encrypted))},
			[]string{opcua.KindCertExpiring}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := opcua.NewAnalyzer(opcua.Config{})
			play(a, tc.steps, 0)
			al := a.TakeAlerts()
			if diff := cmp.Diff(tc.want, kinds(al)); diff != "" {
				t.Errorf("alert kinds (-want +got):\n%s", diff)
			}
			for _, x := range al {
				if x.Client != testClient.Addr() || x.Server != testServer || x.Message == "" || x.Severity == "" {
					t.Errorf("alert = %+v", x)
				}
			}
			if a.Stats().Malformed != 0 {
				t.Errorf("malformed = %d", a.Stats().Malformed)
			}
		})
	}
}

// TestDetectionsOncePerClient checks that write and call alerts fire once
// per client, and window alerts once per window.
func TestDetectionsOncePerClient(t *testing.T) {
	t.Parallel()
	a := opcua.NewAnalyzer(opcua.Config{})
	steps := []step{
		cs(msg('F', 5, writeRequest("a"))), cs(msg('F', 6, writeRequest("b"))),
		cs(msg('F', 7, callRequest(85, 1))), cs(msg('F', 8, callRequest(85, 2))),
	}
	play(a, steps, 0)
	play(a, steps, 0)
	if got := len(a.TakeAlerts()); got != 2 {
		t.Errorf("alerts = %d, want 2 (one write, one call)", got)
	}
	f := a.Flows()[0]
	if f.Writes != 4 || f.Calls != 4 || len(f.WrittenNodes) != 2 || len(f.CalledMethods) != 2 {
		t.Errorf("flow = %+v", f)
	}
}

// TestHugeArrayGuard feeds the ~132-byte WriteRequest that declares
// 0x7fffffff elements (gopcua v0.8.0's ua decoder allocates ~16 GB for it):
// it must be counted malformed and allocate well under 1 MB.
func TestHugeArrayGuard(t *testing.T) {
	m := hugeArrayMsg()
	if len(m) != 132 {
		t.Fatalf("crafted message is %d bytes, want 132", len(m))
	}
	a := opcua.NewAnalyzer(opcua.Config{})
	s := a.NewSession(testClient, testServer)
	for _, st := range noneHandshake() {
		s.Feed(st.toServer, st.b, t0)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s.Feed(true, m, t0)
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("feeding the huge-array message allocated %d bytes", d)
	}
	st := a.Stats()
	if st.Malformed != 1 || st.Services["WriteRequest"] != 1 {
		t.Errorf("stats = %+v, want the WriteRequest counted and malformed", st)
	}
	allocs := testing.AllocsPerRun(100, func() { s.Feed(true, m, t0) })
	if allocs > 10 {
		t.Errorf("allocs per huge-array Feed = %v", allocs)
	}
	// with a small MaxArrayLen the same message fails on the limit
	b := opcua.NewAnalyzer(opcua.Config{MaxArrayLen: 16})
	play(b, append(noneHandshake(), cs(m)), 0)
	if b.Stats().Malformed != 1 {
		t.Errorf("malformed = %d, want 1", b.Stats().Malformed)
	}
}
