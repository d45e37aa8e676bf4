package opcua_test

// A small OPC UA Binary encoder for crafted test traffic (OPC UA Part 6,
// 5.2 built-in types and 6.7 UA Secure Conversation). It writes only what
// the tests need; lengths are written as declared by the caller, so it also
// crafts malformed messages.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const policyNoneURI = "http://opcfoundation.org/UA/SecurityPolicy#None"
const policyB256Sha256 = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"

type enc struct{ b []byte }

func (e *enc) u8(v uint8) *enc   { e.b = append(e.b, v); return e }
func (e *enc) u16(v uint16) *enc { e.b = binary.LittleEndian.AppendUint16(e.b, v); return e }
func (e *enc) u32(v uint32) *enc { e.b = binary.LittleEndian.AppendUint32(e.b, v); return e }
func (e *enc) i64(v int64) *enc  { return e.u32(uint32(v)).u32(uint32(v >> 32)) }
func (e *enc) f64(v float64) *enc {
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v))
	return e
}
func (e *enc) null() *enc          { return e.u32(0xffffffff) }
func (e *enc) str(s string) *enc   { return e.u32(uint32(len(s))).raw([]byte(s)) }
func (e *enc) bstr(b []byte) *enc  { return e.u32(uint32(len(b))).raw(b) }
func (e *enc) raw(b []byte) *enc   { e.b = append(e.b, b...); return e }
func (e *enc) node(id uint32) *enc { return e.u8(1).u8(0).u16(uint16(id)) } // four-byte NodeId, ns 0
func (e *enc) nodeS(ns uint16, s string) *enc {
	return e.u8(3).u16(ns).str(s)
}
func (e *enc) respHeader(status uint32) *enc {
	return e.i64(0).u32(1).u32(status).u8(0).null().node(0).u8(0)
}
func (e *enc) appDesc(uri, product, name string, typ uint32) *enc {
	return e.str(uri).str(product).u8(2).str(name).u32(typ).null().null().null()
}

// reqHeader appends a RequestHeader (null token, no audit entry, no
// additional header).
func reqHeader(e *enc) *enc {
	return e.u8(0).u8(0).i64(0).u32(1).u32(0).null().u32(10000).node(0).u8(0)
}

func chunk(typ string, ct byte, body []byte) []byte {
	b := append([]byte(typ), ct)
	b = binary.LittleEndian.AppendUint32(b, uint32(8+len(body)))
	return append(b, body...)
}

// msg builds a MSG chunk of channel 1, token 1 carrying svc.
func msg(ct byte, reqID uint32, svc []byte) []byte {
	h := (&enc{}).u32(1).u32(1).u32(reqID).u32(reqID)
	return chunk("MSG", ct, append(h.b, svc...))
}

// opn builds an OPN chunk with policy, sender certificate and svc (svc is
// opaque "encrypted" bytes when policy is not None).
func opn(policy string, cert []byte, reqID uint32, svc []byte) []byte {
	h := (&enc{}).u32(1).str(policy)
	if cert == nil {
		h.null()
	} else {
		h.bstr(cert)
	}
	h.null().u32(reqID).u32(reqID)
	return chunk("OPN", 'F', append(h.b, svc...))
}

func hel(url string) []byte {
	return chunk("HEL", 'F', (&enc{}).u32(0).u32(65535).u32(65535).u32(0).u32(0).str(url).b)
}

func ack() []byte {
	return chunk("ACK", 'F', (&enc{}).u32(0).u32(65535).u32(65535).u32(0).u32(0).b)
}

func errChunk(code uint32, reason string) []byte {
	return chunk("ERR", 'F', (&enc{}).u32(code).str(reason).b)
}

func clo(reqID uint32) []byte {
	svc := reqHeader((&enc{}).node(452)).b
	h := (&enc{}).u32(1).u32(1).u32(reqID).u32(reqID)
	return chunk("CLO", 'F', append(h.b, svc...))
}

func opnRequest(mode uint32) []byte {
	return reqHeader((&enc{}).node(446)).u32(0).u32(0).u32(mode).null().u32(600000).b
}

func opnResponse() []byte {
	return (&enc{}).node(449).respHeader(0).u32(0).u32(1).u32(1).i64(0).u32(600000).null().b
}

