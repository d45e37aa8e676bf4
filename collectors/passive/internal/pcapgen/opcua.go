package pcapgen

// OPC UA Binary builders (OPC UA Part 6, 5.2 built-in types and 6.7 UA
// Secure Conversation) for crafted test traffic. They write only what the
// tests need, with policy None bodies in clear; lengths are written as
// given, so they also craft malformed messages.

import (
	"encoding/binary"
	"math"
)

// OPC UA security policy URIs used by the builders' callers.
const (
	PolicyNone           = "http://opcfoundation.org/UA/SecurityPolicy#None"
	PolicyBasic256Sha256 = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
	PolicyBasic128Rsa15  = "http://opcfoundation.org/UA/SecurityPolicy#Basic128Rsa15"
)

// UA appends OPC UA Binary built-in types to B.
type UA struct{ B []byte }

// U8 appends a Byte.
func (e *UA) U8(v uint8) *UA { e.B = append(e.B, v); return e }

// U16 appends a UInt16.
func (e *UA) U16(v uint16) *UA { e.B = binary.LittleEndian.AppendUint16(e.B, v); return e }

// U32 appends a UInt32.
func (e *UA) U32(v uint32) *UA { e.B = binary.LittleEndian.AppendUint32(e.B, v); return e }

// I64 appends an Int64 (or a DateTime).
func (e *UA) I64(v int64) *UA { e.B = binary.LittleEndian.AppendUint64(e.B, uint64(v)); return e }

// F64 appends a Double.
func (e *UA) F64(v float64) *UA {
	e.B = binary.LittleEndian.AppendUint64(e.B, math.Float64bits(v))
	return e
}

// Null appends a null String, ByteString or array (length -1).
func (e *UA) Null() *UA { return e.U32(0xffffffff) }

// Str appends a String.
func (e *UA) Str(s string) *UA { return e.U32(uint32(len(s))).Raw([]byte(s)) }

// Bytes appends a ByteString (null when b is nil).
func (e *UA) Bytes(b []byte) *UA {
	if b == nil {
		return e.Null()
	}
	return e.U32(uint32(len(b))).Raw(b)
}

// Raw appends b as is.
func (e *UA) Raw(b []byte) *UA { e.B = append(e.B, b...); return e }

// Node appends a four-byte NodeId of namespace 0.
func (e *UA) Node(id uint32) *UA { return e.U8(1).U8(0).U16(uint16(id)) }

// NodeS appends a string NodeId.
func (e *UA) NodeS(ns uint16, s string) *UA { return e.U8(3).U16(ns).Str(s) }

// ReqHeader appends a RequestHeader (null token, no audit entry, no
// additional header).
func (e *UA) ReqHeader() *UA {
	return e.U8(0).U8(0).I64(0).U32(1).U32(0).Null().U32(10000).Node(0).U8(0)
}

// RespHeader appends a ResponseHeader with service result status.
func (e *UA) RespHeader(status uint32) *UA {
	return e.I64(0).U32(1).U32(status).U8(0).Null().Node(0).U8(0)
}

// AppDesc appends an ApplicationDescription.
func (e *UA) AppDesc(uri, product, name string, typ uint32) *UA {
	return e.Str(uri).Str(product).U8(2).Str(name).U32(typ).Null().Null().Null()
}

// Chunk frames body as one chunk of message type typ ("HEL", "MSG", ...)
// and chunk type ct ('F', 'C' or 'A').
func Chunk(typ string, ct byte, body []byte) []byte {
	b := append([]byte(typ), ct)
	b = binary.LittleEndian.AppendUint32(b, uint32(8+len(body)))
	return append(b, body...)
}

// Hello returns a HEL chunk for url.
func Hello(url string) []byte {
	return Chunk("HEL", 'F', (&UA{}).U32(0).U32(65535).U32(65535).U32(0).U32(0).Str(url).B)
}

// Ack returns an ACK chunk.
func Ack() []byte {
	return Chunk("ACK", 'F', (&UA{}).U32(0).U32(65535).U32(65535).U32(0).U32(0).B)
}

// Err returns an ERR chunk.
func Err(code uint32, reason string) []byte {
	return Chunk("ERR", 'F', (&UA{}).U32(code).Str(reason).B)
}

// Open returns an OPN chunk of channel 1 with policy, sender certificate
// (nil for none) and the service body svc (opaque bytes when policy is not
// None).
func Open(policy string, cert []byte, reqID uint32, svc []byte) []byte {
	h := (&UA{}).U32(1).Str(policy).Bytes(cert).Null().U32(reqID).U32(reqID)
	return Chunk("OPN", 'F', append(h.B, svc...))
}

// Msg returns a MSG chunk of channel 1, token 1, with sequence number and
// request id reqID, carrying svc.
func Msg(reqID uint32, svc []byte) []byte {
	h := (&UA{}).U32(1).U32(1).U32(reqID).U32(reqID)
	return Chunk("MSG", 'F', append(h.B, svc...))
}

