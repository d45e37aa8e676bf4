package modbus

import "encoding/binary"

// Frame size limits.
const (
	// HeaderLength is the size of the MBAP header up to and including the
	// unit identifier.
	HeaderLength = 7
	// SpecMaxADULength is the largest ADU the Modbus/TCP specification
	// allows (MBAP 7 bytes + PDU 253 bytes).
	SpecMaxADULength = 260
	// MaxLengthField is the largest MBAP length field accepted. It is above
	// the specification's 254 because vendor extensions (Schneider UMAS
	// negotiates frames of about 1 KiB) send longer ADUs and tshark accepts
	// any length; it is bounded so that one bogus header cannot make a
	// session buffer 64 KiB.
	MaxLengthField = 1018
	// MaxADULength is the largest ADU FrameLength accepts (6 + MaxLengthField).
	MaxADULength = 6 + MaxLengthField
)

// ADU is one decoded Modbus/TCP application data unit: the MBAP header and
// the PDU. Decode into a preallocated ADU with DecodeFromBytes; nothing is
// allocated. Data aliases the input buffer: copy it before the buffer is
// reused.
type ADU struct {
	// TransactionID pairs a response with its request.
	TransactionID uint16
	// ProtocolID is 0 for Modbus.
	ProtocolID uint16
	// Length counts the bytes that follow the length field (unit id + PDU).
	Length uint16
	// UnitID addresses a device behind a gateway; 0 is broadcast on serial
	// lines and 255 "this device" on TCP.
	UnitID uint8
	// Function is the raw function code, exception bit 0x80 included.
	Function uint8
	// Data is the PDU after the function code. It aliases the decoded input.
	Data []byte
}

// FrameLength returns the length of the ADU at the start of b as declared by
// its MBAP header. It returns ErrShortFrame when b holds fewer than 7 bytes,
// ErrProtocolID when the protocol identifier is not 0 and ErrLength when the
// length field is below 2 or above MaxLengthField. b may hold fewer bytes
// than the returned length.
func FrameLength(b []byte) (int, error) {
	if len(b) < HeaderLength {
		return 0, ErrShortFrame
	}
	if b[2] != 0 || b[3] != 0 {
		return 0, ErrProtocolID
	}
	l := int(binary.BigEndian.Uint16(b[4:6]))
	if l < 2 || l > MaxLengthField {
		return 0, ErrLength
	}
	return 6 + l, nil
}

// DecodeFromBytes decodes exactly one complete ADU from b. Every field is
// reset first; after an error the fields must not be trusted. Data aliases b.
// It returns ErrShortFrame, ErrProtocolID, ErrLength (see FrameLength) or
// ErrTrailingBytes when b is longer than the ADU its header declares.
func (a *ADU) DecodeFromBytes(b []byte) error {
	*a = ADU{}
	n, err := FrameLength(b)
	if err != nil {
		return err
	}
	if len(b) < n {
		return ErrShortFrame
	}
	if len(b) > n {
		return ErrTrailingBytes
	}
	a.TransactionID = binary.BigEndian.Uint16(b[0:2])
	a.ProtocolID = 0
	a.Length = uint16(n - 6)
	a.UnitID = b[6]
	a.Function = b[7]
	a.Data = b[8:n:n]
	return nil
}

// BaseFunction returns the function code without the exception bit.
func (a *ADU) BaseFunction() uint8 { return a.Function & 0x7F }

// Exception returns the exception code of an exception response (function
// code with bit 0x80 set and a non-zero exception code byte). Like tshark, a
// zero exception code byte is not treated as an exception.
func (a *ADU) Exception() (code uint8, ok bool) {
	if a.Function&0x80 == 0 || len(a.Data) < 1 || a.Data[0] == 0 {
		return 0, false
	}
	return a.Data[0], true
}

// Len returns the ADU's length on the wire (6 + Length).
func (a *ADU) Len() int { return 6 + int(a.Length) }

// DiagnosticSubFunction returns the FC 8 sub-function code of a normal
// (non-exception) Diagnostics PDU.
func (a *ADU) DiagnosticSubFunction() (uint16, bool) {
	if a.Function != 8 || len(a.Data) < 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(a.Data), true
}

// MEIType returns the MEI type of a normal FC 43 PDU (13 CANopen, 14 Read
// Device Identification).
func (a *ADU) MEIType() (uint8, bool) {
	if a.Function != 43 || len(a.Data) < 1 {
		return 0, false
	}
	return a.Data[0], true
}

