package probe

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/gopcua/opcua/id"
)

// MaxOPCUAResponseBytes caps the bytes one OPC UA probe reads from a server,
// all messages together. A GetEndpoints response with a dozen endpoints and
// their certificates is tens of kilobytes.
const MaxOPCUAResponseBytes = 4 << 20

const (
	uaHeaderLen    = 8       // message type (3), chunk type (1), size (4)
	uaMaxChunkSize = 1 << 16 // the receive buffer size we announce in HEL
)

// Endpoint is one endpoint a server offers in its GetEndpoints response.
// Strings are untrusted server data.
type Endpoint struct {
	// URL is the endpoint URL the server advertises.
	URL string `json:"url"`
	// SecurityPolicyURI is the full policy URI, e.g.
	// "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256".
	SecurityPolicyURI string `json:"security_policy_uri"`
	// SecurityMode is "None", "Sign", "SignAndEncrypt" or "Invalid".
	SecurityMode string `json:"security_mode"`
	// SecurityLevel is the server's relative rating of the endpoint.
	SecurityLevel byte `json:"security_level"`
	// UserTokenTypes lists the identity tokens the endpoint accepts:
	// "Anonymous", "UserName", "Certificate", "IssuedToken".
	UserTokenTypes []string `json:"user_token_types"`
	// UserTokens are the endpoint's user token policies, in the same
	// order, with the security policy that protects each token.
	UserTokens []UserToken `json:"user_tokens,omitempty"`

	ServerApplicationURI  string `json:"server_application_uri,omitempty"`
	ServerApplicationName string `json:"server_application_name,omitempty"`
	ServerProductURI      string `json:"server_product_uri,omitempty"`

	// Certificate describes the server's application instance certificate,
	// nil when the endpoint carries none.
	Certificate *Certificate `json:"certificate,omitempty"`
}

// UserToken is one user token policy of an endpoint.
type UserToken struct {
	// PolicyID names the policy; a client quotes it in its identity token.
	PolicyID string `json:"policy_id,omitempty"`
	// Type is "Anonymous", "UserName", "Certificate" or "IssuedToken".
	Type string `json:"type"`
	// SecurityPolicyURI is the policy that encrypts the token (a
	// password); empty means the endpoint's own policy.
	SecurityPolicyURI string `json:"security_policy_uri,omitempty"`
}

// EffectivePolicy returns the security policy that protects the token on
// endpoint e: its own, else the endpoint's.
func (t UserToken) EffectivePolicy(e Endpoint) string {
	if t.SecurityPolicyURI != "" {
		return t.SecurityPolicyURI
	}
	return e.SecurityPolicyURI
}

// BuildInfo is what an OPC UA server says of its software: the children of
// Server.ServerStatus.BuildInfo (i=2260). Strings are untrusted.
type BuildInfo struct {
	ProductURI       string    `json:"product_uri,omitempty"`
	ManufacturerName string    `json:"manufacturer_name,omitempty"`
	ProductName      string    `json:"product_name,omitempty"`
	SoftwareVersion  string    `json:"software_version,omitempty"`
	BuildNumber      string    `json:"build_number,omitempty"`
	BuildDate        time.Time `json:"build_date,omitzero"`
}

// OPCUAResult is what OPCUAIdentify learnt of a server.
type OPCUAResult struct {
	Endpoints []Endpoint `json:"endpoints"`
	// BuildInfo is read with an anonymous session over SecurityPolicy None,
	// nil when the server offers no such endpoint or refused; BuildInfoError
	// then says why, empty when no such endpoint was offered.
	BuildInfo      *BuildInfo `json:"build_info,omitempty"`
	BuildInfoError string     `json:"build_info_error,omitempty"`
}

// Certificate is what a probe reports of an X.509 certificate.
type Certificate struct {
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Thumbprint is the hex SHA-1 of the DER bytes, as OPC UA uses it.
	Thumbprint string `json:"thumbprint"`
	// Error is set when the bytes do not parse as a certificate; the other
	// fields but Thumbprint are then zero.
	Error string `json:"error,omitempty"`
}

