package probe

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/google/go-cmp/cmp"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
)

// selfSigned returns a fresh RSA key and a self-signed certificate for an
// OPC UA application with the given URI.
func selfSigned(t *testing.T, appURI string, notAfter time.Time) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(appURI)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "edgeward test server", Organization: []string{"edgeward"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{u},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

// freePort returns a port that was free a moment ago: gopcua's server cannot
// listen on port 0 and report the port it got.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startGopcuaServer runs gopcua's server on 127.0.0.1 with a None endpoint
// and a Basic256Sha256 SignAndEncrypt endpoint, anonymous and user-name
// tokens, and returns its URL and certificate.
func startGopcuaServer(t *testing.T) (string, []byte) {
	t.Helper()
	key, der := selfSigned(t, "urn:edgeward:test:server", time.Now().Add(365*24*time.Hour))
	port := freePort(t)
	s := server.New(
		server.EndPoint("127.0.0.1", port),
		server.PrivateKey(key),
		server.Certificate(der),
		server.ServerName("edgeward test"),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.EnableAuthMode(ua.UserTokenTypeUserName),
		server.ManufacturerName("Acme Automation"),
		server.ProductName("Acme UA Server"),
		server.SoftwareVersion("V2.3.1 SP1"),
	)
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		cancel()
		t.Fatalf("start gopcua server: %v", err)
	}
	t.Cleanup(func() { cancel(); s.Close() })
	return "opc.tcp://127.0.0.1:" + itoa(port), der
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func TestOPCUAEndpointsGopcuaServer(t *testing.T) {
	t.Parallel()
	u, der := startGopcuaServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := OPCUAEndpoints(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d endpoints, want 2: %+v", len(got), got)
	}
	x, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(der)
	cert := &Certificate{
		Subject: "CN=edgeward test server,O=edgeward", NotBefore: x.NotBefore, NotAfter: x.NotAfter,
		Thumbprint: hex.EncodeToString(sum[:]),
	}
	// gopcua offers the user-name token on the None endpoint too,
	// protected by the token's own Basic256Sha256 policy.
	tokens := []UserToken{
		{PolicyID: "anonymous_none", Type: "Anonymous", SecurityPolicyURI: ua.SecurityPolicyURINone},
		{PolicyID: "username_basic256sha256", Type: "UserName", SecurityPolicyURI: ua.SecurityPolicyURIBasic256Sha256},
	}
	ep := func(policy, mode string, level byte) Endpoint {
		return Endpoint{
			URL: u, SecurityPolicyURI: policy, SecurityMode: mode, SecurityLevel: level,
			UserTokenTypes: []string{"Anonymous", "UserName"}, UserTokens: tokens,
			ServerApplicationURI: "urn:edgeward:test:server", ServerApplicationName: "edgeward test",
			ServerProductURI: "urn:github.com:gopcua:server", Certificate: cert,
		}
	}
	want := []Endpoint{
		ep(ua.SecurityPolicyURINone, "None", got[0].SecurityLevel),
		ep(ua.SecurityPolicyURIBasic256Sha256, "SignAndEncrypt", got[1].SecurityLevel),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
	if !(got[1].SecurityLevel > got[0].SecurityLevel) {
		t.Errorf("security levels %d (None) and %d (Basic256Sha256): want the secure one higher", got[0].SecurityLevel, got[1].SecurityLevel)
	}

	kinds := map[string]int{}
	for _, f := range OPCUAFindings(u, got, time.Now()) {
		kinds[f.Kind]++
	}
	wantKinds := map[string]int{KindOPCUASecurityNone: 1, KindOPCUAAnonymousToken: 1} // one per kind
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("finding kinds (-want +got):\n%s", diff)
	}
}

// hostileOPCUA is a fake OPC UA server on 127.0.0.1 that completes HEL/ACK
// and OPN honestly and answers the first MSG with msg(conn).
func hostileOPCUA(t *testing.T, msg func(c net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for {
			var h [8]byte
			if _, err := io.ReadFull(c, h[:]); err != nil {
				return
			}
			body := make([]byte, binary.LittleEndian.Uint32(h[4:])-8)
			if _, err := io.ReadFull(c, body); err != nil {
				return
			}
			switch string(h[:3]) {
			case "HEL":
				ack := binary.LittleEndian.AppendUint32(nil, 0)
				for range 4 {
					ack = binary.LittleEndian.AppendUint32(ack, 1<<16)
				}
				writeUA(c, "ACK", 'F', ack)
			case "OPN":
				resp, err := ua.Encode(&ua.OpenSecureChannelResponse{
					ResponseHeader: responseHeader(),
					SecurityToken:  &ua.ChannelSecurityToken{ChannelID: 7, TokenID: 9, CreatedAt: time.Now(), RevisedLifetime: 60000},
				})
				if err != nil {
					panic(err)
				}
				b := binary.LittleEndian.AppendUint32(nil, 7)
				b = appendUAString(b, ua.SecurityPolicyURINone)
				b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFFF)
				b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFFF)
				b = binary.LittleEndian.AppendUint64(b, 1)
				b = appendNodeID(b, id.OpenSecureChannelResponse_Encoding_DefaultBinary)
				writeUA(c, "OPN", 'F', append(b, resp...))
			case "MSG":
				msg(c)
				io.Copy(io.Discard, c)
				return
			}
		}
	}()
	return "opc.tcp://" + l.Addr().String()
}

