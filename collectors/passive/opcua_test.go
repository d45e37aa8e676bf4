package passive_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
	"github.com/edgeward/edgeward/collectors/passive/opcua"
	"github.com/edgeward/edgeward/collectors/schematest"
)

// genStart is the time of the first frame pcapgen writes.
var genStart = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// uaStep is one chunk of a scripted OPC UA conversation.
type uaStep struct {
	toServer bool
	b        []byte
}

func uaC(b []byte) uaStep { return uaStep{true, b} }
func uaS(b []byte) uaStep { return uaStep{false, b} }

// uaNoneHandshake is HEL/ACK/OPN None request and response.
func uaNoneHandshake(url string) []uaStep {
	return []uaStep{
		uaC(pcapgen.Hello(url)), uaS(pcapgen.Ack()),
		uaC(pcapgen.Open(pcapgen.PolicyNone, nil, 1, pcapgen.OpenRequest(1))),
		uaS(pcapgen.Open(pcapgen.PolicyNone, nil, 1, pcapgen.OpenResponse())),
	}
}

// uaConn writes one TCP connection (handshake, steps, close).
func uaConn(w *pcapgen.Writer, client, server pcapgen.Endpoint, steps []uaStep) error {
	c := w.Conn(client, server)
	if err := c.Handshake(); err != nil {
		return err
	}
	for _, s := range steps {
		if err := c.Send(s.toServer, s.b); err != nil {
			return err
		}
	}
	return c.Close()
}

// replayPath runs a capture through a new engine with cfg and returns it
// after the final flush.
func replayPath(t *testing.T, path string, cfg passive.Config) *passive.Engine {
	t.Helper()
	e, err := passive.NewEngine(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := passive.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		p, err := src.ReadPacket(context.Background())
		if err != nil {
			break
		}
		e.Process(p)
	}
	e.Flush(time.Time{})
	return e
}

// testCert returns a self-signed ECDSA DER certificate valid from nb to na.
func testCert(t testing.TB, cn string, nb, na time.Time) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: []string{"edgeward test"}},
		NotBefore: nb, NotAfter: na,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestOPCUADetections plays crafted OPC UA conversations through the
