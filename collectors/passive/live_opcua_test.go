//go:build linux

package passive_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
	"github.com/gopcua/opcua/uasc"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	uapassive "github.com/edgeward/edgeward/collectors/passive/opcua"
)

// liveRSACert returns a self-signed RSA 2048 certificate (DER) and its key
// for an OPC UA application with application URI uri (the URI subject
// alternative name OPC UA requires), valid for a day.
func liveRSACert(t *testing.T, cn, uri string) ([]byte, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"edgeward test"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment |
			x509.KeyUsageContentCommitment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{u},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// startOPCUAServer starts gopcua's server on 127.0.0.1 with endpoints
// None/None and Basic256Sha256/SignAndEncrypt, anonymous authentication,
// and returns its endpoint URL and port. The server binds the port of its
// first endpoint URL and reports no other, so a port is reserved on
// 127.0.0.1:0, released and handed to it; a lost race is retried.
func startOPCUAServer(t *testing.T, cert []byte, key *rsa.PrivateKey) (string, uint16) {
	t.Helper()
	var lastErr error
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		srv := server.New(
			server.EndPoint("127.0.0.1", port),
			server.EnableSecurity("None", ua.MessageSecurityModeNone),
			server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt),
			server.EnableAuthMode(ua.UserTokenTypeAnonymous),
			server.Certificate(cert), server.PrivateKey(key),
			server.ServerName("edgeward live test"),
		)
		if lastErr = srv.Start(context.Background()); lastErr == nil {
			t.Cleanup(func() { _ = srv.Close() })
			return "opc.tcp://127.0.0.1:" + strconv.Itoa(port), uint16(port)
		}
	}
	t.Fatalf("start opcua server: %v", lastErr)
	return "", 0
}

// startSecuredOPCUAServer serves one Basic256Sha256 SignAndEncrypt
// endpoint on 127.0.0.1:0 and returns its URL and port. gopcua v0.8.0's
// server cannot open a secured channel: every connection gets a channel
// config with SecurityMode None (server/server_config.go
// defaultChannelConfig), the mode is only taken from the
// OpenSecureChannelRequest after its body is decoded
// (uasc/secure_channel.go:745), and channelInstance.verifyAndDecrypt
// (uasc/secure_channel_instance.go:214) returns the body undecrypted while
// the mode is None, so the encrypted OPN is decoded as ciphertext and the
// channel fails ("invalid node id type"). This server therefore drives
// gopcua's own uasc secure channel (asymmetric OPN, symmetric
// sign-and-encrypt MSG, session signatures) configured for
// SignAndEncrypt up front, and answers CreateSession, ActivateSession
// (anonymous), Read and CloseSession itself.
func startSecuredOPCUAServer(t *testing.T, cert []byte, key *rsa.PrivateKey) (string, uint16) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := uacp.Listen(ctx, "opc.tcp://127.0.0.1:0", nil)
	if err != nil {
		cancel()
		t.Fatalf("listen: %v", err)
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	endpoint := "opc.tcp://127.0.0.1:" + strconv.Itoa(int(port))
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for id := uint32(1); ; id++ {
			c, err := l.Accept(ctx)
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				cfg := &uasc.Config{
					SecurityPolicyURI: ua.SecurityPolicyURIBasic256Sha256, SecurityMode: ua.MessageSecurityModeSignAndEncrypt,
					Certificate: cert, LocalKey: key, Lifetime: uint32(time.Hour / time.Millisecond),
				}
				sc, err := uasc.NewServerSecureChannel(endpoint, c, cfg, make(chan error, 8), 100+id, 1, 200+id)
				if err != nil {
					t.Errorf("secure channel: %v", err)
					return
				}
				defer sc.Close()
				serveSecured(ctx, t, sc, endpoint, cert)
			}()
		}
	}()
	return endpoint, port
}

