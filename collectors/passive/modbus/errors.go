package modbus

import "errors"

// Sentinel errors of the decoder layer. They are package-level values so that
// a failed decode never allocates; compare with errors.Is.
var (
	// ErrShortFrame is returned when fewer bytes are available than the MBAP
	// header (7 bytes) or than the length the header declares.
	ErrShortFrame = errors.New("modbus: short frame")
	// ErrProtocolID is returned when the MBAP protocol identifier is not 0
	// (Modbus).
	ErrProtocolID = errors.New("modbus: protocol identifier not zero")
	// ErrLength is returned when the MBAP length field is below 2 (unit id plus
	// function code) or above MaxLengthField.
	ErrLength = errors.New("modbus: bad mbap length")
	// ErrTrailingBytes is returned by ADU.DecodeFromBytes when the input holds
	// more bytes than the one ADU its header declares.
	ErrTrailingBytes = errors.New("modbus: trailing bytes after adu")
	// ErrShortPDU is returned when a PDU is shorter than its function code
	// requires (a field or a declared byte count runs past the end of the ADU).
	ErrShortPDU = errors.New("modbus: pdu too short for its function code")
	// ErrNotDeviceID is returned by ADU.DeviceID when the ADU is not a normal
	// (non-exception) FC 43 / MEI 14 Read Device Identification PDU.
	ErrNotDeviceID = errors.New("modbus: not a read device identification pdu")
)
