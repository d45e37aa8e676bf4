package probe

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"github.com/goburrow/modbus"
)

const (
	fcReadDeviceID = 0x2B // encapsulated interface transport
	meiDeviceID    = 0x0E // MEI type: read device identification

	deviceIDBasic    = 0x01 // read device id code: basic stream (objects 0-2)
	deviceIDRegular  = 0x02 // read device id code: regular stream (objects 3-6)
	deviceIDExtended = 0x03 // read device id code: extended stream (objects 0x80-0xFF)

	mbapHeaderLen = 7   // transaction, protocol, length, unit
	maxADULen     = 260 // MBAP header + the largest PDU (253 bytes)
)

// Modbus device identification object ids (Modbus Application Protocol
// V1.1b3, 6.21).
const (
	ObjectVendorName          = 0x00
	ObjectProductCode         = 0x01
	ObjectRevision            = 0x02
	ObjectVendorURL           = 0x03
	ObjectProductName         = 0x04
	ObjectModelName           = 0x05
	ObjectUserApplicationName = 0x06
)

// ModbusResult is what a Modbus device says about itself through Read Device
// Identification. When the device refuses the request, Exception is set and
// the identity fields are empty: a refusal is an answer, not a failure.
type ModbusResult struct {
	// Target is the probed host:port.
	Target string `json:"target"`
	// Unit is the unit identifier the request was addressed to (1 to 255).
	Unit byte `json:"unit"`

	VendorName          string `json:"vendor_name,omitempty"`
	ProductCode         string `json:"product_code,omitempty"`
	Revision            string `json:"revision,omitempty"`
	VendorURL           string `json:"vendor_url,omitempty"`
	ProductName         string `json:"product_name,omitempty"`
	ModelName           string `json:"model_name,omitempty"`
	UserApplicationName string `json:"user_application_name,omitempty"`

	// ConformityLevel is the device's declared identification conformity
	// level (0x01 basic, 0x02 regular, 0x03 extended; 0x80 set when
	// individual access is supported), 0 when it refused.
	ConformityLevel byte `json:"conformity_level,omitempty"`
	// Objects maps every object id the device returned to its value, the
	// named fields above included. Values are untrusted device strings.
	Objects map[byte]string `json:"objects,omitempty"`
	// Exception is set when the device answered with a Modbus exception.
	Exception *ModbusException `json:"exception,omitempty"`
}

// ModbusException is a Modbus exception response.
type ModbusException struct {
	// Code is the exception code (1 illegal function, 2 illegal data
	// address, 3 illegal data value, 4 server device failure, ...).
	Code byte `json:"code"`
	// Name is the code's name from the Modbus specification.
	Name string `json:"name"`
}

// ModbusIdentify reads the identity of the Modbus/TCP device at target
// (modbus://host[:port][/unit]) with function 43 / MEI 14: the basic objects,
// then the regular objects when the device declares regular conformity, then
// the extended (private) objects when it declares extended conformity,
// following "more follows" until the device has sent every object. These are
// the only requests it sends. ctx bounds the whole exchange (DefaultTimeout
// when it has no deadline). A device exception to the first request is
// returned in the result with a nil error; an exception to a later category
// keeps the objects already read. The
// error wraps ErrTarget or ErrBroadcast for a bad target, ErrMalformed for a
// response that breaks the protocol, or the network error.
func ModbusIdentify(ctx context.Context, target string) (*ModbusResult, error) {
	addr, unit, err := parseModbusTarget(target)
	if err != nil {
		return nil, err
	}
	conn, stop, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer stop()

	h := modbus.NewTCPClientHandler(addr)
	h.SlaveId = unit
	t := &transport{conn: conn}
	res := &ModbusResult{Target: addr, Unit: unit, Objects: map[byte]string{}}
	for _, code := range []byte{deviceIDBasic, deviceIDRegular, deviceIDExtended} {
		if code != deviceIDBasic && res.ConformityLevel&0x7F < code {
			break
		}
		exc, err := readDeviceID(h, t, code, res)
		if err != nil {
			return nil, ctxErr(ctx, fmt.Errorf("read device identification from %s unit %d: %w", addr, unit, err))
		}
		if exc != nil {
			if code == deviceIDBasic {
				res.Exception = exc
			}
			break
		}
	}
	res.VendorName = res.Objects[ObjectVendorName]
	res.ProductCode = res.Objects[ObjectProductCode]
	res.Revision = res.Objects[ObjectRevision]
	res.VendorURL = res.Objects[ObjectVendorURL]
	res.ProductName = res.Objects[ObjectProductName]
	res.ModelName = res.Objects[ObjectModelName]
	res.UserApplicationName = res.Objects[ObjectUserApplicationName]
	if len(res.Objects) == 0 {
		res.Objects = nil
	}
	return res, nil
}

