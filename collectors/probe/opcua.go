package probe

import (
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
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

	ServerApplicationURI  string `json:"server_application_uri,omitempty"`
	ServerApplicationName string `json:"server_application_name,omitempty"`
	ServerProductURI      string `json:"server_product_uri,omitempty"`

	// Certificate describes the server's application instance certificate,
	// nil when the endpoint carries none.
	Certificate *Certificate `json:"certificate,omitempty"`
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
	eps, err := c.getEndpoints(ctx, url)
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("get endpoints from %s: %w", url, err))
	}
	return eps, nil
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
}

func (c *uaConn) getEndpoints(ctx context.Context, url string) ([]Endpoint, error) {
	left := DefaultTimeout
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	timeoutHint := uint32(min(max(left, 0), time.Hour) / time.Millisecond)
	hello, err := (&uacp.Hello{
		ReceiveBufSize: uaMaxChunkSize,
		SendBufSize:    uaMaxChunkSize,
		MaxMessageSize: MaxOPCUAResponseBytes,
		EndpointURL:    url,
	}).Encode()
	if err != nil {
		return nil, fmt.Errorf("encode hello: %w", err)
	}
	if err := c.send("HEL", 'F', hello); err != nil {
		return nil, err
	}
	if _, err := c.receive("ACK"); err != nil {
		return nil, err
	}

	if err := c.openChannel(timeoutHint); err != nil {
		return nil, err
	}
	body, err := c.request(id.GetEndpointsRequest_Encoding_DefaultBinary, &ua.GetEndpointsRequest{
		RequestHeader: requestHeader(2, timeoutHint),
		EndpointURL:   url,
	})
	if err != nil {
		return nil, err
	}
	// A polite close; the server sends no response to it, and a failure
	// changes nothing for the caller.
	c.closeChannel(timeoutHint)

	d := &uaDecoder{b: body}
	if err := d.serviceResponse(id.GetEndpointsResponse_Encoding_DefaultBinary); err != nil {
		return nil, err
	}
	return d.endpoints()
}

func requestHeader(handle, timeoutHint uint32) *ua.RequestHeader {
	return &ua.RequestHeader{
		AuthenticationToken: ua.NewTwoByteNodeID(0),
		Timestamp:           time.Now(),
		RequestHandle:       handle,
		TimeoutHint:         timeoutHint,
		AdditionalHeader:    ua.NewExtensionObject(nil),
	}
}

// openChannel opens a secure channel with SecurityPolicy None and keeps its
// channel and token ids.
func (c *uaConn) openChannel(timeoutHint uint32) error {
	req, err := ua.Encode(&ua.OpenSecureChannelRequest{
		RequestHeader:     requestHeader(1, timeoutHint),
		RequestType:       ua.SecurityTokenRequestTypeIssue,
		SecurityMode:      ua.MessageSecurityModeNone,
		RequestedLifetime: 60000,
	})
	if err != nil {
		return fmt.Errorf("encode open secure channel request: %w", err)
	}
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0) // secure channel id
	b = appendUAString(b, ua.SecurityPolicyURINone)
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
	if d.err == nil && policy != ua.SecurityPolicyURINone {
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

// request sends one service request in a MSG and returns the body of its
// response (from the type NodeId on), reassembled from its chunks.
func (c *uaConn) request(typeID uint16, req any) ([]byte, error) {
	enc, err := ua.Encode(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
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
	enc, err := ua.Encode(&ua.CloseSecureChannelRequest{RequestHeader: requestHeader(3, timeoutHint)})
	if err != nil {
		return
	}
	c.send("CLO", 'F', c.symmetric(id.CloseSecureChannelRequest_Encoding_DefaultBinary, enc))
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
		code := ua.StatusCode(d.u32())
		reason := d.str()
		return nil, 0, fmt.Errorf("%w: %v %q", ErrServiceFault, code, reason)
	}
	if typ != want {
		return nil, 0, fmt.Errorf("%w: got %q message, want %s", ErrMalformed, typ, want)
	}
	return b, h[3], nil
}

func appendUAString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendNodeID appends a four-byte NodeId in namespace 0.
func appendNodeID(b []byte, v uint16) []byte {
	return binary.LittleEndian.AppendUint16(append(b, 0x01, 0x00), v)
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

// shortEnum trims gopcua's type-name prefix from an enum's String, e.g.
// "MessageSecurityModeNone" → "None".
func shortEnum(s, prefix string) string {
	return strings.TrimPrefix(s, prefix)
}
