package opcua

import "encoding/binary"

// HeaderLength is the length of an OPC UA Binary chunk header: message type
// (3 bytes), chunk type (1 byte) and message size (uint32, little endian,
// header included).
const HeaderLength = 8

// MaxChunkSizeLimit is the largest chunk size DecodeFromBytes accepts for
// MSG, OPN and CLO chunks (16 MiB); anything larger is taken for garbage.
const MaxChunkSizeLimit = 16 << 20

// maxStringField is the OPC UA limit for the HEL endpoint URL and the ERR
// reason (4096 bytes), plus the fixed fields, bounding HEL/ERR/RHE sizes.
const maxStringField = 4096

// MessageType is the three-letter message type of a chunk as a small integer.
type MessageType uint8

// Message types. TypeInvalid is the zero value.
const (
	TypeInvalid MessageType = iota
	TypeHEL
	TypeACK
	TypeERR
	TypeRHE
	TypeOPN
	TypeMSG
	TypeCLO
	numTypes
)

var typeNames = [numTypes]string{"?", "HEL", "ACK", "ERR", "RHE", "OPN", "MSG", "CLO"}

// String returns the three-letter name ("HEL", ...) or "?".
func (t MessageType) String() string {
	if t >= numTypes {
		return "?"
	}
	return typeNames[t]
}

// minSize is the smallest valid chunk of each type; maxSize the largest.
var minSize = [numTypes]uint32{0, 32, 28, 16, 16, 32, 24, 24}
var maxSize = [numTypes]uint32{0, 32 + maxStringField, 1024, 16 + maxStringField,
	16 + 2*maxStringField, MaxChunkSizeLimit, MaxChunkSizeLimit, MaxChunkSizeLimit}

// ChunkHeader is the 8-byte header of every OPC UA Binary (opc.tcp) chunk.
type ChunkHeader struct {
	// MessageType is "HEL", "ACK", "ERR", "RHE", "OPN", "MSG" or "CLO".
	MessageType [3]byte
	// ChunkType is 'F' (final), 'C' (intermediate) or 'A' (abort).
	ChunkType byte
	// Size is the chunk length in bytes, header included.
	Size uint32
}

// Type returns the message type as a MessageType (TypeInvalid when unknown).
func (h *ChunkHeader) Type() MessageType {
	return typeOf(h.MessageType[0], h.MessageType[1], h.MessageType[2])
}

func typeOf(a, b, c byte) MessageType {
	switch {
	case a == 'H' && b == 'E' && c == 'L':
		return TypeHEL
	case a == 'A' && b == 'C' && c == 'K':
		return TypeACK
	case a == 'E' && b == 'R' && c == 'R':
		return TypeERR
	case a == 'R' && b == 'H' && c == 'E':
		return TypeRHE
	case a == 'O' && b == 'P' && c == 'N':
		return TypeOPN
	case a == 'M' && b == 'S' && c == 'G':
		return TypeMSG
	case a == 'C' && b == 'L' && c == 'O':
		return TypeCLO
	}
	return TypeInvalid
}

// DecodeFromBytes decodes and validates the chunk header at the start of b:
// a known message type, a chunk type valid for it (F; C or A only for MSG,
// OPN and CLO) and a size within the bounds of the type. It resets every
// field first, does not allocate and keeps no reference to b. Errors are the
// sentinels ErrShortHeader, ErrMessageType, ErrChunkType and ErrChunkSize;
// after an error the fields must not be trusted.
func (h *ChunkHeader) DecodeFromBytes(b []byte) error {
	*h = ChunkHeader{}
	if len(b) < HeaderLength {
		return ErrShortHeader
	}
	copy(h.MessageType[:], b[:3])
	h.ChunkType = b[3]
	h.Size = binary.LittleEndian.Uint32(b[4:8])
	t := typeOf(b[0], b[1], b[2])
	if t == TypeInvalid {
		return ErrMessageType
	}
	switch h.ChunkType {
	case 'F':
	case 'C', 'A':
		if t != TypeMSG && t != TypeOPN && t != TypeCLO {
			return ErrChunkType
		}
	default:
		return ErrChunkType
	}
	if h.Size < minSize[t] || h.Size > maxSize[t] {
		return ErrChunkSize
	}
	return nil
}

// Recognize reports whether b starts with a valid Hello chunk header (a new
// OPC UA connection, on any port) or, for a stream picked up mid-session, a
// valid MSG, OPN or CLO chunk header. b needs at least 8 bytes; it is not
// retained. Recognize does not allocate.
func Recognize(b []byte) bool {
	var h ChunkHeader
	if h.DecodeFromBytes(b) != nil {
		return false
	}
	switch h.Type() {
	case TypeHEL, TypeMSG, TypeOPN, TypeCLO:
		return true
	}
	return false
}
