package modbus

import (
	"strings"
	"unicode/utf8"
)

// Read Device Identification object ids (FC 43 / MEI 14).
const (
	ObjectVendorName          uint8 = 0
	ObjectProductCode         uint8 = 1
	ObjectMajorMinorRevision  uint8 = 2
	ObjectVendorURL           uint8 = 3
	ObjectProductName         uint8 = 4
	ObjectModelName           uint8 = 5
	ObjectUserApplicationName uint8 = 6
)

// DeviceIDHeader is the fixed part of a Read Device Identification
// response (FC 43 / MEI 14).
type DeviceIDHeader struct {
	// ReadDeviceIDCode is 1 basic, 2 regular, 3 extended, 4 one object.
	ReadDeviceIDCode uint8
	// Conformity is the device's conformity level (0x01-0x03, 0x81-0x83).
	Conformity uint8
	// MoreFollows is 0xFF when the objects did not fit into one response and
	// the client must ask again from NextObjectID.
	MoreFollows uint8
	// NextObjectID is the object to ask for next when MoreFollows is 0xFF.
	NextObjectID uint8
	// NumObjects is the number of objects the response declares.
	NumObjects uint8
}

// DeviceID parses a Read Device Identification response (normal FC 43 with
// MEI type 14) into h and calls fn, when not nil, for each object with its id
// and raw value (aliasing the ADU's data). It returns ErrNotDeviceID when the
// ADU is not such a PDU and ErrShortPDU when the header or an object runs
// past the end of the PDU; objects before the truncation have been passed to
// fn (as tshark shows them). The caller decides the direction: a request has
// the same function code and MEI type but no objects.
func (a *ADU) DeviceID(h *DeviceIDHeader, fn func(id uint8, value []byte)) error {
	*h = DeviceIDHeader{}
	d := a.Data
	if a.Function != 43 || len(d) < 1 || d[0] != MEIReadDeviceIdentity {
		return ErrNotDeviceID
	}
	if len(d) < 6 {
		return ErrShortPDU
	}
	h.ReadDeviceIDCode, h.Conformity, h.MoreFollows, h.NextObjectID, h.NumObjects = d[1], d[2], d[3], d[4], d[5]
	p := 6
	for i := 0; i < int(h.NumObjects); i++ {
		if p+2 > len(d) {
			return ErrShortPDU
		}
		id, l := d[p], int(d[p+1])
		if p+2+l > len(d) {
			return ErrShortPDU
		}
		if fn != nil {
			fn(id, d[p+2:p+2+l])
		}
		p += 2 + l
	}
	return nil
}

// sameObjectValue reports, without allocating, whether ObjectValueString(id,
// v) is s, for the common case of a printable ASCII object (0-6) without
// escapes; it returns false when it cannot tell.
func sameObjectValue(s string, id uint8, v []byte) bool {
	if id >= 7 || len(v) != len(s) {
		return false
	}
	for _, c := range v {
		if c < 0x20 || c >= 0x7F || c == '\\' {
			return false
		}
	}
	return s == string(v)
}

// ObjectValueString renders a device identification object value the way
// tshark shows it: objects 0-6 are ASCII strings (cut at the first NUL,
// control characters escaped, bytes above 0x7F replaced by U+FFFD); other
// objects are lowercase hex bytes separated by colons. ok is false when tshark
// shows no value (an object id of 7 or more with an empty value).
func ObjectValueString(id uint8, v []byte) (s string, ok bool) {
	if id >= 7 {
		if len(v) == 0 {
			return "", false
		}
		const hexdigits = "0123456789abcdef"
		var sb strings.Builder
		sb.Grow(3*len(v) - 1)
		for i, c := range v {
			if i > 0 {
				sb.WriteByte(':')
			}
			sb.WriteByte(hexdigits[c>>4])
			sb.WriteByte(hexdigits[c&0xF])
		}
		return sb.String(), true
	}
	var sb strings.Builder
	sb.Grow(len(v))
	for _, c := range v {
		switch {
		case c == 0:
			return sb.String(), true
		case c >= 0x20 && c < 0x7F:
			if c == '\\' {
				sb.WriteString(`\\`)
			} else {
				sb.WriteByte(c)
			}
		case c >= 0x80:
			sb.WriteRune(utf8.RuneError)
		default:
			switch c {
			case '\a':
				sb.WriteString(`\a`)
			case '\b':
				sb.WriteString(`\b`)
			case '\f':
				sb.WriteString(`\f`)
			case '\n':
				sb.WriteString(`\n`)
			case '\r':
				sb.WriteString(`\r`)
			case '\t':
				sb.WriteString(`\t`)
			case '\v':
				sb.WriteString(`\v`)
			default:
				const hexdigits = "0123456789abcdef"
				sb.WriteString(`\x`)
				sb.WriteByte(hexdigits[c>>4])
				sb.WriteByte(hexdigits[c&0xF])
			}
		}
	}
	return sb.String(), true
}