// readDeviceID reads one category (code) of identification objects into res,
// one request per part while the device says more follows. It returns the
// exception when the device refuses.
func readDeviceID(h *modbus.TCPClientHandler, t *transport, code byte, res *ModbusResult) (*ModbusException, error) {
	obj := map[byte]byte{deviceIDBasic: ObjectVendorName, deviceIDRegular: ObjectVendorURL, deviceIDExtended: 0x80}[code]
	for {
		pdu, err := exchange(h, t, &modbus.ProtocolDataUnit{
			FunctionCode: fcReadDeviceID,
			Data:         []byte{meiDeviceID, code, obj},
		})
		if err != nil {
			return nil, err
		}
		if pdu.FunctionCode == fcReadDeviceID|0x80 {
			if len(pdu.Data) != 1 {
				return nil, fmt.Errorf("%w: exception response of %d bytes", ErrMalformed, len(pdu.Data))
			}
			return &ModbusException{Code: pdu.Data[0], Name: exceptionName(pdu.Data[0])}, nil
		}
		if pdu.FunctionCode != fcReadDeviceID {
			return nil, fmt.Errorf("%w: function code %d in answer to %d", ErrMalformed, pdu.FunctionCode, fcReadDeviceID)
		}
		p, err := parseDeviceID(pdu.Data, code)
		if err != nil {
			return nil, err
		}
		if res.ConformityLevel == 0 {
			res.ConformityLevel = p.conformity
		}
		for id, v := range p.objects {
			res.Objects[id] = v
		}
		if !p.more {
			return nil, nil
		}
		// A device that points back at an object already asked for would
		// make us loop forever; object ids only grow, so this ends within
		// 256 requests.
		if p.next <= obj {
			return nil, fmt.Errorf("%w: next object id %d after request for %d", ErrMalformed, p.next, obj)
		}
		obj = p.next
	}
}