// serveSecured answers the session services of one secure channel.
func serveSecured(ctx context.Context, t *testing.T, sc *uasc.SecureChannel, endpoint string, cert []byte) {
	hdr := func(h *ua.RequestHeader) *ua.ResponseHeader {
		return &ua.ResponseHeader{Timestamp: time.Now(), RequestHandle: h.RequestHandle, ServiceResult: ua.StatusOK,
			ServiceDiagnostics: &ua.DiagnosticInfo{}, StringTable: []string{}, AdditionalHeader: ua.NewExtensionObject(nil)}
	}
	nonce := func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	}
	for {
		msg := sc.Receive(ctx)
		if msg.Err != nil {
			return
		}
		req := msg.Request()
		if req == nil {
			continue // the OpenSecureChannelRequest, answered by uasc
		}
		var resp ua.Response
		switch r := req.(type) {
		case *ua.CreateSessionRequest:
			sig, alg, err := sc.NewSessionSignature(r.ClientCertificate, r.ClientNonce)
			if err != nil {
				t.Errorf("session signature: %v", err)
				return
			}
			resp = &ua.CreateSessionResponse{
				ResponseHeader: hdr(r.RequestHeader), SessionID: ua.NewNumericNodeID(1, 1),
				AuthenticationToken: ua.NewByteStringNodeID(0, nonce()), RevisedSessionTimeout: 60000,
				ServerNonce: nonce(), ServerCertificate: cert,
				ServerSignature: &ua.SignatureData{Signature: sig, Algorithm: alg},
				ServerEndpoints: []*ua.EndpointDescription{{
					EndpointURL: endpoint, SecurityPolicyURI: ua.SecurityPolicyURIBasic256Sha256,
					SecurityMode: ua.MessageSecurityModeSignAndEncrypt, ServerCertificate: cert,
					Server: &ua.ApplicationDescription{ApplicationURI: "urn:edgeward:test:server", ApplicationType: ua.ApplicationTypeServer,
						ApplicationName: &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: "edgeward live test"}},
					UserIdentityTokens:  []*ua.UserTokenPolicy{{PolicyID: "Anonymous", TokenType: ua.UserTokenTypeAnonymous}},
					TransportProfileURI: "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary", SecurityLevel: 3,
				}},
			}
		case *ua.ActivateSessionRequest:
			resp = &ua.ActivateSessionResponse{ResponseHeader: hdr(r.RequestHeader), ServerNonce: nonce()}
		case *ua.ReadRequest:
			rr := &ua.ReadResponse{ResponseHeader: hdr(r.RequestHeader)}
			for _, n := range r.NodesToRead {
				v := ua.MustVariant(time.Now().UTC())
				if n.NodeID.IntID() == id.Server_NamespaceArray { // read by gopcua's Connect
					v = ua.MustVariant([]string{"http://opcfoundation.org/UA/"})
				}
				rr.Results = append(rr.Results, &ua.DataValue{EncodingMask: ua.DataValueValue, Value: v})
			}
			resp = rr
		case *ua.CloseSessionRequest:
			resp = &ua.CloseSessionResponse{ResponseHeader: hdr(r.RequestHeader)}
		default:
			t.Errorf("secured server: unexpected %T", r)
			return
		}
		if err := sc.SendResponseWithContext(ctx, msg.RequestID, resp); err != nil {
			t.Errorf("send %T: %v", resp, err)
			return
		}
	}
}

// liveOPCUASession connects a gopcua client with opts, reads the server's
// CurrentTime, and closes the session and the secure channel.
func liveOPCUASession(t *testing.T, endpoint string, opts ...opcua.Option) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a hang guard
	defer cancel()
	c, err := opcua.NewClient(endpoint, opts...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	req := &ua.ReadRequest{
		NodesToRead:        []*ua.ReadValueID{{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime), AttributeID: ua.AttributeIDValue}},
		TimestampsToReturn: ua.TimestampsToReturnBoth,
	}
	resp, err := c.Read(ctx, req)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(resp.Results) != 1 || resp.Results[0].Status != ua.StatusOK {
		t.Fatalf("read results: %+v", resp.Results)
	}
	if err := c.Close(ctx); err != nil {
		t.Logf("close: %v", err)
	}
}