func responseHeader() *ua.ResponseHeader {
	return &ua.ResponseHeader{
		Timestamp:          time.Now(),
		ServiceDiagnostics: &ua.DiagnosticInfo{},
		AdditionalHeader:   ua.NewExtensionObject(nil),
	}
}

func writeUA(c net.Conn, typ string, chunk byte, body []byte) error {
	b := append([]byte(typ), chunk)
	b = binary.LittleEndian.AppendUint32(b, uint32(8+len(body)))
	_, err := c.Write(append(b, body...))
	return err
}

// msgChunk is a MSG chunk body with the symmetric and sequence headers.
func msgChunk(payload []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 7)
	b = binary.LittleEndian.AppendUint32(b, 9)
	b = binary.LittleEndian.AppendUint64(b, 2)
	return append(b, payload...)
}

// getEndpointsPrefix is a GetEndpointsResponse type id and header.
func getEndpointsPrefix(t *testing.T) []byte {
	hdr, err := ua.Encode(responseHeader())
	if err != nil {
		t.Fatal(err)
	}
	return append(appendNodeID(nil, id.GetEndpointsResponse_Encoding_DefaultBinary), hdr...)
}

// TestOPCUAEndpointsHugeArray answers GetEndpoints with a declared array of
// 2^31-1 endpoints in a few bytes. gopcua's decoder would make a 16 GiB
// slice; the probe must fail without allocating more than it read.
func TestOPCUAEndpointsHugeArray(t *testing.T) {
	prefix := getEndpointsPrefix(t)
	for _, tc := range []struct {
		name  string
		array []byte
	}{
		{"endpoints", binary.LittleEndian.AppendUint32(nil, 0x7FFFFFFF)},
		{"negative count", binary.LittleEndian.AppendUint32(nil, 0x80000000)},
		// one endpoint whose user token array claims 2^31-1 entries
		{"user tokens", func() []byte {
			b := binary.LittleEndian.AppendUint32(nil, 1)
			b = appendUAString(b, "opc.tcp://x")
			for range 3 {
				b = binary.LittleEndian.AppendUint32(b, 0) // empty string
			}
			b = append(b, 0)                                    // application name: empty mask
			b = binary.LittleEndian.AppendUint32(b, 0)          // application type
			b = append(b, make([]byte, 8)...)                   // gateway, discovery profile
			b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFFF) // discovery URLs: null
			b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFFF) // certificate: null
			b = binary.LittleEndian.AppendUint32(b, 1)          // mode
			b = appendUAString(b, ua.SecurityPolicyURINone)
			b = binary.LittleEndian.AppendUint32(b, 0x7FFFFFFF) // user tokens
			return append(b, make([]byte, 40)...)
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := hostileOPCUA(t, func(c net.Conn) {
				writeUA(c, "MSG", 'F', msgChunk(append(append([]byte(nil), prefix...), tc.array...)))
			})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := OPCUAEndpoints(context.Background(), u)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "array of") {
				t.Errorf("err = %v, want ErrMalformed for the array", err)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 8<<20 {
				t.Errorf("probe allocated %d bytes", d)
			}
		})
	}
}