// exchange sends one request ADU built by goburrow's TCP packager and
// returns the decoded response PDU. goburrow's Verify and Decode index the
// response without checking its length; a panic there becomes an
// ErrMalformed error.
func exchange(h *modbus.TCPClientHandler, t *transport, req *modbus.ProtocolDataUnit) (pdu *modbus.ProtocolDataUnit, err error) {
	adu, err := h.Encode(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	resp, err := t.Send(adu)
	if err != nil {
		return nil, err
	}
	return decodeADU(h, adu, resp)
}

// decodeADU verifies and decodes a response ADU with p, turning a panic of
// the packager into an error.
func decodeADU(p modbus.Packager, req, resp []byte) (pdu *modbus.ProtocolDataUnit, err error) {
	defer func() {
		if r := recover(); r != nil {
			pdu, err = nil, fmt.Errorf("%w: %v", ErrMalformed, r)
		}
	}()
	if err := p.Verify(req, resp); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	pdu, err = p.Decode(resp)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return pdu, nil
}

// transport is a modbus.Transporter over one connection owned by the caller.
// Unlike goburrow's, it has no reconnect, no idle timer and no mutex that
// would keep a context from interrupting it: the connection's deadline and
// context hook (see dial) bound every Send.
type transport struct {
	conn net.Conn
}

var _ modbus.Transporter = (*transport)(nil)

// Send writes req once and reads one response ADU of at most maxADULen bytes.
func (t *transport) Send(req []byte) ([]byte, error) {
	if _, err := t.conn.Write(req); err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	var b [maxADULen]byte
	if _, err := io.ReadFull(t.conn, b[:mbapHeaderLen]); err != nil {
		return nil, fmt.Errorf("read response header: %w", err)
	}
	if p := binary.BigEndian.Uint16(b[2:4]); p != 0 {
		return nil, fmt.Errorf("%w: protocol id 0x%04x, not Modbus/TCP", ErrMalformed, p)
	}
	// The MBAP length counts the unit id and the PDU.
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if n < 2 || mbapHeaderLen-1+n > maxADULen {
		return nil, fmt.Errorf("%w: MBAP length %d", ErrMalformed, n)
	}
	if _, err := io.ReadFull(t.conn, b[mbapHeaderLen:mbapHeaderLen-1+n]); err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return append([]byte(nil), b[:mbapHeaderLen-1+n]...), nil
}

// Connect is a no-op: the connection is dialled before the transport exists.
func (t *transport) Connect() error { return nil }

// Close is a no-op: the caller owns and closes the connection.
func (t *transport) Close() error { return nil }

// deviceIDPart is one response to a Read Device Identification request.
type deviceIDPart struct {
	conformity byte
	more       bool
	next       byte
	objects    map[byte]string
}

// parseDeviceID decodes the data of a function 43 / MEI 14 response (after
// the function code) to a request for category code.
func parseDeviceID(b []byte, code byte) (deviceIDPart, error) {
	// MEI type, read device id code, conformity, more follows, next object
	// id, number of objects, then (id, length, value) per object.
	if len(b) < 6 {
		return deviceIDPart{}, fmt.Errorf("%w: device identification of %d bytes", ErrMalformed, len(b))
	}
	if b[0] != meiDeviceID || b[1] != code {
		return deviceIDPart{}, fmt.Errorf("%w: MEI type %d, read device id code %d in answer to %d/%d", ErrMalformed, b[0], b[1], meiDeviceID, code)
	}
	p := deviceIDPart{conformity: b[2], next: b[4], objects: map[byte]string{}}
	switch b[3] {
	case 0x00:
	case 0xFF:
		p.more = true
	default:
		return deviceIDPart{}, fmt.Errorf("%w: more-follows byte 0x%02x", ErrMalformed, b[3])
	}
	count := int(b[5])
	rest := b[6:]
	for i := 0; i < count; i++ {
		if len(rest) < 2 || len(rest) < 2+int(rest[1]) {
			return deviceIDPart{}, fmt.Errorf("%w: object %d of %d truncated", ErrMalformed, i+1, count)
		}
		id, n := rest[0], int(rest[1])
		p.objects[id] = string(rest[2 : 2+n])
		rest = rest[2+n:]
	}
	if len(rest) != 0 {
		return deviceIDPart{}, fmt.Errorf("%w: %d bytes after %d objects", ErrMalformed, len(rest), count)
	}
	return p, nil
}

// exceptionName names a Modbus exception code (Modbus Application Protocol
// V1.1b3, 7).
func exceptionName(code byte) string {
	switch code {
	case modbus.ExceptionCodeIllegalFunction:
		return "illegal function"
	case modbus.ExceptionCodeIllegalDataAddress:
		return "illegal data address"
	case modbus.ExceptionCodeIllegalDataValue:
		return "illegal data value"
	case modbus.ExceptionCodeServerDeviceFailure:
		return "server device failure"
	case modbus.ExceptionCodeAcknowledge:
		return "acknowledge"
	case modbus.ExceptionCodeServerDeviceBusy:
		return "server device busy"
	case modbus.ExceptionCodeMemoryParityError:
		return "memory parity error"
	case modbus.ExceptionCodeGatewayPathUnavailable:
		return "gateway path unavailable"
	case modbus.ExceptionCodeGatewayTargetDeviceFailedToRespond:
		return "gateway target device failed to respond"
	}
	return "unknown"
}