// OPCUAEndpoints asks the OPC UA server at url (opc.tcp://host[:port][/path])
// for its endpoints with one GetEndpoints request over a secure channel with
// SecurityPolicy None, then closes the channel. ctx bounds the whole exchange
// (DefaultTimeout when it has no deadline). The error wraps ErrTarget for a
// bad url, ErrServiceFault when the server refuses, ErrTooLarge or
// ErrMalformed for a hostile or broken response, or the network error.
func OPCUAEndpoints(ctx context.Context, url string) ([]Endpoint, error) {
	r, err := opcuaIdentify(ctx, url, false)
	if err != nil {
		return nil, err
	}
	return r.Endpoints, nil
}

// OPCUAIdentify asks the OPC UA server at url for its endpoints as
// OPCUAEndpoints does and then, when one endpoint offers SecurityPolicy None
// with mode None and an Anonymous token, reads its BuildInfo on the same
// secure channel: CreateSession, ActivateSession with that anonymous token,
// one Read of the six BuildInfo variables (Value attribute), CloseSession.
// It sends nothing else: no write, call, browse or subscription. A failure
// of the session part keeps the endpoints (BuildInfoError says why); other
// errors are OPCUAEndpoints'.
func OPCUAIdentify(ctx context.Context, url string) (*OPCUAResult, error) {
	return opcuaIdentify(ctx, url, true)
}

func opcuaIdentify(ctx context.Context, url string, buildInfo bool) (*OPCUAResult, error) {
	addr, err := parseOPCUATarget(url)
	if err != nil {
		return nil, err
	}
	conn, stop, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer stop()
	c := &uaConn{w: conn, r: &cappedReader{r: conn, left: MaxOPCUAResponseBytes}}
	r, err := c.identify(ctx, url, buildInfo)
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("get endpoints from %s: %w", url, err))
	}
	return r, nil
}

// cappedReader fails with ErrTooLarge once left bytes have been read.
type cappedReader struct {
	r    io.Reader
	left int
}

func (c *cappedReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxOPCUAResponseBytes)
	}
	if len(b) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= n
	return n, err
}

// uaConn is one OPC UA Binary connection with SecurityPolicy None.
type uaConn struct {
	w       io.Writer
	r       io.Reader
	channel uint32
	token   uint32
	seq     uint32
	handle  uint32 // the last request handle
}

func (c *uaConn) identify(ctx context.Context, url string, buildInfo bool) (*OPCUAResult, error) {
	left := DefaultTimeout
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	timeoutHint := uint32(min(max(left, 0), time.Hour) / time.Millisecond)
	if err := c.send("HEL", 'F', uaHello(url)); err != nil {
		return nil, err
	}
	if _, err := c.receive("ACK"); err != nil {
		return nil, err
	}

	if err := c.openChannel(timeoutHint); err != nil {
		return nil, err
	}
	body, err := c.request(id.GetEndpointsRequest_Encoding_DefaultBinary, uaGetEndpoints(c.requestHeader(nil, timeoutHint), url))
	if err != nil {
		return nil, err
	}
	d := &uaDecoder{b: body}
	if err := d.serviceResponse(id.GetEndpointsResponse_Encoding_DefaultBinary); err != nil {
		return nil, err
	}
	eps, err := d.endpoints()
	if err != nil {
		return nil, err
	}
	res := &OPCUAResult{Endpoints: eps}
	if policyID, ok := anonymousNone(eps); ok && buildInfo {
		res.BuildInfo, err = c.readBuildInfo(url, policyID, timeoutHint)
		if err != nil {
			res.BuildInfoError = err.Error()
		}
	}
	// A polite close; the server sends no response to it, and a failure
	// changes nothing for the caller.
	c.closeChannel(timeoutHint)
	return res, nil
}

// anonymousNone returns the policy id of an Anonymous token on an endpoint
// with SecurityPolicy None and mode None.
func anonymousNone(eps []Endpoint) (string, bool) {
	for _, e := range eps {
		if e.SecurityPolicyURI != securityPolicyNone || e.SecurityMode != "None" {
			continue
		}
		for _, t := range e.UserTokens {
			if t.Type == "Anonymous" {
				return t.PolicyID, true
			}
		}
	}
	return "", false
}

// buildInfoNodes are the variables OPCUAIdentify reads, in BuildInfo's
// field order.
var buildInfoNodes = []uint32{
	id.Server_ServerStatus_BuildInfo_ProductURI,
	id.Server_ServerStatus_BuildInfo_ManufacturerName,
	id.Server_ServerStatus_BuildInfo_ProductName,
	id.Server_ServerStatus_BuildInfo_SoftwareVersion,
	id.Server_ServerStatus_BuildInfo_BuildNumber,
	id.Server_ServerStatus_BuildInfo_BuildDate,
}