// engine (capture file, reassembly, dispatch, analyzer, rate limiter) and
// checks the threat records of each opcua.* kind, and silence on benign
// sessions.
func TestOPCUADetections(t *testing.T) {
	t.Parallel()
	expired := testCert(t, "old.example", genStart.Add(-400*24*time.Hour), genStart.Add(-24*time.Hour))
	expiring := testCert(t, "soon.example", genStart.Add(-300*24*time.Hour), genStart.Add(5*24*time.Hour))
	valid := testCert(t, "ok.example", genStart.Add(-24*time.Hour), genStart.Add(365*24*time.Hour))
	cipher := bytes.Repeat([]byte{0x77}, 64) // not a NodeId encoding byte
	const rsaOAEP = "http://www.w3.org/2001/04/xmlenc#rsa-oaep"
	faults := func(n int, code uint32) []uaStep {
		var out []uaStep
		for i := range n {
			id := uint32(10 + i)
			out = append(out, uaC(pcapgen.Msg(id, pcapgen.ActivateSessionRequest(pcapgen.TokenUserName, pcapgen.UserToken("admin", "x", rsaOAEP)))),
				uaS(pcapgen.Msg(id, pcapgen.ServiceFault(code))))
		}
		return out
	}
	errs := func(n int) []uaStep {
		// ERR alone does not reveal OPC UA on a non-standard port: a Hello first
		out := []uaStep{uaC(pcapgen.Hello("opc.tcp://plc:4841"))}
		for range n {
			out = append(out, uaS(pcapgen.Err(0x80860000, "too busy")))
		}
		return out
	}
	secured := []uaStep{
		uaC(pcapgen.Hello("opc.tcp://plc:4840")), uaS(pcapgen.Ack()),
		uaC(pcapgen.Open(pcapgen.PolicyBasic256Sha256, valid, 1, cipher)),
		uaS(pcapgen.Open(pcapgen.PolicyBasic256Sha256, valid, 1, cipher)),
		uaC(pcapgen.Msg(2, cipher)), uaS(pcapgen.Msg(2, cipher)),
	}
	tests := []struct {
		name  string
		steps []uaStep
		want  []string
	}{
		{"benign signed and encrypted session", secured, nil},
		{"none session", append(uaNoneHandshake("opc.tcp://plc:4840"),
			uaC(pcapgen.Msg(2, pcapgen.CreateSessionRequest("urn:client", valid))),
			uaC(pcapgen.Msg(3, pcapgen.ReadRequest("a"))), uaS(pcapgen.Msg(3, pcapgen.ReadResponse()))),
			[]string{opcua.KindSecurityNone}},
		{"endpoint offering none", append(uaNoneHandshake("opc.tcp://plc:4840"),
			uaS(pcapgen.Msg(2, pcapgen.GetEndpointsResponse(pcapgen.EndpointSpec{URL: "opc.tcp://plc:4840", Policy: pcapgen.PolicyNone, Mode: 1, Tokens: []uint32{0}})))),
			[]string{opcua.KindEndpointInsecurePolicy}},
		{"endpoint offering basic128rsa15", append(uaNoneHandshake("opc.tcp://plc:4840"),
			uaS(pcapgen.Msg(2, pcapgen.GetEndpointsResponse(pcapgen.EndpointSpec{URL: "opc.tcp://plc:4840", Policy: pcapgen.PolicyBasic128Rsa15, Mode: 3, Tokens: []uint32{1}})))),
			[]string{opcua.KindEndpointInsecurePolicy}},
		{"discovery of secure endpoints is silent", append(uaNoneHandshake("opc.tcp://plc:4840"),
			uaS(pcapgen.Msg(2, pcapgen.GetEndpointsResponse(pcapgen.EndpointSpec{URL: "opc.tcp://plc:4840", Policy: pcapgen.PolicyBasic256Sha256, Mode: 3, Tokens: []uint32{1}, Cert: valid})))),
			nil},
		{"anonymous session", append(uaNoneHandshake("opc.tcp://plc:4840"),
			uaC(pcapgen.Msg(4, pcapgen.ActivateSessionRequest(pcapgen.TokenAnonymous, pcapgen.AnonymousToken()))),
			uaS(pcapgen.Msg(4, pcapgen.ActivateSessionResponse(0)))),
			[]string{opcua.KindAnonymousSession, opcua.KindSecurityNone}},
		{"cleartext password", []uaStep{
			uaC(pcapgen.Msg(4, pcapgen.ActivateSessionRequest(pcapgen.TokenUserName, pcapgen.UserToken("operator", "secret", ""))))},
			[]string{opcua.KindCleartextPassword}},
		{"encrypted password is silent", []uaStep{
			uaC(pcapgen.Msg(4, pcapgen.ActivateSessionRequest(pcapgen.TokenUserName, pcapgen.UserToken("operator", "cipher", rsaOAEP))))},
			nil},
		{"write from a new client", []uaStep{uaC(pcapgen.Msg(5, pcapgen.WriteRequest("valve.open")))},
			[]string{opcua.KindWriteNewClient}},
		{"method call from a new client", []uaStep{uaC(pcapgen.Msg(5, pcapgen.CallRequest(85, 11492)))},
			[]string{opcua.KindMethodCallNewClient}},
		{"delete nodes", []uaStep{uaC(pcapgen.Msg(5, pcapgen.DeleteNodesRequest("pump1")))},
			[]string{opcua.KindNodeManagement}},
		{"brute force", faults(5, 0x801F0000), []string{opcua.KindBruteForce}},
		{"few failures are silent", faults(4, 0x801F0000), nil},
		{"err flood", errs(10), []string{opcua.KindErrFlood}},
		{"few errs are silent", errs(9), nil},
		{"expired certificate", []uaStep{uaC(pcapgen.Open(pcapgen.PolicyBasic256Sha256, expired, 1, cipher))},
			[]string{opcua.KindCertExpired}},
		{"expiring certificate", []uaStep{uaS(pcapgen.Open(pcapgen.PolicyBasic256Sha256, expiring, 1, cipher))},
			[]string{opcua.KindCertExpiring}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// a non-standard port: the connection is recognised by its
			// Hello or, without one, by its first chunk header
			path := writeCapture(t, func(w *pcapgen.Writer) error {
				return uaConn(w, ep(hmiMAC, "192.168.1.10:50000"), ep(plcMAC, "192.168.1.30:4841"), tc.steps)
			})
			e := replayPath(t, path, passive.DefaultConfig())
			var got []string
			for _, r := range e.Records(genStart.Add(time.Hour)) {
				if r.Class != collectors.ClassThreat {
					continue
				}
				got = append(got, r.Kind)
				ev := r.Body.(passive.Event)
				if ev.Client != "192.168.1.10" || ev.Server != "192.168.1.30:4841" || ev.Message == "" || r.Severity == "" {
					t.Errorf("event = %+v", ev)
				}
			}
			sort.Strings(got)
			want := slices.Clone(tc.want)
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("threat kinds (-want +got):\n%s", diff)
			}
			if st := e.Summary().OPCUA; st.Malformed != 0 || st.Messages != uint64(len(tc.steps)) {
				t.Errorf("opcua stats: %d messages (want %d), %d malformed", st.Messages, len(tc.steps), st.Malformed)
			}
		})
	}
}