// TestOPCUAEndpointsFlood streams MSG chunks that never end; the probe must
// stop at MaxOPCUAResponseBytes.
func TestOPCUAEndpointsFlood(t *testing.T) {
	body := msgChunk(make([]byte, uaMaxChunkSize-8-16))
	frame := binary.LittleEndian.AppendUint32([]byte("MSGC"), uint32(8+len(body)))
	frame = append(frame, body...)
	u := hostileOPCUA(t, func(c net.Conn) {
		for {
			if _, err := c.Write(frame); err != nil {
				return
			}
		}
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := OPCUAEndpoints(context.Background(), u)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	// Reassembly costs a few times the cap; an unbounded reader would take
	// gigabytes before the 5s default deadline.
	if d := after.TotalAlloc - before.TotalAlloc; d > 16*MaxOPCUAResponseBytes {
		t.Errorf("probe allocated %d bytes for a %d-byte cap", d, MaxOPCUAResponseBytes)
	}
}

func TestOPCUAEndpointsServiceFault(t *testing.T) {
	t.Parallel()
	hdr := responseHeader()
	hdr.ServiceResult = ua.StatusBadServiceUnsupported
	enc, err := ua.Encode(hdr)
	if err != nil {
		t.Fatal(err)
	}
	u := hostileOPCUA(t, func(c net.Conn) {
		writeUA(c, "MSG", 'F', msgChunk(append(appendNodeID(nil, id.ServiceFault_Encoding_DefaultBinary), enc...)))
	})
	if _, err := OPCUAEndpoints(context.Background(), u); !errors.Is(err, ErrServiceFault) {
		t.Errorf("err = %v, want ErrServiceFault", err)
	}
}

func TestOPCUAEndpointsErrMessage(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := binary.LittleEndian.AppendUint32(nil, uint32(ua.StatusBadTCPEndpointURLInvalid))
		writeUA(c, "ERR", 'F', appendUAString(b, "no such endpoint"))
		io.Copy(io.Discard, c)
	}()
	_, err = OPCUAEndpoints(context.Background(), "opc.tcp://"+l.Addr().String()+"/nope")
	if !errors.Is(err, ErrServiceFault) || !strings.Contains(err.Error(), "no such endpoint") {
		t.Errorf("err = %v, want ErrServiceFault with the reason", err)
	}
}

func TestOPCUAEndpointsUnreachableAndCancel(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	if _, err := OPCUAEndpoints(context.Background(), "opc.tcp://"+addr); err == nil || !strings.Contains(err.Error(), "connect to "+addr) {
		t.Errorf("unreachable: err = %v, want a connect error", err)
	}
	if _, err := OPCUAEndpoints(context.Background(), "http://"+addr); !errors.Is(err, ErrTarget) {
		t.Errorf("bad scheme: err = %v, want ErrTarget", err)
	}

	// A server that accepts and never answers: cancelling must end the probe.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := OPCUAEndpoints(ctx, "opc.tcp://"+l.Addr().String())
		done <- err
	}()
	c := <-accepted
	defer c.Close()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestUADecoderGopcuaEncoded decodes a GetEndpointsResponse encoded by
// gopcua with every optional part present (nested diagnostics, a string
// table, locales, discovery URLs, a certificate chain).
func TestUADecoderGopcuaEncoded(t *testing.T) {
	t.Parallel()
	_, der := selfSigned(t, "urn:x", time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC))
	hdr := responseHeader()
	hdr.ServiceDiagnostics = &ua.DiagnosticInfo{
		EncodingMask: 0x7F, SymbolicID: 1, NamespaceURI: 2, Locale: 3, LocalizedText: 4, AdditionalInfo: "more",
		InnerStatusCode: ua.StatusBad,
		InnerDiagnosticInfo: &ua.DiagnosticInfo{EncodingMask: 0x50, AdditionalInfo: "inner",
			InnerDiagnosticInfo: &ua.DiagnosticInfo{EncodingMask: 0x01, SymbolicID: 5}},
	}
	hdr.StringTable = []string{"a", "b"}
	resp := &ua.GetEndpointsResponse{
		ResponseHeader: hdr,
		Endpoints: []*ua.EndpointDescription{{
			EndpointURL: "opc.tcp://plc:4840/ua",
			Server: &ua.ApplicationDescription{
				ApplicationURI: "urn:plc", ProductURI: "urn:vendor:plc",
				ApplicationName: &ua.LocalizedText{EncodingMask: ua.LocalizedTextLocale | ua.LocalizedTextText, Locale: "en", Text: "PLC 9"},
				DiscoveryURLs:   []string{"opc.tcp://plc:4840", "opc.tcp://plc:4841"},
			},
			ServerCertificate: append(append([]byte(nil), der...), der...),
			SecurityMode:      ua.MessageSecurityModeSign,
			SecurityPolicyURI: ua.SecurityPolicyURIBasic256,
			UserIdentityTokens: []*ua.UserTokenPolicy{
				{PolicyID: "u", TokenType: ua.UserTokenTypeUserName, SecurityPolicyURI: ua.SecurityPolicyURIBasic256},
				{PolicyID: "c", TokenType: ua.UserTokenTypeCertificate},
			},
			SecurityLevel: 3,
		}},
	}
	body, err := ua.Encode(resp)
	if err != nil {
		t.Fatal(err)
	}
	d := &uaDecoder{b: append(appendNodeID(nil, id.GetEndpointsResponse_Encoding_DefaultBinary), body...)}
	if err := d.serviceResponse(id.GetEndpointsResponse_Encoding_DefaultBinary); err != nil {
		t.Fatal(err)
	}
	got, err := d.endpoints()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(der)
	want := []Endpoint{{
		URL: "opc.tcp://plc:4840/ua", SecurityPolicyURI: ua.SecurityPolicyURIBasic256, SecurityMode: "Sign", SecurityLevel: 3,
		UserTokenTypes: []string{"UserName", "Certificate"},
		UserTokens: []UserToken{
			{PolicyID: "u", Type: "UserName", SecurityPolicyURI: ua.SecurityPolicyURIBasic256},
			{PolicyID: "c", Type: "Certificate"},
		},
		ServerApplicationURI: "urn:plc", ServerApplicationName: "PLC 9", ServerProductURI: "urn:vendor:plc",
		Certificate: &Certificate{
			Subject:   "CN=edgeward test server,O=edgeward",
			NotBefore: got[0].Certificate.NotBefore, NotAfter: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC),
			Thumbprint: hex.EncodeToString(sum[:]),
		},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(d.b) != 0 {
		t.Errorf("%d bytes left undecoded", len(d.b))
	}
}

// FuzzUADecoder asserts that no response body panics the decoder and that
// what it accepts fits in what it read.
func FuzzUADecoder(f *testing.F) {
	hdr, _ := ua.Encode(responseHeader())
	seed := append(appendNodeID(nil, id.GetEndpointsResponse_Encoding_DefaultBinary), hdr...)
	f.Add(append(append([]byte(nil), seed...), 0, 0, 0, 0))
	f.Add(append(append([]byte(nil), seed...), 0xFF, 0xFF, 0xFF, 0x7F))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &uaDecoder{b: b}
		if d.serviceResponse(id.GetEndpointsResponse_Encoding_DefaultBinary) != nil {
			return
		}
		eps, err := d.endpoints()
		if err == nil && len(eps)*40 > len(b) {
			t.Fatalf("%d endpoints from %d bytes", len(eps), len(b))
		}
	})
}