// readBuildInfo opens an anonymous session (token policy policyID), reads
// the BuildInfo variables and closes the session.
func (c *uaConn) readBuildInfo(url, policyID string, timeoutHint uint32) (*BuildInfo, error) {
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("client nonce: %w", err)
	}
	body, err := c.request(id.CreateSessionRequest_Encoding_DefaultBinary, uaCreateSession(c.requestHeader(nil, timeoutHint), url, nonce))
	if err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	d := &uaDecoder{b: body}
	if err := d.serviceResponse(id.CreateSessionResponse_Encoding_DefaultBinary); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	d.nodeID(false) // session id
	auth := d.rawNodeID()
	if d.err != nil {
		return nil, fmt.Errorf("create session: %w", d.err)
	}

	body, err = c.request(id.ActivateSessionRequest_Encoding_DefaultBinary, uaActivateSession(c.requestHeader(auth, timeoutHint), policyID))
	if err != nil {
		return nil, fmt.Errorf("activate session: %w", err)
	}
	d = &uaDecoder{b: body}
	if err := d.serviceResponse(id.ActivateSessionResponse_Encoding_DefaultBinary); err != nil {
		return nil, fmt.Errorf("activate session: %w", err)
	}

	body, err = c.request(id.ReadRequest_Encoding_DefaultBinary, uaRead(c.requestHeader(auth, timeoutHint), buildInfoNodes))
	var info *BuildInfo
	if err == nil {
		d = &uaDecoder{b: body}
		if err = d.serviceResponse(id.ReadResponse_Encoding_DefaultBinary); err == nil {
			info, err = d.buildInfo()
		}
	}
	// Close the session whatever the read gave; its answer changes nothing.
	if body, cerr := c.request(id.CloseSessionRequest_Encoding_DefaultBinary, uaCloseSession(c.requestHeader(auth, timeoutHint))); cerr == nil {
		(&uaDecoder{b: body}).serviceResponse(id.CloseSessionResponse_Encoding_DefaultBinary)
	}
	if err != nil {
		return nil, fmt.Errorf("read build info: %w", err)
	}
	return info, nil
}

// requestHeader returns the encoded header of the connection's next
// request; auth is the session's authentication token, nil for none.
func (c *uaConn) requestHeader(auth []byte, timeoutHint uint32) []byte {
	c.handle++
	return appendRequestHeader(nil, auth, c.handle, timeoutHint, time.Now())
}

// openChannel opens a secure channel with SecurityPolicy None and keeps its
// channel and token ids.
func (c *uaConn) openChannel(timeoutHint uint32) error {
	req := uaOpenSecureChannel(c.requestHeader(nil, timeoutHint))
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0) // secure channel id
	b = appendUAString(b, securityPolicyNone)
	b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFFF) // sender certificate: null
	b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFFF) // receiver thumbprint: null
	c.seq++
	b = binary.LittleEndian.AppendUint32(b, c.seq) // sequence number
	b = binary.LittleEndian.AppendUint32(b, 1)     // request id
	b = appendNodeID(b, id.OpenSecureChannelRequest_Encoding_DefaultBinary)
	b = append(b, req...)
	if err := c.send("OPN", 'F', b); err != nil {
		return err
	}
	resp, err := c.receive("OPN")
	if err != nil {
		return err
	}
	d := &uaDecoder{b: resp}
	channel := d.u32()
	policy := d.str()
	d.bytes() // sender certificate
	d.bytes() // receiver thumbprint
	d.skip(8) // sequence header
	if d.err == nil && policy != securityPolicyNone {
		return fmt.Errorf("%w: secure channel opened with policy %q", ErrMalformed, policy)
	}
	if err := d.serviceResponse(id.OpenSecureChannelResponse_Encoding_DefaultBinary); err != nil {
		return err
	}
	d.u32() // server protocol version
	d.u32() // security token: channel id
	c.token = d.u32()
	if d.err != nil {
		return fmt.Errorf("decode open secure channel response: %w", d.err)
	}
	c.channel = channel
	return nil
}

