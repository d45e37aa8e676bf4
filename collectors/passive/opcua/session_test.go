package opcua_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// play feeds steps to a new session of a, each step split into pieces of at
// most split bytes (0: whole), and closes it.
func play(a *opcua.Analyzer, steps []step, split int) *opcua.Session {
	s := a.NewSession(testClient, testServer)
	ts := t0
	for _, st := range steps {
		b := st.b
		for len(b) > 0 {
			n := len(b)
			if split > 0 && split < n {
				n = split
			}
			s.Feed(st.toServer, b[:n], ts)
			b = b[n:]
		}
		ts = ts.Add(time.Millisecond)
	}
	s.Close(ts)
	return s
}

func statsJSON(t *testing.T, a *opcua.Analyzer) string {
	t.Helper()
	b, err := json.Marshal(a.Stats())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSessionRealFrames(t *testing.T) {
	t.Parallel()
	steps := []step{
		cs(mustHex(t, frameHEL)), sc(mustHex(t, frameACK)),
		cs(mustHex(t, frameOPNReq)), sc(mustHex(t, frameOPNResp)),
		cs(mustHex(t, frameRead)), cs(mustHex(t, frameCLO)), sc(mustHex(t, frameERR)),
	}
	a := opcua.NewAnalyzer(opcua.Config{})
	play(a, steps, 0)
	want := `{"messages":7,"message_types":{"ACK":1,"CLO":1,"ERR":1,"HEL":1,"MSG":1,"OPN":2},` +
		`"security_policy_uris":["http://opcfoundation.org/UA/SecurityPolicy#None"],` +
		`"endpoint_urls":["opc.tcp://localhost:4840"],` +
		`"services":{"CloseSecureChannelRequest":1,"OpenSecureChannelRequest":1,"OpenSecureChannelResponse":1,"ReadRequest":1},` +
		`"servers":["10.0.0.9:4840"],"malformed":0,"dropped_over_budget":0}`
	if diff := cmp.Diff(want, statsJSON(t, a)); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	fl := a.Flows()
	if len(fl) != 1 {
		t.Fatalf("flows = %d, want 1", len(fl))
	}
	f := fl[0]
	if f.SecurityMode != "None" || f.Errors != 1 || f.Messages != 7 || f.EndpointURL != "opc.tcp://localhost:4840" {
		t.Errorf("flow = %+v", f)
	}
}

// conversation is a crafted None session touching every message type and a
// multi-chunk response.
func conversation(t *testing.T) []step {
	ge := getEndpointsResponse(
		endpointSpec{"opc.tcp://plc:4840", policyB256Sha256, 3, []uint32{1, 2}, nil},
		endpointSpec{"opc.tcp://plc:4840", policyB256Sha256, 2, []uint32{1}, nil},
	)
	third := len(ge) / 3
	steps := append(noneHandshake(),
		cs(msg('F', 2, reqHeader((&enc{}).node(428)).null().null().null().b)),
		sc(msg('C', 2, ge[:third])), sc(msg('C', 2, ge[third:2*third])), sc(msg('F', 2, ge[2*third:])),
		cs(msg('F', 3, readRequest("x"))), sc(msg('F', 3, readResponse())),
		cs(msg('C', 4, readRequest("y")[:10])), cs(msg('A', 4, (&enc{}).u32(0x80ab0000).str("too large").b)),
		cs(clo(5)),
	)
	_ = t
	return steps
}

func TestSessionConversation(t *testing.T) {
	t.Parallel()
	a := opcua.NewAnalyzer(opcua.Config{})
	play(a, conversation(t), 0)
	want := `{"messages":13,"message_types":{"ACK":1,"CLO":1,"HEL":1,"MSG":8,"OPN":2},` +
		`"security_policy_uris":["http://opcfoundation.org/UA/SecurityPolicy#None"],` +
		`"endpoint_urls":["opc.tcp://plc:4840"],` +
		`"services":{"CloseSecureChannelRequest":1,"GetEndpointsRequest":1,"GetEndpointsResponse":1,` +
		`"OpenSecureChannelRequest":1,"OpenSecureChannelResponse":1,"ReadRequest":1,"ReadResponse":1},` +
		`"servers":["10.0.0.9:4840"],"malformed":0,"dropped_over_budget":0}`
	if diff := cmp.Diff(want, statsJSON(t, a)); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	devs := a.Devices()
	if len(devs) == 0 || devs[0].Role != "server" {
		t.Fatalf("devices = %+v", devs)
	}
	srv := devs[0]
	wantEP := []opcua.Endpoint{
		{URL: "opc.tcp://plc:4840", SecurityPolicyURI: policyB256Sha256, SecurityMode: "SignAndEncrypt",
			UserTokenTypes: []string{"UserName", "Certificate"}, SecurityLevel: 1},
		{URL: "opc.tcp://plc:4840", SecurityPolicyURI: policyB256Sha256, SecurityMode: "Sign",
			UserTokenTypes: []string{"UserName"}, SecurityLevel: 1},
	}
	if diff := cmp.Diff(wantEP, srv.Endpoints); diff != "" {
		t.Errorf("endpoints from the reassembled GetEndpointsResponse (-want +got):\n%s", diff)
	}
	if srv.ApplicationURI != "urn:test:server" || srv.ProductURI != "urn:test:server-product" || srv.ApplicationName != "Test Server" {
		t.Errorf("server application = %+v", srv)
	}
}

// TestSessionSplits feeds the same conversation in pieces of every size from
// 1 byte: the counts must not depend on the segmentation.
func TestSessionSplits(t *testing.T) {
	t.Parallel()
	ref := opcua.NewAnalyzer(opcua.Config{})
	play(ref, conversation(t), 0)
	want := statsJSON(t, ref)
	for split := 1; split <= 64; split++ {
		a := opcua.NewAnalyzer(opcua.Config{})
		play(a, conversation(t), split)
		if diff := cmp.Diff(want, statsJSON(t, a)); diff != "" {
			t.Fatalf("split %d: stats (-want +got):\n%s", split, diff)
		}
	}
	// several chunks in one Feed
	a := opcua.NewAnalyzer(opcua.Config{})
	s := a.NewSession(testClient, testServer)
	var toS, toC []byte
	for _, st := range conversation(t) {
		if st.toServer {
			toS = append(toS, st.b...)
		} else {
			toC = append(toC, st.b...)
		}
	}
	s.Feed(true, toS[:len(toS)/2], t0)
	s.Feed(false, toC, t0)
	s.Feed(true, toS[len(toS)/2:], t0)
	s.Close(t0)
	if got := a.Stats(); got.Messages != 13 || got.Malformed != 0 {
		t.Errorf("coalesced feeds: messages %d malformed %d, want 13 and 0", got.Messages, got.Malformed)
	}
}

func TestMultiChunkLimits(t *testing.T) {
	t.Parallel()
	ge := getEndpointsResponse(endpointSpec{"opc.tcp://plc:4840", policyNoneURI, 1, []uint32{0}, nil})
	steps := append(noneHandshake(),
		sc(msg('C', 2, ge[:20])), sc(msg('C', 2, ge[20:40])), sc(msg('F', 2, ge[40:])))
	// three chunks with a limit of two: counted, service named, fields not
	// decoded, not malformed
	a := opcua.NewAnalyzer(opcua.Config{MaxChunksPerMessage: 2})
	play(a, steps, 0)
	st := a.Stats()
	if st.Messages != 7 || st.Services["GetEndpointsResponse"] != 1 || st.Malformed != 0 {
		t.Errorf("stats = %+v", st)
	}
	if d := a.Devices(); len(d[0].Endpoints) != 0 {
		t.Errorf("endpoints decoded beyond MaxChunksPerMessage: %+v", d[0].Endpoints)
	}
	// the same within limits decodes the endpoint
	b := opcua.NewAnalyzer(opcua.Config{})
	play(b, steps, 0)
	if d := b.Devices(); len(d[0].Endpoints) != 1 {
		t.Errorf("endpoints = %+v, want 1", d[0].Endpoints)
	}
	// a chunk larger than MaxChunkSize is counted and its service named from
	// the prefix
	big := readResponse()
	big = append(big, make([]byte, 5000)...)
	c := opcua.NewAnalyzer(opcua.Config{MaxChunkSize: 1024})
	play(c, append(noneHandshake(), sc(msg('F', 3, big))), 100)
	if st := c.Stats(); st.Messages != 5 || st.Services["ReadResponse"] != 1 || st.Malformed != 0 {
		t.Errorf("oversized chunk: stats = %+v", st)
	}
}

func TestOPNCertificates(t *testing.T) {
	t.Parallel()
	nb, na := t0.Add(-24*time.Hour), t0.Add(365*24*time.Hour)
	cliCert := selfSigned(t, "client.example", nb, na)
	srvCert := selfSigned(t, "server.example", nb, na)
	// a chain: the first certificate is the application's
	chain := append(append([]byte(nil), srvCert...), selfSigned(t, "ca.example", nb, na)...)
	encrypted := ciphertext(0xA7) // not a NodeId encoding byte: no type id
	steps := []step{
		cs(hel("opc.tcp://plc:4840")), sc(ack()),
		cs(opn(policyB256Sha256, cliCert, 1, encrypted)), sc(opn(policyB256Sha256, chain, 1, encrypted)),
		cs(msg('F', 2, encrypted)), sc(msg('F', 2, encrypted)),
	}
	a := opcua.NewAnalyzer(opcua.Config{})
	play(a, steps, 7)
	st := a.Stats()
	if st.Messages != 6 || len(st.Services) != 0 || st.Malformed != 0 {
		t.Errorf("stats = %+v, want 6 messages, no service", st)
	}
	if diff := cmp.Diff([]string{policyB256Sha256}, st.SecurityPolicyURIs); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	devs := a.Devices()
	if len(devs) != 2 {
		t.Fatalf("devices = %+v", devs)
	}
	for _, d := range devs {
		if len(d.Certificates) != 1 {
			t.Fatalf("%s certificates = %+v", d.Role, d.Certificates)
		}
		c := d.Certificates[0]
		wantCN := "CN=client.example,O=edgeward test"
		if d.Role == "server" {
			wantCN = "CN=server.example,O=edgeward test"
		}
		if c.Subject != wantCN || len(c.Thumbprint) != 40 || !c.NotAfter.Equal(na.Truncate(time.Second)) {
			t.Errorf("%s certificate = %+v", d.Role, c)
		}
	}
	fl := a.Flows()[0]
	if fl.Encrypted != 2 || fl.SecurityMode != "SignAndEncrypt" || fl.SecurityPolicyURI != policyB256Sha256 {
		t.Errorf("flow = %+v", fl)
	}
	if al := a.TakeAlerts(); len(al) != 0 {
		t.Errorf("alerts on a benign encrypted session: %+v", al)
	}
}

func TestSignedChannel(t *testing.T) {
	t.Parallel()
	sig := bytes.Repeat([]byte{0xAA}, 32)
	steps := []step{
		cs(hel("opc.tcp://plc:4840")), sc(ack()),
		cs(opn(policyB256Sha256, nil, 1, make([]byte, 64))), sc(opn(policyB256Sha256, nil, 1, make([]byte, 64))),
		cs(msg('F', 2, append(readRequest("x"), sig...))), sc(msg('F', 2, append(readResponse(), sig...))),
	}
	a := opcua.NewAnalyzer(opcua.Config{})
	play(a, steps, 0)
	st := a.Stats()
	if st.Services["ReadRequest"] != 1 || st.Services["ReadResponse"] != 1 || st.Malformed != 0 {
		t.Errorf("stats = %+v", st)
	}
	if m := a.Flows()[0].SecurityMode; m != "Sign" {
		t.Errorf("security mode = %q, want Sign", m)
	}
}

func TestGapAndResync(t *testing.T) {
	t.Parallel()
	a := opcua.NewAnalyzer(opcua.Config{})
	s := a.NewSession(testClient, testServer)
	for _, st := range noneHandshake() {
		s.Feed(st.toServer, st.b, t0)
	}
	r := msg('F', 2, readRequest("x"))
	s.Feed(true, r[:30], t0) // the rest is lost
	s.Gap(true)
	s.Feed(true, r[40:], t0)                        // mid-chunk bytes: skipped
	s.Feed(true, msg('F', 3, readRequest("y")), t0) // resync
	s.Feed(false, msg('F', 3, readResponse()), t0)
	bad := msg('F', 4, readResponse())
	bad[4], bad[5], bad[6], bad[7] = 5, 0, 0, 0 // size below 8: the rest of the segment is dropped, like tshark
	s.Feed(false, append(bad, msg('F', 5, readResponse())...), t0)
	s.Feed(false, msg('F', 6, readResponse()), t0)
	// like tshark, garbage is a chunk whose size field ("age ") swallows
	// the rest of the direction
	s.Feed(false, []byte("garbage garbage garbage"), t0)
	s.Feed(false, msg('F', 7, readResponse()), t0)
	s.Close(t0)
	st := a.Stats()
	if st.Messages != 7 || st.Services["ReadRequest"] != 1 || st.Services["ReadResponse"] != 2 {
		t.Errorf("stats = %+v, want 7 messages, one read request and two responses", st)
	}
	// the size below 8 (1) and the partial chunk at close (1)
	if st.Malformed != 2 {
		t.Errorf("malformed = %d, want 2", st.Malformed)
	}
	s.Feed(true, hel("x"), t0)
	if a.Stats().Messages != 7 {
		t.Error("Feed after Close was counted")
	}
}

func TestMidSessionPickUp(t *testing.T) {
	t.Parallel()
	a := opcua.NewAnalyzer(opcua.Config{})
	r := msg('F', 2, readRequest("x"))
	// picked up on a chunk boundary in one direction, mid-chunk in the
	// other: like tshark, the bytes at offset 4 of the first segment are
	// taken for a size, which swallows that direction
	steps := []step{cs(r[13:]), cs(msg('F', 3, writeRequest("valve"))), sc(msg('F', 3, readResponse()))}
	play(a, steps, 0)
	st := a.Stats()
	if st.Messages != 1 || st.Services["ReadResponse"] != 1 || st.Services["WriteRequest"] != 0 {
		t.Errorf("stats = %+v", st)
	}
	// told of the pick-up (the engine does when no SYN was captured), the
	// session skips the partial chunk and decodes what follows
	a = opcua.NewAnalyzer(opcua.Config{})
	s := a.NewSession(testClient, testServer)
	s.PickUp(true)
	s.PickUp(false)
	for i, st := range steps {
		s.Feed(st.toServer, st.b, t0.Add(time.Duration(i)*time.Millisecond))
	}
	s.Close(t0.Add(time.Second))
	st = a.Stats()
	if st.Messages != 2 || st.Services["ReadResponse"] != 1 || st.Services["WriteRequest"] != 1 || st.Malformed != 0 {
		t.Errorf("after PickUp: stats = %+v", st)
	}
}

// TestReverseHello checks RHE (crafted: server URI and endpoint URL, OPC UA
// Part 6 7.1.2.6), which no shared capture holds.
func TestReverseHello(t *testing.T) {
	t.Parallel()
	a := opcua.NewAnalyzer(opcua.Config{})
	rhe := chunk("RHE", 'F', (&enc{}).str("urn:plc").str("opc.tcp://plc:4840/rhe").b)
	play(a, []step{sc(rhe), cs(hel("opc.tcp://plc:4840/rev")), sc(ack())}, 5)
	st := a.Stats()
	if diff := cmp.Diff(map[string]uint64{"RHE": 1, "HEL": 1, "ACK": 1}, st.MessageTypes); diff != "" {
		t.Errorf("message types (-want +got):\n%s", diff)
	}
	// Stats' endpoint URLs come from Hello only, as tshark's
	if diff := cmp.Diff([]string{"opc.tcp://plc:4840/rev"}, st.EndpointURLs); diff != "" {
		t.Errorf("endpoint urls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"opc.tcp://plc:4840/rhe", "opc.tcp://plc:4840/rev"}, a.Devices()[0].EndpointURLs); diff != "" {
		t.Errorf("server endpoint urls (-want +got):\n%s", diff)
	}
}

// TestChannelSecurityPerFlow: a client that discovers on a None channel,
// then opens a signed-and-encrypted one and a signed one, gets one flow
// listing each policy and mode with its channel count; a renewal on the
// same connection is not a new channel.
func TestChannelSecurityPerFlow(t *testing.T) {
	t.Parallel()
	a := opcua.NewAnalyzer(opcua.Config{})
	discovery := append(noneHandshake(), cs(msg('F', 2, getEndpointsRequest())), sc(msg('F', 2, getEndpointsResponse())))
	encrypted := bytes.Repeat([]byte{0x5c}, 80)
	secure := []step{
		cs(hel("opc.tcp://plc:4840")), sc(ack()),
		cs(opn(policyB256Sha256, nil, 1, make([]byte, 64))), sc(opn(policyB256Sha256, nil, 1, make([]byte, 64))),
		cs(msg('F', 2, encrypted)), sc(msg('F', 2, encrypted)),
		cs(opn(policyB256Sha256, nil, 3, make([]byte, 64))), sc(opn(policyB256Sha256, nil, 3, make([]byte, 64))), // renewal
	}
	sig := bytes.Repeat([]byte{0xAA}, 32)
	signed := []step{
		cs(hel("opc.tcp://plc:4840")), sc(ack()),
		cs(opn(policyB256Sha256, nil, 1, make([]byte, 64))), sc(opn(policyB256Sha256, nil, 1, make([]byte, 64))),
		cs(msg('F', 2, append(readRequest("x"), sig...))), sc(msg('F', 2, append(readResponse(), sig...))),
	}
	opened := []step{ // secured, no message yet: mode unknown
		cs(hel("opc.tcp://plc:4840")), sc(ack()),
		cs(opn(policyB256Sha256, nil, 1, make([]byte, 64))),
	}
	for _, steps := range [][]step{discovery, secure, secure, signed, opened} {
		play(a, steps, 0)
	}
	fl := a.Flows()
	if len(fl) != 1 {
		t.Fatalf("flows = %+v, want one", fl)
	}
	want := []opcua.ChannelSecurity{
		{Policy: "None", PolicyURI: policyNoneURI, Mode: "None", Channels: 1},
		{Policy: "Basic256Sha256", PolicyURI: policyB256Sha256, Mode: "SignAndEncrypt", Channels: 2},
		{Policy: "Basic256Sha256", PolicyURI: policyB256Sha256, Mode: "Sign", Channels: 1},
		{Policy: "Basic256Sha256", PolicyURI: policyB256Sha256, Mode: "SignOrEncrypt", Channels: 1},
	}
	if diff := cmp.Diff(want, fl[0].Security); diff != "" {
		t.Errorf("security per channel (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(fl[0].Security[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"policy":"None","policy_uri":"`+policyNoneURI+`","mode":"None","channels":1}` {
		t.Errorf("JSON = %s", got)
	}
}

// getEndpointsRequest is a GetEndpointsRequest for opc.tcp://plc:4840.
func getEndpointsRequest() []byte {
	return reqHeader((&enc{}).node(428)).str("opc.tcp://plc:4840").null().null().b
}