// TestLiveOPCUALoopback runs gopcua v0.8.0's server and client on the
// loopback interface, once with SecurityPolicy None and once with
// Basic256Sha256 SignAndEncrypt, captures the traffic with OpenLive, and
// checks what the engine makes of it: the channels (HEL, ACK, OPN, MSG and
// CLO counted, both policy URIs, the endpoint URL), the session services
// of the None connection (CreateSession, ActivateSession, Read), metadata
// only for the encrypted one, and the events: opcua.security_none and
// opcua.anonymous_session for the None connection, neither for the
// encrypted one.
func TestLiveOPCUALoopback(t *testing.T) {
	t.Parallel()
	srvCert, srvKey := liveRSACert(t, "edgeward test server", "urn:edgeward:test:server")
	cliCert, cliKey := liveRSACert(t, "edgeward test client", "urn:edgeward:test:client")
	endpoint, port := startOPCUAServer(t, srvCert, srvKey)
	secEndpoint, secPort := startSecuredOPCUAServer(t, srvCert, srvKey)
	src := liveOpenLoopback(t, passive.LiveOptions{Ports: []uint16{port, secPort}, PollTimeout: 20 * time.Millisecond})

	var (
		mu     sync.Mutex
		frames []passive.Packet
	)
	// finished is closed once the client closed both connections: its FIN
	// follows the CLO on the same socket, so every chunk has been captured
	// by then (gopcua's server does not always close its side).
	finished := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	readErr := make(chan error, 1)
	go func() {
		fins := map[uint16]bool{} // client ports that sent a FIN
		for {
			p, err := src.ReadPacket(ctx)
			if err != nil {
				readErr <- err
				return
			}
			cp := p
			cp.Data = bytes.Clone(p.Data)
			mu.Lock()
			frames = append(frames, cp)
			mu.Unlock()
			if tcp := liveTCPOf(cp); tcp != nil && tcp.FIN && len(fins) < 2 &&
				(uint16(tcp.DstPort) == port || uint16(tcp.DstPort) == secPort) {
				fins[uint16(tcp.SrcPort)] = true
				if len(fins) == 2 {
					close(finished)
				}
			}
		}
	}()

	liveOPCUASession(t, endpoint,
		opcua.SecurityPolicy(ua.SecurityPolicyURINone), opcua.SecurityMode(ua.MessageSecurityModeNone),
		opcua.AuthAnonymous(), opcua.ApplicationURI("urn:edgeward:test:client"))
	liveOPCUASession(t, secEndpoint,
		opcua.SecurityPolicy(ua.SecurityPolicyURIBasic256Sha256), opcua.SecurityMode(ua.MessageSecurityModeSignAndEncrypt),
		opcua.Certificate(cliCert), opcua.PrivateKey(cliKey), opcua.RemoteCertificate(srvCert),
		opcua.AuthAnonymous(), opcua.AuthPolicyID("Anonymous"), opcua.ApplicationURI("urn:edgeward:test:client"))
	select {
	case <-finished:
	case err := <-readErr:
		t.Fatalf("ReadPacket: %v", err)
	case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("the capture never saw the client FIN of both connections")
	}
	cancel()
	if err := <-readErr; err != nil && ctx.Err() == nil {
		t.Fatalf("ReadPacket: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()

	// Split the frames per TCP connection (client port).
	byConn := map[uint16][]passive.Packet{}
	var order []uint16
	for _, f := range frames {
		tcp := liveTCPOf(f)
		if tcp == nil {
			continue
		}
		cport := uint16(tcp.SrcPort)
		if cport == port || cport == secPort {
			cport = uint16(tcp.DstPort)
		}
		if _, ok := byConn[cport]; !ok {
			order = append(order, cport)
		}
		byConn[cport] = append(byConn[cport], f)
	}
	if len(order) != 2 {
		t.Fatalf("captured %d frames on %d connections (%v), want 2 connections", len(frames), len(order), order)
	}
	cfg := passive.DefaultConfig()
	cfg.Ports.OPCUA = []uint16{port, secPort}
	run := func(fs []passive.Packet) *passive.Engine {
		e, err := passive.NewEngine(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			e.Process(f)
		}
		e.Flush(time.Time{})
		return e
	}
	kindsOf := func(e *passive.Engine) map[string]bool {
		out := map[string]bool{}
		for _, r := range e.Records(time.Now()) {
			if r.Class == collectors.ClassThreat {
				out[r.Kind] = true
			}
		}
		return out
	}

	// The None connection: every service in clear.
	none := run(byConn[order[0]])
	ns := none.Summary().OPCUA
	t.Logf("None connection: %+v", ns)
	for _, typ := range []string{"HEL", "ACK", "OPN", "MSG", "CLO"} {
		if ns.MessageTypes[typ] == 0 {
			t.Errorf("None connection: no %s message (%v)", typ, ns.MessageTypes)
		}
	}
	for _, svc := range []string{"OpenSecureChannelRequest", "OpenSecureChannelResponse", "CreateSessionRequest", "CreateSessionResponse",
		"ActivateSessionRequest", "ActivateSessionResponse", "ReadRequest", "ReadResponse"} {
		if ns.Services[svc] == 0 {
			t.Errorf("None connection: no %s (%v)", svc, ns.Services)
		}
	}
	if !slices.Equal(ns.SecurityPolicyURIs, []string{ua.SecurityPolicyURINone}) || !slices.Equal(ns.EndpointURLs, []string{endpoint}) ||
		ns.Malformed != 0 {
		t.Errorf("None connection: policies %v, endpoint urls %v (want %s), malformed %d", ns.SecurityPolicyURIs, ns.EndpointURLs, endpoint, ns.Malformed)
	}
	if k := kindsOf(none); !k[uapassive.KindSecurityNone] || !k[uapassive.KindAnonymousSession] {
		t.Errorf("None connection: events %v, want %s and %s", k, uapassive.KindSecurityNone, uapassive.KindAnonymousSession)
	}

	// The SignAndEncrypt connection: metadata only.
	enc := run(byConn[order[1]])
	es := enc.Summary().OPCUA
	t.Logf("SignAndEncrypt connection: %+v", es)
	for _, typ := range []string{"HEL", "ACK", "OPN", "MSG"} {
		if es.MessageTypes[typ] == 0 {
			t.Errorf("SignAndEncrypt connection: no %s message (%v)", typ, es.MessageTypes)
		}
	}
	if !slices.Equal(es.SecurityPolicyURIs, []string{ua.SecurityPolicyURIBasic256Sha256}) || !slices.Equal(es.EndpointURLs, []string{secEndpoint}) {
		t.Errorf("SignAndEncrypt connection: policies %v, endpoint urls %v", es.SecurityPolicyURIs, es.EndpointURLs)
	}
	for _, svc := range []string{"CreateSessionRequest", "ActivateSessionRequest", "ReadRequest", "ReadResponse"} {
		if es.Services[svc] != 0 {
			t.Errorf("SignAndEncrypt connection: %s decoded from ciphertext (%v)", svc, es.Services)
		}
	}
	if k := kindsOf(enc); k[uapassive.KindSecurityNone] || k[uapassive.KindAnonymousSession] {
		t.Errorf("SignAndEncrypt connection: events %v, want neither security_none nor anonymous_session", k)
	}
	for _, f := range enc.Summary().Flows {
		if f.Protocol == "opcua" && (f.SecurityMode != "SignAndEncrypt" || f.Encrypted == 0) {
			t.Errorf("SignAndEncrypt flow: mode %q, %d encrypted chunks", f.SecurityMode, f.Encrypted)
		}
	}
	var srvAsset *passive.Asset
	sum := run(frames).Summary()
	for i, a := range sum.Assets {
		for _, app := range a.OPCUA {
			if app.Role == "server" {
				srvAsset = &sum.Assets[i]
			}
		}
	}
	if srvAsset == nil {
		t.Fatalf("no OPC UA server asset: %+v", sum.Assets)
	}
	found := false
	for _, app := range srvAsset.OPCUA {
		for _, c := range app.Certificates {
			found = found || c.URI == "urn:edgeward:test:server"
		}
	}
	if !found {
		t.Errorf("server certificate not on the server asset: %s", fmt.Sprint(srvAsset.OPCUA))
	}
	wantServers := []string{"127.0.0.1:" + strconv.Itoa(int(port)), "127.0.0.1:" + strconv.Itoa(int(secPort))}
	slices.Sort(wantServers)
	if got := sum.OPCUA.Servers; !slices.Equal(got, wantServers) {
		t.Errorf("servers = %v, want %v", got, wantServers)
	}
}
