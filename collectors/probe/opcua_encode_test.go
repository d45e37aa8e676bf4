package probe

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
)

// TestUAEncodeMatchesGopcua checks every message the probe encodes itself
// byte for byte against gopcua's reflection codec (ua.Encode, uacp), the
// encoder the probe used before, with the same field values.
func TestUAEncodeMatchesGopcua(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 30, 45, 123456700, time.UTC)
	auth := []byte{0x02, 0x01, 0x00, 0x40, 0xE2, 0x01, 0x00} // numeric NodeId ns=1;i=123456
	gHeader := func(handle uint32) *ua.RequestHeader {
		return &ua.RequestHeader{
			AuthenticationToken: ua.NewTwoByteNodeID(0), Timestamp: now, RequestHandle: handle,
			TimeoutHint: 5000, AdditionalHeader: ua.NewExtensionObject(nil),
		}
	}
	header := func(auth []byte, handle uint32) []byte { return appendRequestHeader(nil, auth, handle, 5000, now) }
	// withAuth replaces gopcua's null token (the first two bytes) by auth.
	withAuth := func(enc []byte) []byte { return append(append([]byte(nil), auth...), enc[2:]...) }
	encode := func(v any) []byte {
		t.Helper()
		b, err := ua.Encode(v)
		if err != nil {
			t.Fatalf("ua.Encode(%T): %v", v, err)
		}
		return b
	}
	url := "opc.tcp://10.0.0.5:4840/UA/Server"
	nonce := bytes.Repeat([]byte{0xA5}, 32)
	read := &ua.ReadRequest{RequestHeader: gHeader(5), TimestampsToReturn: ua.TimestampsToReturnNeither}
	nodes := append([]uint32{7, 255, 256, 65535, 65536, 1 << 31}, buildInfoNodes...)
	for _, n := range nodes {
		read.NodesToRead = append(read.NodesToRead, &ua.ReadValueID{
			NodeID: ua.NewNumericNodeID(0, n), AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{},
		})
	}
	hello, err := (&uacp.Hello{ReceiveBufSize: uaMaxChunkSize, SendBufSize: uaMaxChunkSize, MaxMessageSize: MaxOPCUAResponseBytes, EndpointURL: url}).Encode()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		got, want []byte
	}{
		{"Hello", uaHello(url), hello},
		{"OpenSecureChannelRequest", uaOpenSecureChannel(header(nil, 1)), encode(&ua.OpenSecureChannelRequest{
			RequestHeader: gHeader(1), RequestType: ua.SecurityTokenRequestTypeIssue,
			SecurityMode: ua.MessageSecurityModeNone, RequestedLifetime: 60000,
		})},
		{"GetEndpointsRequest", uaGetEndpoints(header(nil, 2), url), encode(&ua.GetEndpointsRequest{RequestHeader: gHeader(2), EndpointURL: url})},
		{"CreateSessionRequest", uaCreateSession(header(nil, 3), url, nonce), encode(&ua.CreateSessionRequest{
			RequestHeader: gHeader(3),
			ClientDescription: &ua.ApplicationDescription{
				ApplicationURI: "urn:edgeward:probe", ProductURI: "urn:edgeward",
				ApplicationName: &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: "edgeward probe"},
				ApplicationType: ua.ApplicationTypeClient,
			},
			EndpointURL: url, SessionName: "edgeward identification", ClientNonce: nonce,
			RequestedSessionTimeout: 10000, MaxResponseMessageSize: MaxOPCUAResponseBytes,
		})},
		{"ActivateSessionRequest", uaActivateSession(header(auth, 4), "anonymous_none"), withAuth(encode(&ua.ActivateSessionRequest{
			RequestHeader: gHeader(4), ClientSignature: &ua.SignatureData{},
			UserIdentityToken:  ua.NewExtensionObject(&ua.AnonymousIdentityToken{PolicyID: "anonymous_none"}),
			UserTokenSignature: &ua.SignatureData{},
		}))},
		{"ReadRequest", uaRead(header(auth, 5), nodes), withAuth(encode(read))},
		{"CloseSessionRequest", uaCloseSession(header(auth, 6)), withAuth(encode(&ua.CloseSessionRequest{RequestHeader: gHeader(6), DeleteSubscriptions: true}))},
		{"CloseSecureChannelRequest", header(nil, 7), encode(&ua.CloseSecureChannelRequest{RequestHeader: gHeader(7)})},
		{"type NodeId", appendNodeID(nil, id.ReadRequest_Encoding_DefaultBinary), encode(ua.NewFourByteNodeID(0, id.ReadRequest_Encoding_DefaultBinary))},
	}
	for _, tc := range tests {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.name, tc.got, tc.want)
		}
	}
}

// TestUAStatusAndEnumNames checks the probe's status code and enumeration
// names against gopcua's tables.
func TestUAStatusAndEnumNames(t *testing.T) {
	t.Parallel()
	for code, name := range statusNames {
		// gopcua spells the specification's names Go style:
		// StatusBadTCPEndpointURLInvalid for BadTcpEndpointUrlInvalid.
		d, ok := ua.StatusCodes[ua.StatusCode(code)]
		if !ok || !strings.EqualFold(d.Name, "Status"+name) {
			t.Errorf("status 0x%08X: probe says %q, gopcua %q", uint32(code), name, d.Name)
		}
	}
	if got := statusCode(0x800B0000).String(); got != "BadServiceUnsupported (0x800B0000)" {
		t.Errorf("statusCode.String = %q", got)
	}
	if got := statusCode(0x80FF0000).String(); got != "0x80FF0000" {
		t.Errorf("unknown statusCode.String = %q", got)
	}
	for v := uint32(0); v < 6; v++ {
		if got, want := enumName(messageSecurityModes, v), ua.MessageSecurityMode(v).String()[len("MessageSecurityMode"):]; got != want {
			t.Errorf("MessageSecurityMode %d: %q, gopcua %q", v, got, want)
		}
		if got, want := enumName(userTokenTypes, v), ua.UserTokenType(v).String()[len("UserTokenType"):]; got != want {
			t.Errorf("UserTokenType %d: %q, gopcua %q", v, got, want)
		}
	}
	for _, c := range []struct{ got, want string }{
		{securityPolicyNone, ua.SecurityPolicyURINone},
		{securityPolicyBasic128Rsa15, ua.SecurityPolicyURIBasic128Rsa15},
		{securityPolicyBasic256, ua.SecurityPolicyURIBasic256},
	} {
		if c.got != c.want {
			t.Errorf("policy URI %q, gopcua %q", c.got, c.want)
		}
	}
}