// TestOPCUARecords checks the net.asset, net.flow and threat records of an
// OPC UA capture next to a Modbus one: the assets merge both protocols per
// IP, carry the OPC UA application descriptions, certificates and
// endpoints, and every record validates against schema v1.
func TestOPCUARecords(t *testing.T) {
	t.Parallel()
	cert := testCert(t, "plc.example", genStart.Add(-24*time.Hour), genStart.Add(365*24*time.Hour))
	hmi := ep(hmiMAC, "192.168.1.10:50000")
	plc := ep(plcMAC, "192.168.1.20:4840")
	path := writeCapture(t, func(w *pcapgen.Writer) error {
		steps := append(uaNoneHandshake("opc.tcp://plc:4840"),
			uaC(pcapgen.Msg(2, (&pcapgen.UA{}).Node(428).ReqHeader().Null().Null().Null().B)),
			uaS(pcapgen.Msg(2, pcapgen.GetEndpointsResponse(
				pcapgen.EndpointSpec{URL: "opc.tcp://plc:4840", Policy: pcapgen.PolicyNone, Mode: 1, Tokens: []uint32{0}, Cert: cert},
				pcapgen.EndpointSpec{URL: "opc.tcp://plc:4840", Policy: pcapgen.PolicyBasic256Sha256, Mode: 3, Tokens: []uint32{1}, Cert: cert}))),
			uaC(pcapgen.Msg(3, pcapgen.CreateSessionRequest("urn:hmi", nil))),
			uaC(pcapgen.Msg(4, pcapgen.ActivateSessionRequest(pcapgen.TokenAnonymous, pcapgen.AnonymousToken()))),
			uaS(pcapgen.Msg(4, pcapgen.ActivateSessionResponse(0))),
			uaC(pcapgen.Msg(5, pcapgen.WriteRequest("valve"))),
			uaC(pcapgen.Msg(6, pcapgen.ReadRequest("level"))), uaS(pcapgen.Msg(6, pcapgen.ReadResponse())),
			uaC(pcapgen.CloseChannel(7)))
		if err := uaConn(w, hmi, plc, steps); err != nil {
			return err
		}
		// the same PLC also speaks Modbus
		return transact(w, ep(hmiMAC, "192.168.1.10:40001"), ep(plcMAC, "192.168.1.20:502"), pair(pcapgen.ReadHolding(1, 1, 0, 4)))
	})
	e := replayPath(t, path, passive.DefaultConfig())
	recs := e.Records(genStart.Add(time.Hour))
	kinds := map[string]int{}
	for _, r := range recs {
		kinds[r.Kind]++
		if raw, err := schematest.Validate(r); err != nil {
			t.Errorf("%s record does not validate: %v\n%s", r.Kind, err, raw)
		}
	}
	for _, k := range []string{"net.asset", "net.flow", opcua.KindSecurityNone, opcua.KindAnonymousSession,
		opcua.KindWriteNewClient, opcua.KindEndpointInsecurePolicy} {
		if kinds[k] == 0 {
			t.Errorf("no %s record; got %v", k, kinds)
		}
	}
	var server passive.Asset
	var flow passive.Flow
	for _, r := range recs {
		switch b := r.Body.(type) {
		case passive.Asset:
			if b.IP == "192.168.1.20" {
				server = b
			}
		case passive.Flow:
			if b.Protocol == "opcua" {
				flow = b
				if r.Key != "opcua:192.168.1.10->192.168.1.20:4840" {
					t.Errorf("flow key %q", r.Key)
				}
			}
		}
	}
	if !cmp.Equal(server.Protocols, []string{"modbus", "opcua"}) || !cmp.Equal(server.Ports, []int{502, 4840}) || len(server.OPCUA) != 1 {
		t.Fatalf("server asset = %+v", server)
	}
	app := server.OPCUA[0]
	if app.Role != "server" || app.Port != 4840 || app.ApplicationURI != "urn:test:server" || app.ApplicationName != "Test Server" ||
		len(app.Endpoints) != 2 || len(app.Certificates) == 0 || !strings.Contains(app.Certificates[0].Subject, "plc.example") ||
		app.Certificates[0].NotAfter.IsZero() || len(app.Certificates[0].Thumbprint) != 40 {
		t.Errorf("server application = %+v", app)
	}
	svc := map[string]uint64{}
	for _, s := range flow.Services {
		svc[s.Name] = s.Count
	}
	wantSvc := map[string]uint64{
		"OpenSecureChannelRequest": 1, "OpenSecureChannelResponse": 1, "GetEndpointsRequest": 1, "GetEndpointsResponse": 1,
		"CreateSessionRequest": 1, "ActivateSessionRequest": 1, "ActivateSessionResponse": 1, "WriteRequest": 1,
		"ReadRequest": 1, "ReadResponse": 1, "CloseSecureChannelRequest": 1,
	}
	if diff := cmp.Diff(wantSvc, svc); diff != "" {
		t.Errorf("flow services (-want +got):\n%s", diff)
	}
	if flow.SecurityPolicyURI != pcapgen.PolicyNone || flow.SecurityMode != "None" || flow.EndpointURL == "" ||
		flow.Messages != 13 || flow.Writes != 1 || flow.Requests != 7 || flow.Responses != 4 || flow.BytesToServer == 0 {
		t.Errorf("opcua flow = %+v", flow)
	}
	var out bytes.Buffer
	if err := e.Summary().WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"OPC UA BINARY", "ReadRequest=1", pcapgen.PolicyNone, "opc.tcp://plc:4840", "modbus,opcua"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
}

