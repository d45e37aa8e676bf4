package probe

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/gopcua/opcua/id"
)

// uaDecoder reads OPC UA Binary values from an untrusted message. The first
// error sticks: later reads return zero values, and the caller checks err
// once. Every length is checked against the bytes that remain before
// anything is allocated, so decoding never allocates more than a small
// multiple of len(b).
type uaDecoder struct {
	b   []byte
	err error
}

func (d *uaDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *uaDecoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("%d bytes wanted, %d left", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *uaDecoder) skip(n int) { d.take(n) }

func (d *uaDecoder) u8() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *uaDecoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (d *uaDecoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

// count reads an array length: -1 (null) reads as 0, and a length larger
// than the bytes left (each element takes at least minSize bytes) fails
// before the caller allocates anything.
func (d *uaDecoder) count(minSize int) int {
	n := int32(d.u32())
	if d.err != nil || n == -1 {
		return 0
	}
	if n < 0 || int(n) > len(d.b)/minSize {
		d.fail("array of %d elements in %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

// bytes reads a ByteString; null reads as nil.
func (d *uaDecoder) bytes() []byte {
	n := int32(d.u32())
	if d.err != nil || n == -1 {
		return nil
	}
	return d.take(int(n))
}

// str reads a String; null reads as "".
func (d *uaDecoder) str() string { return string(d.bytes()) }

// nodeID reads a NodeId (or, with expanded, an ExpandedNodeId) and returns
// its numeric id in namespace 0, or -1 for any other id.
func (d *uaDecoder) nodeID(expanded bool) int {
	enc := d.u8()
	id := -1
	switch enc & 0x3F {
	case 0x00: // two-byte
		id = int(d.u8())
	case 0x01: // four-byte
		ns := d.u8()
		v := d.u16()
		if ns == 0 {
			id = int(v)
		}
	case 0x02: // numeric
		ns := d.u16()
		v := d.u32()
		if ns == 0 {
			id = int(v)
		}
	case 0x03, 0x05: // string, opaque
		d.u16()
		d.bytes()
	case 0x04: // guid
		d.u16()
		d.skip(16)
	default:
		d.fail("NodeId encoding 0x%02x", enc)
	}
	if expanded {
		if enc&0x80 != 0 {
			d.str() // namespace URI
		}
		if enc&0x40 != 0 {
			d.u32() // server index
		}
	} else if enc&0xC0 != 0 {
		d.fail("NodeId encoding 0x%02x", enc)
	}
	return id
}

// rawNodeID reads a NodeId and returns its encoding, to be sent back as
// is (a session's authentication token).
func (d *uaDecoder) rawNodeID() []byte {
	start := d.b
	d.nodeID(false)
	if d.err != nil {
		return nil
	}
	return append([]byte(nil), start[:len(start)-len(d.b)]...)
}

// localizedText reads a LocalizedText and returns its text.
func (d *uaDecoder) localizedText() string {
	mask := d.u8()
	if mask&0x01 != 0 {
		d.str() // locale
	}
	if mask&0x02 != 0 {
		return d.str()
	}
	return ""
}

// diagnosticInfo skips a DiagnosticInfo. Nested infos are walked in a loop,
// not by recursion, so a deep nesting costs no stack.
func (d *uaDecoder) diagnosticInfo() {
	for d.err == nil {
		mask := d.u8()
		for _, bit := range []byte{0x01, 0x02, 0x04, 0x08} {
			if mask&bit != 0 {
				d.u32() // symbolic id, namespace URI, localized text, locale
			}
		}
		if mask&0x10 != 0 {
			d.str() // additional info
		}
		if mask&0x20 != 0 {
			d.u32() // inner status code
		}
		if mask&0x40 == 0 {
			return
		}
	}
}

// extensionObject skips an ExtensionObject.
func (d *uaDecoder) extensionObject() {
	d.nodeID(false)
	switch enc := d.u8(); enc {
	case 0x00:
	case 0x01, 0x02: // binary body, XML body
		d.bytes()
	default:
		d.fail("ExtensionObject encoding 0x%02x", enc)
	}
}

// serviceResponse reads the type NodeId and the ResponseHeader of a service
// response. It fails with ErrServiceFault when the server answered with a
// ServiceFault or a bad service result, and with ErrMalformed when the type
// is not want.
func (d *uaDecoder) serviceResponse(want int) error {
	typ := d.nodeID(true)
	d.skip(8) // timestamp
	d.u32()   // request handle
	result := statusCode(d.u32())
	d.diagnosticInfo()
	for n := d.count(4); n > 0; n-- {
		d.str() // string table
	}
	d.extensionObject()
	switch {
	case d.err != nil:
		return fmt.Errorf("decode response header: %w", d.err)
	case typ == id.ServiceFault_Encoding_DefaultBinary || result&0x80000000 != 0:
		return fmt.Errorf("%w: %v", ErrServiceFault, result)
	case typ != want:
		return fmt.Errorf("%w: response type %d, want %d", ErrMalformed, typ, want)
	}
	return nil
}

// endpoints reads the endpoint array of a GetEndpointsResponse body (after
// the response header).
func (d *uaDecoder) endpoints() ([]Endpoint, error) {
	// The smallest EndpointDescription on the wire is well over 40 bytes.
	n := d.count(40)
	var eps []Endpoint
	for i := 0; i < n && d.err == nil; i++ {
		var e Endpoint
		e.URL = d.str()
		e.ServerApplicationURI = d.str()
		e.ServerProductURI = d.str()
		e.ServerApplicationName = d.localizedText()
		d.u32() // application type
		d.str() // gateway server URI
		d.str() // discovery profile URI
		for m := d.count(4); m > 0; m-- {
			d.str() // discovery URLs
		}
		cert := d.bytes()
		e.SecurityMode = enumName(messageSecurityModes, d.u32())
		e.SecurityPolicyURI = d.str()
		for m := d.count(20); m > 0 && d.err == nil; m-- {
			var t UserToken
			t.PolicyID = d.str()
			t.Type = enumName(userTokenTypes, d.u32())
			d.str() // issued token type
			d.str() // issuer endpoint URL
			t.SecurityPolicyURI = d.str()
			e.UserTokenTypes = append(e.UserTokenTypes, t.Type)
			e.UserTokens = append(e.UserTokens, t)
		}
		d.str() // transport profile URI
		e.SecurityLevel = d.u8()
		if d.err == nil {
			e.Certificate = describeCertificate(cert)
			eps = append(eps, e)
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode endpoints: %w", d.err)
	}
	return eps, nil
}

// Variant types a BuildInfo variable may hold.
const (
	variantNull          = 0
	variantString        = 12
	variantDateTime      = 13
	variantLocalizedText = 21
)

// buildInfo reads the results of a ReadResponse body (after the response
// header) for buildInfoNodes. A variable the server could not read, or
// whose value is of another type, stays empty.
func (d *uaDecoder) buildInfo() (*BuildInfo, error) {
	var info BuildInfo
	fields := []*string{&info.ProductURI, &info.ManufacturerName, &info.ProductName, &info.SoftwareVersion, &info.BuildNumber}
	n := d.count(1)
	if n != len(buildInfoNodes) && d.err == nil {
		return nil, fmt.Errorf("%w: %d read results for %d variables", ErrMalformed, n, len(buildInfoNodes))
	}
	for i := 0; i < n && d.err == nil; i++ {
		mask := d.u8()
		var s string
		var t time.Time
		ok := true
		if mask&0x01 != 0 {
			switch typ := d.u8(); typ {
			case variantNull:
			case variantString:
				s = d.str()
			case variantLocalizedText:
				s = d.localizedText()
			case variantDateTime:
				t = uaTime(int64(d.u32()) | int64(d.u32())<<32)
			default:
				// Another type (an array included): the rest of the
				// message cannot be walked without decoding it.
				return &info, nil
			}
		}
		if mask&0x02 != 0 {
			ok = d.u32()&0x80000000 == 0
		}
		for _, bit := range []struct {
			bit  byte
			size int
		}{{0x04, 8}, {0x08, 8}, {0x10, 2}, {0x20, 2}} {
			if mask&bit.bit != 0 {
				d.skip(bit.size)
			}
		}
		if !ok {
			continue
		}
		if i < len(fields) {
			*fields[i] = s
		} else {
			info.BuildDate = t
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode read results: %w", d.err)
	}
	return &info, nil
}

// uaTime converts an OPC UA DateTime (100 ns ticks since 1601-01-01 UTC);
// 0 and the maximum mean no time.
func uaTime(ticks int64) time.Time {
	if ticks <= 0 || ticks == 1<<63-1 {
		return time.Time{}
	}
	const epochDiff = 116444736000000000 // ticks from 1601 to 1970
	t := ticks - epochDiff
	return time.Unix(t/1e7, t%1e7*100).UTC()
}