// TestOPCUAFindings grades a server's endpoints: one finding per kind,
// naming every endpoint that has it, at the highest severity seen; a
// UserName token no policy encrypts is found on a None endpoint (token
// policy empty) and wherever its own policy is None.
func TestOPCUAFindings(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cert := func(notAfter time.Time) *Certificate { return &Certificate{Subject: "CN=s", NotAfter: notAfter} }
	anon := UserToken{PolicyID: "anon", Type: "Anonymous"}
	user := func(policy string) UserToken {
		return UserToken{PolicyID: "user-" + policy, Type: "UserName", SecurityPolicyURI: policy}
	}
	none, b256 := ua.SecurityPolicyURINone, ua.SecurityPolicyURIBasic256Sha256
	eps := []Endpoint{
		{URL: "u", SecurityPolicyURI: none, SecurityMode: "None", UserTokens: []UserToken{anon, user("")}},
		{URL: "v", SecurityPolicyURI: none, SecurityMode: "None", UserTokens: []UserToken{anon, user(b256)}},
		{URL: "u", SecurityPolicyURI: ua.SecurityPolicyURIBasic128Rsa15, SecurityMode: "Sign", Certificate: cert(now.Add(-time.Hour)), UserTokens: []UserToken{user(none)}},
		{URL: "u", SecurityPolicyURI: ua.SecurityPolicyURIBasic256, SecurityMode: "SignAndEncrypt", Certificate: cert(now.Add(10 * 24 * time.Hour))},
		{URL: "u", SecurityPolicyURI: b256, SecurityMode: "SignAndEncrypt", UserTokens: []UserToken{anon, user(none), user("")}, Certificate: cert(now.Add(90 * 24 * time.Hour))},
		{URL: "u", SecurityPolicyURI: b256, SecurityMode: "Sign", Certificate: &Certificate{Error: "bad", Thumbprint: "00"}},
	}
	var got []string
	for _, f := range OPCUAFindings("opc.tcp://t", eps, now) {
		got = append(got, f.Kind+" "+string(f.Severity)+" ["+f.Subject+"]")
	}
	want := []string{
		"opcua.security_none high [u None None; v None None]",
		"opcua.anonymous_token medium [u None None; v None None; u Basic256Sha256 SignAndEncrypt]",
		"opcua.username_unencrypted high [u None None; u Basic128Rsa15 Sign; u Basic256Sha256 SignAndEncrypt]",
		"opcua.deprecated_policy medium [u Basic128Rsa15 Sign; u Basic256 SignAndEncrypt]",
		"opcua.certificate_expired high [u Basic128Rsa15 Sign]",
		"opcua.certificate_expiring low [u Basic256 SignAndEncrypt]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// Only a SignAndEncrypt channel protects the password: medium.
	fs := OPCUAFindings("opc.tcp://t", eps[4:5], now)
	if i := slices.IndexFunc(fs, func(f Finding) bool { return f.Kind == KindOPCUAUserNameNoCrypto }); i < 0 || fs[i].Severity != collectors.SeverityMedium {
		t.Errorf("findings %+v: want %s at medium", fs, KindOPCUAUserNameNoCrypto)
	}
	// Many endpoints: the subject names the first ones and counts the rest.
	var many []Endpoint
	for i := range maxSubjects + 3 {
		many = append(many, Endpoint{URL: fmt.Sprintf("opc.tcp://h:%d", 4840+i), SecurityPolicyURI: none, SecurityMode: "None"})
	}
	fs = OPCUAFindings("opc.tcp://t", many, now)
	if len(fs) != 1 || !strings.HasSuffix(fs[0].Subject, "; and 3 more") || !strings.Contains(fs[0].Detail, "(11 of 11 endpoints)") {
		t.Errorf("findings %+v: want one, naming 8 endpoints and 3 more", fs)
	}
}

// readResponse encodes a ReadResponse body (type id, header, results) as a
// server sends it.
func readResponse(t testing.TB, results ...*ua.DataValue) []byte {
	t.Helper()
	body, err := ua.Encode(&ua.ReadResponse{ResponseHeader: responseHeader(), Results: results})
	if err != nil {
		t.Fatal(err)
	}
	return append(appendNodeID(nil, id.ReadResponse_Encoding_DefaultBinary), body...)
}

// TestUADecoderBuildInfo decodes the BuildInfo read of gopcua-encoded
// responses: strings and localized text, a bad status (left empty), a date,
// and a value of an unexpected type (decoding stops, what was read stays).
func TestUADecoderBuildInfo(t *testing.T) {
	t.Parallel()
	date := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	str := func(s string) *ua.DataValue {
		return &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(s)}
	}
	bad := &ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueStatusCode, Value: ua.MustVariant("ignored"), Status: ua.StatusBadNodeIDUnknown}
	lt := &ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueServerTimestamp, ServerTimestamp: date,
		Value: ua.MustVariant(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText | ua.LocalizedTextLocale, Locale: "en", Text: "Acme UA"})}
	when := &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(date)}
	d := &uaDecoder{b: readResponse(t, str("urn:acme"), str("Acme"), lt, str("V4.5 SP1"), bad, when)}
	if err := d.serviceResponse(id.ReadResponse_Encoding_DefaultBinary); err != nil {
		t.Fatal(err)
	}
	got, err := d.buildInfo()
	if err != nil {
		t.Fatal(err)
	}
	want := &BuildInfo{ProductURI: "urn:acme", ManufacturerName: "Acme", ProductName: "Acme UA", SoftwareVersion: "V4.5 SP1", BuildDate: date}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("build info (-want +got):\n%s", diff)
	}
	d = &uaDecoder{b: readResponse(t, str("urn:acme"), &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(uint32(7))},
		str("x"), str("x"), str("x"), str("x"))}
	d.serviceResponse(id.ReadResponse_Encoding_DefaultBinary)
	if got, err := d.buildInfo(); err != nil || got.ProductURI != "urn:acme" || got.ManufacturerName != "" || got.ProductName != "" {
		t.Errorf("unexpected type: %+v, %v; want the product URI only", got, err)
	}
	d = &uaDecoder{b: readResponse(t, str("only one"))}
	d.serviceResponse(id.ReadResponse_Encoding_DefaultBinary)
	if _, err := d.buildInfo(); !errors.Is(err, ErrMalformed) {
		t.Errorf("one result for six variables: %v, want ErrMalformed", err)
	}
}

// FuzzUASession asserts that no CreateSession or Read response panics the
// decoder.
func FuzzUASession(f *testing.F) {
	f.Add(readResponse(f, &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant("x")}))
	hdr, _ := ua.Encode(responseHeader())
	f.Add(append(append(appendNodeID(nil, id.CreateSessionResponse_Encoding_DefaultBinary), hdr...), 0x02, 0x01, 0x00, 0x07, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &uaDecoder{b: b}
		if d.serviceResponse(id.ReadResponse_Encoding_DefaultBinary) == nil {
			d.buildInfo()
		}
		d = &uaDecoder{b: b}
		if d.serviceResponse(id.CreateSessionResponse_Encoding_DefaultBinary) == nil {
			d.nodeID(false)
			if tok := d.rawNodeID(); len(tok) > len(b) {
				t.Fatalf("token of %d bytes from %d", len(tok), len(b))
			}
		}
	})
}