// TestOPCUAFlowSecurityRecord: a client that discovers the endpoints on a
// None channel and then works on a Basic256Sha256 SignAndEncrypt channel
// gets one net.flow listing both, with their channel counts; the record
// validates against the schema.
func TestOPCUAFlowSecurityRecord(t *testing.T) {
	t.Parallel()
	url := "opc.tcp://plc:4840"
	plc := ep(plcMAC, "192.168.1.20:4840")
	cipher := bytes.Repeat([]byte{0xC3}, 96)
	path := writeCapture(t, func(w *pcapgen.Writer) error {
		discovery := append(uaNoneHandshake(url),
			uaC(pcapgen.Msg(2, pcapgen.GetEndpointsRequest(url))),
			uaS(pcapgen.Msg(2, pcapgen.GetEndpointsResponse(pcapgen.EndpointSpec{URL: url, Policy: pcapgen.PolicyBasic256Sha256, Mode: 3, Tokens: []uint32{1}}))),
			uaC(pcapgen.CloseChannel(3)))
		if err := uaConn(w, ep(hmiMAC, "192.168.1.10:50000"), plc, discovery); err != nil {
			return err
		}
		secure := []uaStep{
			uaC(pcapgen.Hello(url)), uaS(pcapgen.Ack()),
			uaC(pcapgen.Open(pcapgen.PolicyBasic256Sha256, nil, 1, cipher)), uaS(pcapgen.Open(pcapgen.PolicyBasic256Sha256, nil, 1, cipher)),
			uaC(pcapgen.Msg(2, cipher)), uaS(pcapgen.Msg(2, cipher)),
		}
		return uaConn(w, ep(hmiMAC, "192.168.1.10:50001"), plc, secure)
	})
	e := replayPath(t, path, passive.DefaultConfig())
	var flows []passive.Flow
	for _, r := range e.Records(genStart.Add(time.Hour)) {
		if raw, err := schematest.Validate(r); err != nil {
			t.Errorf("%s record does not validate: %v\n%s", r.Kind, err, raw)
		}
		if f, ok := r.Body.(passive.Flow); ok {
			flows = append(flows, f)
		}
	}
	want := []opcua.ChannelSecurity{
		{Policy: "None", PolicyURI: pcapgen.PolicyNone, Mode: "None", Channels: 1},
		{Policy: "Basic256Sha256", PolicyURI: pcapgen.PolicyBasic256Sha256, Mode: "SignAndEncrypt", Channels: 1},
	}
	if len(flows) != 1 {
		t.Fatalf("flows = %+v, want one", flows)
	}
	if diff := cmp.Diff(want, flows[0].Security); diff != "" {
		t.Errorf("flow security (-want +got):\n%s", diff)
	}
}
