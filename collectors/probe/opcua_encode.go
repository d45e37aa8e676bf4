package probe

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/gopcua/opcua/id"
)

// The probe encodes its few OPC UA Binary messages itself (OPC 10000-6
// §5.2) rather than with gopcua's ua package, whose init registers every
// OPC UA type for its reflection codec and adds about 0.4 MB to the agent.
// TestUAEncodeMatchesGopcua checks each message byte for byte against
// ua.Encode.

// OPC UA security policy URIs (OPC 10000-7).
const (
	securityPolicyNone          = "http://opcfoundation.org/UA/SecurityPolicy#None"
	securityPolicyBasic128Rsa15 = "http://opcfoundation.org/UA/SecurityPolicy#Basic128Rsa15"
	securityPolicyBasic256      = "http://opcfoundation.org/UA/SecurityPolicy#Basic256"
)

// Enumeration values the probe sends or reads (OPC 10000-4 §7).
const (
	messageSecurityModeNone  = 1 // MessageSecurityMode None
	securityTokenIssue       = 0 // SecurityTokenRequestType Issue
	applicationTypeClient    = 1 // ApplicationType Client
	timestampsNeither        = 3 // TimestampsToReturn Neither
	attributeValue           = 13
	localizedTextHasText     = 0x02
	extensionObjectNoBody    = 0x00
	extensionObjectBinary    = 0x01
	requestedChannelLifetime = 60000 // ms
	requestedSessionTimeout  = 10000 // ms
)

var (
	messageSecurityModes = []string{"Invalid", "None", "Sign", "SignAndEncrypt"}
	userTokenTypes       = []string{"Anonymous", "UserName", "Certificate", "IssuedToken"}
)

// enumName returns names[v], or "(v)" for a value the probe does not know.
func enumName(names []string, v uint32) string {
	if v < uint32(len(names)) {
		return names[v]
	}
	return fmt.Sprintf("(%d)", v)
}

// statusCode is an OPC UA StatusCode; its String names the codes a server
// answers a probe with and shows any other in hex.
type statusCode uint32

var statusNames = map[statusCode]string{
	0x80000000: "Bad",
	0x80010000: "BadUnexpectedError",
	0x80020000: "BadInternalError",
	0x80030000: "BadOutOfMemory",
	0x80040000: "BadResourceUnavailable",
	0x80050000: "BadCommunicationError",
	0x80060000: "BadEncodingError",
	0x80070000: "BadDecodingError",
	0x80080000: "BadEncodingLimitsExceeded",
	0x800A0000: "BadTimeout",
	0x800B0000: "BadServiceUnsupported",
	0x800C0000: "BadShutdown",
	0x800D0000: "BadServerNotConnected",
	0x800E0000: "BadServerHalted",
	0x80100000: "BadTooManyOperations",
	0x80120000: "BadCertificateInvalid",
	0x80130000: "BadSecurityChecksFailed",
	0x801F0000: "BadUserAccessDenied",
	0x80200000: "BadIdentityTokenInvalid",
	0x80210000: "BadIdentityTokenRejected",
	0x80220000: "BadSecureChannelIdInvalid",
	0x80250000: "BadSessionIdInvalid",
	0x80260000: "BadSessionClosed",
	0x80270000: "BadSessionNotActivated",
	0x80340000: "BadNodeIdUnknown",
	0x803A0000: "BadNotReadable",
	0x80550000: "BadSecurityPolicyRejected",
	0x80560000: "BadTooManySessions",
	0x807E0000: "BadTcpMessageTypeInvalid",
	0x807F0000: "BadTcpSecureChannelUnknown",
	0x80800000: "BadTcpMessageTooLarge",
	0x80810000: "BadTcpNotEnoughResources",
	0x80820000: "BadTcpInternalError",
	0x80830000: "BadTcpEndpointUrlInvalid",
	0x80840000: "BadRequestInterrupted",
	0x80850000: "BadRequestTimeout",
	0x80860000: "BadSecureChannelClosed",
	0x80AB0000: "BadInvalidArgument",
	0x80B80000: "BadRequestTooLarge",
	0x80B90000: "BadResponseTooLarge",
}

func (c statusCode) String() string {
	if n, ok := statusNames[c]; ok {
		return fmt.Sprintf("%s (0x%08X)", n, uint32(c))
	}
	return fmt.Sprintf("0x%08X", uint32(c))
}