// CloseChannel returns a CLO chunk carrying a CloseSecureChannelRequest.
func CloseChannel(reqID uint32) []byte {
	svc := (&UA{}).Node(452).ReqHeader().B
	h := (&UA{}).U32(1).U32(1).U32(reqID).U32(reqID)
	return Chunk("CLO", 'F', append(h.B, svc...))
}

// OpenRequest is an OpenSecureChannelRequest body with security mode
// (1 None, 2 Sign, 3 SignAndEncrypt).
func OpenRequest(mode uint32) []byte {
	return (&UA{}).Node(446).ReqHeader().U32(0).U32(0).U32(mode).Null().U32(600000).B
}

// OpenResponse is an OpenSecureChannelResponse body.
func OpenResponse() []byte {
	return (&UA{}).Node(449).RespHeader(0).U32(0).U32(1).U32(1).I64(0).U32(600000).Null().B
}

// ReadRequest reads the Value of string node ns=1;s=node.
func ReadRequest(node string) []byte {
	e := (&UA{}).Node(631).ReqHeader().F64(0).U32(3).U32(1)
	return e.NodeS(1, node).U32(13).Null().U16(0).Null().B
}

// ReadResponse returns one Int32 value 42.
func ReadResponse() []byte {
	return (&UA{}).Node(634).RespHeader(0).U32(1).U8(1).U8(6).U32(42).Null().B
}

// WriteRequest writes Int32 7 to ns=1;s=node.
func WriteRequest(node string) []byte {
	e := (&UA{}).Node(673).ReqHeader().U32(1)
	return e.NodeS(1, node).U32(13).Null().U8(1).U8(6).U32(7).B
}

// CallRequest calls method on object with one Double argument.
func CallRequest(object, method uint32) []byte {
	e := (&UA{}).Node(712).ReqHeader().U32(1)
	return e.Node(object).Node(method).U32(1).U8(11).F64(1.5).B
}

// CreateSessionRequest describes client clientURI with certificate cert.
func CreateSessionRequest(clientURI string, cert []byte) []byte {
	e := (&UA{}).Node(461).ReqHeader().AppDesc(clientURI, "urn:test:product", "Test Client", 1)
	e.Null().Str("opc.tcp://plc:4840").Str("session").Null().Bytes(cert)
	return e.F64(60000).U32(0).B
}

// Encoding ids of the identity tokens of ActivateSessionRequest.
const (
	TokenAnonymous = 321
	TokenUserName  = 324
)

// AnonymousToken is an AnonymousIdentityToken body.
func AnonymousToken() []byte { return (&UA{}).Str("anonymous").B }

// UserToken is a UserNameIdentityToken body; alg "" means no encryption.
func UserToken(user, pw, alg string) []byte {
	e := (&UA{}).Str("username").Str(user).Str(pw)
	if alg == "" {
		e.Null()
	} else {
		e.Str(alg)
	}
	return e.B
}

// ActivateSessionRequest carries an identity token of tokenType.
func ActivateSessionRequest(tokenType uint32, token []byte) []byte {
	e := (&UA{}).Node(467).ReqHeader().Null().Null().Null().Null()
	e.Node(tokenType).U8(1).Bytes(token)
	return e.Null().Null().B
}

// ActivateSessionResponse answers with status.
func ActivateSessionResponse(status uint32) []byte {
	return (&UA{}).Node(470).RespHeader(status).Null().Null().Null().B
}

// ServiceFault answers with status.
func ServiceFault(status uint32) []byte {
	return (&UA{}).Node(397).RespHeader(status).B
}

// GetEndpointsRequest asks url for its endpoints.
func GetEndpointsRequest(url string) []byte {
	return (&UA{}).Node(428).ReqHeader().Str(url).Null().Null().B
}

// EndpointSpec describes one endpoint of GetEndpointsResponse.
type EndpointSpec struct {
	URL, Policy string
	Mode        uint32
	Tokens      []uint32
	Cert        []byte
}

// GetEndpointsResponse offers eps.
func GetEndpointsResponse(eps ...EndpointSpec) []byte {
	e := (&UA{}).Node(431).RespHeader(0).U32(uint32(len(eps)))
	for _, ep := range eps {
		e.Str(ep.URL).AppDesc("urn:test:server", "urn:test:server-product", "Test Server", 0)
		e.Bytes(ep.Cert).U32(ep.Mode).Str(ep.Policy).U32(uint32(len(ep.Tokens)))
		for _, t := range ep.Tokens {
			e.Str("p").U32(t).Null().Null().Null()
		}
		e.Str("http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary").U8(1)
	}
	return e.B
}

// DeleteNodesRequest deletes ns=1;s=node.
func DeleteNodesRequest(node string) []byte {
	return (&UA{}).Node(500).ReqHeader().U32(1).NodeS(1, node).U8(1).B
}

// HugeArrayMsg is a 132-byte MSG whose WriteRequest declares 0x7fffffff
// WriteValues: the message that makes gopcua v0.8.0's ua decoder allocate
// gigabytes.
func HugeArrayMsg() []byte {
	e := (&UA{}).Node(673).ReqHeader().U32(0x7fffffff)
	e.Raw(make([]byte, 132-24-len(e.B)))
	return Msg(9, e.B)
}
