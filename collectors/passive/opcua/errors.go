package opcua

import "errors"

// Sentinel errors of the decoder layer. They are package-level values so that
// a failed decode never allocates; compare with errors.Is.
var (
	// ErrShortHeader is returned when fewer than 8 bytes (a chunk header) are
	// available.
	ErrShortHeader = errors.New("opcua: short chunk header")
	// ErrMessageType is returned when the first three bytes of a chunk are not
	// one of HEL, ACK, ERR, RHE, OPN, MSG or CLO.
	ErrMessageType = errors.New("opcua: unknown message type")
	// ErrChunkType is returned when the chunk type byte is not valid for the
	// message type (F for every type; C and A only for MSG, OPN and CLO).
	ErrChunkType = errors.New("opcua: bad chunk type")
	// ErrChunkSize is returned when the declared chunk size is below the
	// minimum of its message type or above MaxChunkSizeLimit.
	ErrChunkSize = errors.New("opcua: bad chunk size")
	// ErrTruncated is returned when a field runs past the end of the bytes
	// available (a declared length longer than what remains).
	ErrTruncated = errors.New("opcua: field runs past the end of the message")
	// ErrLength is returned when a string, byte string or array length is
	// negative (other than -1, null) or above a configured limit.
	ErrLength = errors.New("opcua: bad length")
	// ErrArrayTooLong is returned when an array declares more elements than
	// Config.MaxArrayLen.
	ErrArrayTooLong = errors.New("opcua: array longer than the configured limit")
	// ErrEncoding is returned for an unknown NodeId, Variant or extension
	// object encoding.
	ErrEncoding = errors.New("opcua: unknown encoding")
	// ErrNesting is returned when Variants, DataValues or DiagnosticInfos nest
	// deeper than the decoder allows.
	ErrNesting = errors.New("opcua: nesting too deep")
	// ErrNoService is returned by DecodeServiceID when the body does not start
	// with a numeric NodeId (two-byte, four-byte or numeric encoding).
	ErrNoService = errors.New("opcua: no numeric service type id")
)