func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// appendUAString appends a String; "" is sent as null, as gopcua does.
func appendUAString(b []byte, s string) []byte {
	if s == "" {
		return appendU32(b, math.MaxUint32)
	}
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

// appendByteString appends a ByteString; nil is sent as null.
func appendByteString(b, v []byte) []byte {
	if v == nil {
		return appendU32(b, math.MaxUint32)
	}
	return append(appendU32(b, uint32(len(v))), v...)
}

// appendNull appends a null array, String or ByteString.
func appendNull(b []byte) []byte { return appendU32(b, math.MaxUint32) }

// appendNodeID appends a four-byte NodeId in namespace 0.
func appendNodeID(b []byte, v uint16) []byte {
	return binary.LittleEndian.AppendUint16(append(b, 0x01, 0x00), v)
}

// appendNumericNodeID appends a NodeId in namespace 0 in the numeric
// encoding.
func appendNumericNodeID(b []byte, v uint32) []byte {
	return appendU32(append(b, 0x02, 0x00, 0x00), v)
}

// appendDateTime appends t as 100 ns ticks since 1601-01-01 UTC.
func appendDateTime(b []byte, t time.Time) []byte {
	const epochDiff = 116444736000000000 // ticks from 1601 to 1970
	return binary.LittleEndian.AppendUint64(b, uint64(t.UnixNano()/100+epochDiff))
}

func appendDouble(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// appendRequestHeader appends a RequestHeader. auth is the encoded
// authentication token of the session, nil for none (a null NodeId).
func appendRequestHeader(b, auth []byte, handle, timeoutHint uint32, now time.Time) []byte {
	if auth == nil {
		auth = []byte{0x00, 0x00}
	}
	b = append(b, auth...)
	b = appendDateTime(b, now)
	b = appendU32(b, handle)
	b = appendU32(b, 0) // return diagnostics
	b = appendNull(b)   // audit entry id
	b = appendU32(b, timeoutHint)
	return append(b, 0x00, 0x00, extensionObjectNoBody) // additional header: none
}

// uaHello encodes a Hello message body (OPC 10000-6 §7.1.2.3).
func uaHello(url string) []byte {
	b := appendU32(nil, 0) // protocol version
	b = appendU32(b, uaMaxChunkSize)
	b = appendU32(b, uaMaxChunkSize)
	b = appendU32(b, MaxOPCUAResponseBytes)
	b = appendU32(b, 0) // max chunk count: no limit
	return appendUAString(b, url)
}

// The request encoders below append the body after hdr, an encoded
// request header (appendRequestHeader), and return the request.

// uaOpenSecureChannel encodes an OpenSecureChannelRequest that issues a
// token with SecurityMode None.
func uaOpenSecureChannel(hdr []byte) []byte {
	b := hdr
	b = appendU32(b, 0) // client protocol version
	b = appendU32(b, securityTokenIssue)
	b = appendU32(b, messageSecurityModeNone)
	b = appendNull(b) // client nonce
	return appendU32(b, requestedChannelLifetime)
}

// uaGetEndpoints encodes a GetEndpointsRequest for url, all locales and
// transport profiles.
func uaGetEndpoints(hdr []byte, url string) []byte {
	b := appendUAString(hdr, url)
	b = appendNull(b) // locale ids
	return appendNull(b)
}

// uaCreateSession encodes a CreateSessionRequest of the probe, without a
// client certificate.
func uaCreateSession(hdr []byte, url string, nonce []byte) []byte {
	b := hdr
	// ClientDescription (ApplicationDescription)
	b = appendUAString(b, "urn:edgeward:probe")
	b = appendUAString(b, "urn:edgeward")
	b = appendUAString(append(b, localizedTextHasText), "edgeward probe")
	b = appendU32(b, applicationTypeClient)
	b = appendNull(b) // gateway server URI
	b = appendNull(b) // discovery profile URI
	b = appendNull(b) // discovery URLs
	b = appendNull(b) // server URI
	b = appendUAString(b, url)
	b = appendUAString(b, "edgeward identification")
	b = appendByteString(b, nonce)
	b = appendNull(b) // client certificate
	b = appendDouble(b, requestedSessionTimeout)
	return appendU32(b, MaxOPCUAResponseBytes)
}

// uaActivateSession encodes an ActivateSessionRequest with an
// AnonymousIdentityToken of policy policyID and no signatures.
func uaActivateSession(hdr []byte, policyID string) []byte {
	b := hdr
	b = appendNull(appendNull(b)) // client signature: algorithm, signature
	b = appendNull(b)             // client software certificates
	b = appendNull(b)             // locale ids
	token := appendUAString(nil, policyID)
	b = appendNodeID(b, id.AnonymousIdentityToken_Encoding_DefaultBinary)
	b = appendByteString(append(b, extensionObjectBinary), token)
	return appendNull(appendNull(b)) // user token signature
}

// uaRead encodes a ReadRequest of the Value attribute of nodes (namespace
// 0), without timestamps.
func uaRead(hdr []byte, nodes []uint32) []byte {
	b := hdr
	b = appendDouble(b, 0) // max age
	b = appendU32(b, timestampsNeither)
	b = appendU32(b, uint32(len(nodes)))
	for _, n := range nodes {
		b = appendNumericNodeID(b, n)
		b = appendU32(b, attributeValue)
		b = appendNull(b)               // index range
		b = appendNull(append(b, 0, 0)) // data encoding: QualifiedName{0, ""}
	}
	return b
}

// uaCloseSession encodes a CloseSessionRequest that deletes the session's
// subscriptions.
func uaCloseSession(hdr []byte) []byte {
	return append(hdr, 1)
}
