package opcua

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
)

// maxDepth bounds the nesting of Variants, DataValues and DiagnosticInfos.
const maxDepth = 8

// reader is a bounded little-endian cursor over one message body. Every
// length read from the wire is checked against the bytes remaining (and the
// array limit) before it is used; nothing is allocated. The first error
// sticks: later reads return zero values.
type reader struct {
	b      []byte
	off    int
	err    error
	maxArr int
}

func newReader(b []byte, maxArr int) reader { return reader{b: b, maxArr: maxArr} }

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.off = len(r.b)
}

func (r *reader) remaining() int { return len(r.b) - r.off }

// next returns the next k bytes (aliasing r.b).
func (r *reader) next(k int) []byte {
	if r.err != nil {
		return nil
	}
	if k < 0 || k > len(r.b)-r.off {
		r.fail(ErrTruncated)
		return nil
	}
	s := r.b[r.off : r.off+k : r.off+k]
	r.off += k
	return s
}

func (r *reader) skip(k int) { r.next(k) }

func (r *reader) u8() uint8 {
	if b := r.next(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.next(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.next(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) i64() int64 {
	if b := r.next(8); b != nil {
		return int64(binary.LittleEndian.Uint64(b))
	}
	return 0
}

func (r *reader) f64() float64 {
	if b := r.next(8); b != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return 0
}

// bytes reads a String, ByteString or XmlElement: an int32 length (-1 is
// null) and that many bytes, aliasing r.b.
func (r *reader) bytes() []byte {
	n := int32(r.u32())
	if r.err != nil || n < 0 {
		// -1 is null; like tshark, any other negative length reads as
		// null too and decoding goes on after it
		return nil
	}
	return r.next(int(n))
}

// arrayLen reads an int32 array length (-1 is null, 0 elements) and checks
// it against MaxArrayLen and, with minElem bytes per element, against the
// bytes remaining.
func (r *reader) arrayLen(minElem int) int {
	n := int32(r.u32())
	if r.err != nil || n == -1 {
		return 0
	}
	if n < -1 {
		r.fail(ErrLength)
		return 0
	}
	if int(n) > r.maxArr {
		r.fail(ErrArrayTooLong)
		return 0
	}
	if int64(n)*int64(minElem) > int64(r.remaining()) {
		r.fail(ErrTruncated)
		return 0
	}
	return int(n)
}

// NodeID is a decoded OPC UA NodeId. Its identifier bytes (string, GUID or
// opaque kinds) alias the decoded message and are valid only until the next
// Feed; use String for a copy.
type NodeID struct {
	// Namespace is the namespace index.
	Namespace uint16
	// Kind is 'i' (numeric), 's' (string), 'g' (GUID) or 'b' (opaque).
	Kind byte
	// Numeric is the identifier of a numeric NodeId.
	Numeric uint32
	// ID is the identifier of the other kinds (aliasing the message).
	ID []byte
}

// String formats the NodeId as in the OPC UA text notation ("i=2253",
// "ns=2;s=Motor.Speed"). It allocates.
func (n NodeID) String() string {
	p := ""
	if n.Namespace != 0 {
		p = "ns=" + strconv.Itoa(int(n.Namespace)) + ";"
	}
	switch n.Kind {
	case 'i':
		return p + "i=" + strconv.FormatUint(uint64(n.Numeric), 10)
	case 's':
		return p + "s=" + clip(n.ID, maxNodeIDText)
	case 'g':
		if len(n.ID) == 16 {
			g := n.ID
			return p + "g=" + hex.EncodeToString([]byte{g[3], g[2], g[1], g[0]}) + "-" +
				hex.EncodeToString([]byte{g[5], g[4]}) + "-" + hex.EncodeToString([]byte{g[7], g[6]}) + "-" +
				hex.EncodeToString(g[8:10]) + "-" + hex.EncodeToString(g[10:16])
		}
	case 'b':
		b := n.ID
		if len(b) > maxNodeIDText {
			b = b[:maxNodeIDText]
		}
		return p + "b=" + base64.StdEncoding.EncodeToString(b)
	}
	return p + "?"
}

// maxNodeIDText bounds the identifier text of NodeID.String.
const maxNodeIDText = 256

// nodeID reads a NodeId (any of the six encodings). Flags of an
// ExpandedNodeId are returned in the high bits of mask.
func (r *reader) nodeIDMask() (NodeID, uint8) {
	mask := r.u8()
	var n NodeID
	switch mask & 0x3f {
	case 0:
		n = NodeID{Kind: 'i', Numeric: uint32(r.u8())}
	case 1:
		ns := r.u8()
		n = NodeID{Namespace: uint16(ns), Kind: 'i', Numeric: uint32(r.u16())}
	case 2:
		ns := r.u16()
		n = NodeID{Namespace: ns, Kind: 'i', Numeric: r.u32()}
	case 3:
		ns := r.u16()
		n = NodeID{Namespace: ns, Kind: 's', ID: r.bytes()}
	case 4:
		ns := r.u16()
		n = NodeID{Namespace: ns, Kind: 'g', ID: r.next(16)}
	case 5:
		ns := r.u16()
		n = NodeID{Namespace: ns, Kind: 'b', ID: r.bytes()}
	default:
		r.fail(ErrEncoding)
	}
	return n, mask
}

func (r *reader) nodeID() NodeID {
	n, mask := r.nodeIDMask()
	if mask&0xc0 != 0 && r.err == nil {
		r.fail(ErrEncoding)
	}
	return n
}

// expandedNodeID reads an ExpandedNodeId; the namespace URI and server index
// are skipped.
func (r *reader) expandedNodeID() NodeID {
	n, mask := r.nodeIDMask()
	if mask&0x80 != 0 {
		r.bytes()
	}
	if mask&0x40 != 0 {
		r.skip(4)
	}
	return n
}

func (r *reader) qualifiedName() []byte {
	r.skip(2)
	return r.bytes()
}

// localizedText returns the text (the locale is skipped).
func (r *reader) localizedText() []byte {
	mask := r.u8()
	if mask&0x01 != 0 {
		r.bytes()
	}
	if mask&0x02 != 0 {
		return r.bytes()
	}
	return nil
}

// extensionObject reads the type id and returns the body of a binary
// encoded extension object (nil for none or XML).
func (r *reader) extensionObject() (NodeID, []byte, uint8) {
	t := r.expandedNodeID()
	enc := r.u8()
	switch enc {
	case 0:
		return t, nil, enc
	case 1, 2:
		return t, r.bytes(), enc
	}
	r.fail(ErrEncoding)
	return t, nil, enc
}

func (r *reader) diagnosticInfo(depth int) {
	if depth > maxDepth {
		r.fail(ErrNesting)
		return
	}
	mask := r.u8()
	if mask&0x01 != 0 { // symbolic id
		r.skip(4)
	}
	if mask&0x02 != 0 { // namespace uri
		r.skip(4)
	}
	if mask&0x08 != 0 { // locale
		r.skip(4)
	}
	if mask&0x04 != 0 { // localized text
		r.skip(4)
	}
	if mask&0x10 != 0 { // additional info
		r.bytes()
	}
	if mask&0x20 != 0 { // inner status code
		r.skip(4)
	}
	if mask&0x40 != 0 {
		r.diagnosticInfo(depth + 1)
	}
}

// variantFixed is the encoded size of the fixed-size built-in types (0 for
// the variable ones); variantMin is the minimum encoded size of every type.
var variantFixed = [26]int{0, 1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 0, 8, 16, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0}
var variantMin = [26]int{0, 1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 4, 8, 16, 4, 4, 2, 2, 4, 6, 1, 3, 1, 1, 1}

func (r *reader) scalar(t uint8, depth int) {
	if f := variantFixed[t]; f != 0 {
		r.skip(f)
		return
	}
	switch t {
	case 0:
	case 12, 15, 16:
		r.bytes()
	case 17:
		r.nodeID()
	case 18:
		r.expandedNodeID()
	case 20:
		r.qualifiedName()
	case 21:
		r.localizedText()
	case 22:
		r.extensionObject()
	case 23:
		r.dataValue(depth + 1)
	case 24:
		r.variant(depth + 1)
	case 25:
		r.diagnosticInfo(depth + 1)
	}
}

// variant skips a Variant. Each array element consumes at least one byte
// (null arrays are bounded by MaxArrayLen), so the work is linear in the
// message size.
func (r *reader) variant(depth int) {
	if depth > maxDepth {
		r.fail(ErrNesting)
		return
	}
	mask := r.u8()
	t := mask & 0x3f
	if t > 25 {
		r.fail(ErrEncoding)
		return
	}
	if mask&0x80 == 0 {
		r.scalar(t, depth)
		return
	}
	n := r.arrayLen(variantMin[t])
	if f := variantFixed[t]; f != 0 {
		r.skip(n * f)
	} else {
		for i := 0; i < n && r.err == nil; i++ {
			r.scalar(t, depth)
		}
	}
	if mask&0x40 != 0 {
		d := r.arrayLen(4)
		r.skip(4 * d)
	}
}

func (r *reader) dataValue(depth int) {
	if depth > maxDepth {
		r.fail(ErrNesting)
		return
	}
	mask := r.u8()
	if mask&0x01 != 0 {
		r.variant(depth + 1)
	}
	if mask&0x02 != 0 {
		r.skip(4)
	}
	if mask&0x04 != 0 {
		r.skip(8)
	}
	if mask&0x10 != 0 {
		r.skip(2)
	}
	if mask&0x08 != 0 {
		r.skip(8)
	}
	if mask&0x20 != 0 {
		r.skip(2)
	}
}

// requestHeader skips a RequestHeader.
func (r *reader) requestHeader() {
	r.nodeID() // authentication token
	r.skip(8)  // timestamp
	r.skip(4)  // request handle
	r.skip(4)  // return diagnostics
	r.bytes()  // audit entry id
	r.skip(4)  // timeout hint
	r.extensionObject()
}

// responseHeader reads a ResponseHeader and returns its service result.
func (r *reader) responseHeader() uint32 {
	r.skip(8) // timestamp
	r.skip(4) // request handle
	status := r.u32()
	r.diagnosticInfo(0)
	n := r.arrayLen(4)
	for i := 0; i < n && r.err == nil; i++ {
		r.bytes()
	}
	r.extensionObject()
	return status
}

// clip returns b as a string of at most max bytes.
func clip(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
	}
	return string(b)
}

// DecodeServiceID reads the type id NodeId at the start of a service body
// (after the sequence header). Only the numeric encodings (two-byte,
// four-byte, numeric) name a service, as in tshark; other encodings return
// ErrNoService. It does not allocate.
func DecodeServiceID(body []byte) (ns uint16, id uint32, err error) {
	r := newReader(body, 0)
	n, mask := r.nodeIDMask()
	if r.err != nil {
		return 0, 0, r.err
	}
	if mask > 2 {
		return 0, 0, ErrNoService
	}
	return n.Namespace, n.Numeric, nil
}

// ServiceName returns the type name of a service encoding id
// ("ReadRequest" for 631, "ServiceFault" for 397) and whether it is a
// standard service. Other ids are named "Unknown", as tshark names them.
func ServiceName(id uint32) (string, bool) {
	if s, ok := serviceNames[id]; ok {
		return s, true
	}
	return "Unknown", false
}