// request sends one encoded service request of type typeID in a MSG and
// returns the body of its response (from the type NodeId on), reassembled
// from its chunks.
func (c *uaConn) request(typeID uint16, enc []byte) ([]byte, error) {
	if err := c.send("MSG", 'F', c.symmetric(typeID, enc)); err != nil {
		return nil, err
	}
	var body []byte
	for {
		chunk, typ, err := c.receiveChunk("MSG")
		if err != nil {
			return nil, err
		}
		if len(chunk) < 16 {
			return nil, fmt.Errorf("%w: MSG chunk of %d bytes", ErrMalformed, len(chunk)+uaHeaderLen)
		}
		// channel id, token id, sequence number, request id
		body = append(body, chunk[16:]...)
		switch typ {
		case 'F':
			return body, nil
		case 'C':
			continue
		case 'A':
			return nil, fmt.Errorf("%w: server aborted the response", ErrServiceFault)
		default:
			return nil, fmt.Errorf("%w: chunk type %q", ErrMalformed, typ)
		}
	}
}

func (c *uaConn) closeChannel(timeoutHint uint32) {
	// A CloseSecureChannelRequest is a request header only.
	c.send("CLO", 'F', c.symmetric(id.CloseSecureChannelRequest_Encoding_DefaultBinary, c.requestHeader(nil, timeoutHint)))
}

// symmetric prefixes a service body with the symmetric security header, the
// sequence header and the type NodeId.
func (c *uaConn) symmetric(typeID uint16, enc []byte) []byte {
	c.seq++
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, c.channel)
	b = binary.LittleEndian.AppendUint32(b, c.token)
	b = binary.LittleEndian.AppendUint32(b, c.seq)
	b = binary.LittleEndian.AppendUint32(b, c.seq) // request id
	b = appendNodeID(b, typeID)
	return append(b, enc...)
}

func (c *uaConn) send(typ string, chunk byte, body []byte) error {
	b := make([]byte, 0, uaHeaderLen+len(body))
	b = append(b, typ...)
	b = append(b, chunk)
	b = binary.LittleEndian.AppendUint32(b, uint32(uaHeaderLen+len(body)))
	b = append(b, body...)
	if _, err := c.w.Write(b); err != nil {
		return fmt.Errorf("send %s: %w", typ, err)
	}
	return nil
}

// receive reads one final chunk of type want.
func (c *uaConn) receive(want string) ([]byte, error) {
	b, typ, err := c.receiveChunk(want)
	if err != nil {
		return nil, err
	}
	if typ != 'F' {
		return nil, fmt.Errorf("%w: %s chunk type %q", ErrMalformed, want, typ)
	}
	return b, nil
}

// receiveChunk reads one message chunk of type want and returns its body
// (after the 8-byte header) and chunk type. An ERR message becomes an
// ErrServiceFault error.
func (c *uaConn) receiveChunk(want string) ([]byte, byte, error) {
	var h [uaHeaderLen]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", want, err)
	}
	typ, size := string(h[:3]), binary.LittleEndian.Uint32(h[4:])
	if size < uaHeaderLen || size > uaMaxChunkSize {
		return nil, 0, fmt.Errorf("%w: %q message of %d bytes", ErrMalformed, typ, size)
	}
	b := make([]byte, size-uaHeaderLen)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", want, err)
	}
	if typ == "ERR" {
		d := &uaDecoder{b: b}
		code := statusCode(d.u32())
		reason := d.str()
		return nil, 0, fmt.Errorf("%w: %v %q", ErrServiceFault, code, reason)
	}
	if typ != want {
		return nil, 0, fmt.Errorf("%w: got %q message, want %s", ErrMalformed, typ, want)
	}
	return b, h[3], nil
}

// describeCertificate parses the DER bytes of a server certificate (the
// first of a chain when several are concatenated).
func describeCertificate(der []byte) *Certificate {
	if len(der) == 0 {
		return nil
	}
	certs, err := x509.ParseCertificates(der)
	if err != nil || len(certs) == 0 {
		sum := sha1.Sum(der)
		msg := "no certificate"
		if err != nil {
			msg = err.Error()
		}
		return &Certificate{Thumbprint: hex.EncodeToString(sum[:]), Error: msg}
	}
	x := certs[0]
	sum := sha1.Sum(x.Raw)
	return &Certificate{
		Subject:    x.Subject.String(),
		NotBefore:  x.NotBefore.UTC(),
		NotAfter:   x.NotAfter.UTC(),
		Thumbprint: hex.EncodeToString(sum[:]),
	}
}