// Table is one of the four Modbus data tables.
type Table uint8

// The data tables.
const (
	TableCoils Table = iota
	TableDiscreteInputs
	TableHoldingRegisters
	TableInputRegisters
	numTables
)

var tableNames = [...]string{"coils", "discrete_inputs", "holding_registers", "input_registers"}

// String returns the snake_case name of t.
func (t Table) String() string {
	if int(t) < len(tableNames) {
		return tableNames[t]
	}
	return "unknown"
}

// Access is a range of one data table that a request reads or writes.
type Access struct {
	Table    Table
	Write    bool
	Start    uint16
	Quantity uint16
}

// RequestAccesses returns the table ranges a request reads or writes: one
// for FC 1-6, 15, 16 and 22, two for FC 23 (read and write), none otherwise
// or when the PDU is too short or declares a zero quantity. It does not
// allocate.
func (a *ADU) RequestAccesses() (acc [2]Access, n int) {
	d := a.Data
	u16 := func(i int) uint16 { return binary.BigEndian.Uint16(d[i:]) }
	switch a.Function {
	case 1, 2, 3, 4:
		if len(d) < 4 || u16(2) == 0 {
			return acc, 0
		}
		t := [...]Table{TableCoils, TableDiscreteInputs, TableHoldingRegisters, TableInputRegisters}[a.Function-1]
		acc[0] = Access{Table: t, Start: u16(0), Quantity: u16(2)}
		return acc, 1
	case 5, 6, 22:
		if len(d) < 2 {
			return acc, 0
		}
		t := TableHoldingRegisters
		if a.Function == 5 {
			t = TableCoils
		}
		acc[0] = Access{Table: t, Write: true, Start: u16(0), Quantity: 1}
		return acc, 1
	case 15, 16:
		if len(d) < 4 || u16(2) == 0 {
			return acc, 0
		}
		t := TableHoldingRegisters
		if a.Function == 15 {
			t = TableCoils
		}
		acc[0] = Access{Table: t, Write: true, Start: u16(0), Quantity: u16(2)}
		return acc, 1
	case 23:
		if len(d) < 8 {
			return acc, 0
		}
		if u16(2) != 0 {
			acc[n] = Access{Table: TableHoldingRegisters, Start: u16(0), Quantity: u16(2)}
			n++
		}
		if u16(6) != 0 {
			acc[n] = Access{Table: TableHoldingRegisters, Write: true, Start: u16(4), Quantity: u16(6)}
			n++
		}
		return acc, n
	}
	return acc, 0
}

// CheckPDU reports whether the PDU is long enough for its function code:
// ErrShortPDU when a fixed field or a declared byte count runs past the end
// of the ADU (what tshark flags as a malformed packet). request selects the
// request or the response layout. Unknown function codes and longer PDUs are
// accepted. It does not allocate.
func (a *ADU) CheckPDU(request bool) error {
	d := a.Data
	n := len(d)
	if a.Function&0x80 != 0 {
		if n < 1 {
			return ErrShortPDU
		}
		return nil
	}
	need := 0
	// bc returns the minimum length when a byte count sits at offset i.
	bc := func(i int) int {
		if n <= i {
			return i + 1
		}
		return i + 1 + int(d[i])
	}
	if request {
		switch a.Function {
		case 1, 2, 3, 4, 5, 6:
			need = 4
		case 8, 24:
			need = 2
		case 15, 16:
			need = bc(4)
		case 20, 21:
			need = bc(0)
		case 22:
			need = 6
		case 23:
			need = bc(8)
		case 43:
			need = 1
			if n >= 1 && d[0] == MEIReadDeviceIdentity {
				need = 3
			}
		}
	} else {
		switch a.Function {
		case 1, 2, 3, 4, 12, 17, 20, 21, 23:
			need = bc(0)
		case 5, 6, 11, 15, 16:
			need = 4
		case 7:
			need = 1
		case 8:
			need = 2
		case 22:
			need = 6
		case 24:
			need = 4
		case 43:
			need = 1
			if n >= 1 && d[0] == MEIReadDeviceIdentity {
				var h DeviceIDHeader
				if err := a.DeviceID(&h, nil); err != nil {
					return ErrShortPDU
				}
			}
		}
	}
	if n < need {
		return ErrShortPDU
	}
	return nil
}