func readRequest(node string) []byte {
	e := reqHeader((&enc{}).node(631)).f64(0).u32(3).u32(1)
	return e.nodeS(1, node).u32(13).null().u16(0).null().b
}

func readResponse() []byte {
	return (&enc{}).node(634).respHeader(0).u32(1).u8(1).u8(6).u32(42).u32(0xffffffff).b
}

func writeRequest(node string) []byte {
	e := reqHeader((&enc{}).node(673)).u32(1)
	return e.nodeS(1, node).u32(13).null().u8(1).u8(6).u32(7).b
}

func callRequest(object, method uint32) []byte {
	e := reqHeader((&enc{}).node(712)).u32(1)
	return e.node(object).node(method).u32(1).u8(11).f64(1.5).b
}

func createSessionRequest(clientURI string, cert []byte) []byte {
	e := reqHeader((&enc{}).node(461)).appDesc(clientURI, "urn:test:product", "Test Client", 1)
	e.null().str("opc.tcp://plc:4840").str("session").null()
	if cert == nil {
		e.null()
	} else {
		e.bstr(cert)
	}
	return e.f64(60000).u32(0).b
}

// token kinds for activateSessionRequest
func anonymousToken() []byte { return (&enc{}).str("anonymous").b }
func userToken(user, pw, alg string) []byte {
	e := (&enc{}).str("username").str(user).str(pw)
	if alg == "" {
		e.null()
	} else {
		e.str(alg)
	}
	return e.b
}

func activateSessionRequest(tokenType uint32, token []byte) []byte {
	e := reqHeader((&enc{}).node(467)).null().null().null().null()
	e.node(tokenType).u8(1).bstr(token)
	return e.null().null().b
}

func activateSessionResponse(status uint32) []byte {
	return (&enc{}).node(470).respHeader(status).null().null().null().b
}

func serviceFault(status uint32) []byte {
	return (&enc{}).node(397).respHeader(status).b
}

type endpointSpec struct {
	url, policy string
	mode        uint32
	tokens      []uint32
	cert        []byte
}

func getEndpointsResponse(eps ...endpointSpec) []byte {
	e := (&enc{}).node(431).respHeader(0).u32(uint32(len(eps)))
	for _, ep := range eps {
		e.str(ep.url).appDesc("urn:test:server", "urn:test:server-product", "Test Server", 0)
		if ep.cert == nil {
			e.null()
		} else {
			e.bstr(ep.cert)
		}
		e.u32(ep.mode).str(ep.policy).u32(uint32(len(ep.tokens)))
		for _, t := range ep.tokens {
			e.str("p").u32(t).null().null().null()
		}
		e.str("http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary").u8(1)
	}
	return e.b
}

func deleteNodesRequest(node string) []byte {
	return reqHeader((&enc{}).node(500)).u32(1).nodeS(1, node).u8(1).b
}

func addNodesRequest(name string) []byte {
	e := reqHeader((&enc{}).node(488)).u32(1)
	e.node(85).node(35).u8(0).u8(0).u16(1).str(name).u32(1).node(0).u8(0).u8(0).u8(58)
	return e.b
}

// hugeArrayMsg is a ~132-byte MSG whose WriteRequest declares 0x7fffffff
// WriteValues: the message that makes gopcua v0.8.0's ua decoder allocate
// gigabytes.
func hugeArrayMsg() []byte {
	e := reqHeader((&enc{}).node(673)).u32(0x7fffffff)
	e.raw(make([]byte, 132-24-len(e.b)))
	return msg('F', 9, e.b)
}

// selfSigned returns a DER certificate valid from nb to na.
func selfSigned(t testing.TB, cn string, nb, na time.Time) []byte {
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

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	testClient = netip.MustParseAddrPort("10.0.0.5:50123")
	testServer = netip.MustParseAddrPort("10.0.0.9:4840")
	t0         = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// step is one chunk (or raw bytes) of a scripted conversation.
type step struct {
	toServer bool
	b        []byte
}

func cs(b []byte) step { return step{true, b} }
func sc(b []byte) step { return step{false, b} }

// noneHandshake is HEL/ACK/OPN None (request, response).
func noneHandshake() []step {
	return []step{
		cs(hel("opc.tcp://plc:4840")), sc(ack()),
		cs(opn(policyNoneURI, nil, 1, opnRequest(1))), sc(opn(policyNoneURI, nil, 1, opnResponse())),
	}
}
