package opcua

import "time"

// Config bounds the decoder and the Analyzer's tables and sets the detection
// thresholds. A zero or negative field takes the value of DefaultConfig.
type Config struct {
	// MaxChunkSize is how many bytes of one chunk are buffered for decoding
	// when it arrives split over several Feeds. Larger chunks are still
	// counted; their body is decoded from this prefix only.
	MaxChunkSize int
	// MaxMessageSize bounds the body of a message reassembled from several
	// chunks (C ... F); beyond it the fields are not decoded, the service is
	// still counted from the first chunk.
	MaxMessageSize int
	// MaxBufferedBytes bounds the bytes buffered for partial chunks and
	// partial multi-chunk messages over all sessions of an Analyzer. A
	// session that needs more than is left drops its partial chunk and
	// message (counted in Stats.DroppedOverBudget) and resumes at the next
	// chunk.
	MaxBufferedBytes int
	// MaxChunksPerMessage bounds the chunks of one reassembled message.
	MaxChunksPerMessage int
	// MaxArrayLen bounds every array length read from the wire.
	MaxArrayLen int
	// MaxStringLen bounds every string kept from the wire (longer strings are
	// truncated when copied).
	MaxStringLen int
	// MaxPendingPerSession bounds the requests awaiting a response per TCP
	// connection (for request/response matching).
	MaxPendingPerSession int
	// MaxDevices bounds the server and client application table (LRU).
	MaxDevices int
	// MaxFlows bounds the (client ip, server ip:port) table (LRU).
	MaxFlows int
	// MaxClients bounds the per-client detection state (writers, callers,
	// windows; LRU).
	MaxClients int
	// MaxAlerts bounds the alerts held between two TakeAlerts calls.
	MaxAlerts int
	// MaxStatsEntries bounds the distinct servers, endpoint URLs, policy URIs
	// and service ids kept for Stats.
	MaxStatsEntries int
	// MaxTableBytes bounds the bytes of the device and flow tables (3/8
	// each; least recently used entries evicted) and of the endpoint URLs
	// and policy URIs kept for Stats (1/8), whatever their entries hold.
	MaxTableBytes int
	// CertExpiryWarning raises opcua.cert_expiring for a certificate whose
	// NotAfter is closer than this to the capture time.
	CertExpiryWarning time.Duration
	// BruteForceThreshold is the number of authentication failures
	// (BadUserAccessDenied, BadIdentityTokenInvalid/Rejected,
	// BadUserSignatureInvalid, in a ServiceFault or ActivateSessionResponse)
	// to one client within Window that raises opcua.brute_force.
	BruteForceThreshold int
	// ErrFloodThreshold is the number of ERR chunks to one client within
	// Window that raises opcua.err_flood.
	ErrFloodThreshold int
	// Window is the tumbling window of the per-client detections and the
	// quiet period of repeated alerts.
	Window time.Duration
}

// DefaultConfig returns the defaults: chunks buffered up to 256 KiB,
// messages reassembled up to 1 MiB from at most 64 chunks, 16 MiB buffered
// over all sessions, arrays of at most
// 65536 elements, strings kept up to 4096 bytes, 64 pending requests per
// session, 1024 devices, 4096 flows, 1024 clients, 1024 alerts, 4096 stats
// entries, 8 MiB of tables; certificate warning 30 days before expiry, brute force at 5
// authentication failures, ERR flood at 10, window 1 minute.
func DefaultConfig() Config {
	return Config{
		MaxChunkSize:         256 << 10,
		MaxMessageSize:       1 << 20,
		MaxBufferedBytes:     16 << 20,
		MaxChunksPerMessage:  64,
		MaxArrayLen:          65536,
		MaxStringLen:         4096,
		MaxPendingPerSession: 64,
		MaxDevices:           1024,
		MaxFlows:             4096,
		MaxClients:           1024,
		MaxAlerts:            1024,
		MaxStatsEntries:      4096,
		MaxTableBytes:        8 << 20,
		CertExpiryWarning:    30 * 24 * time.Hour,
		BruteForceThreshold:  5,
		ErrFloodThreshold:    10,
		Window:               time.Minute,
	}
}

// withDefaults fills zero or negative fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setInt(&c.MaxChunkSize, d.MaxChunkSize)
	setInt(&c.MaxMessageSize, d.MaxMessageSize)
	setInt(&c.MaxBufferedBytes, d.MaxBufferedBytes)
	setInt(&c.MaxChunksPerMessage, d.MaxChunksPerMessage)
	setInt(&c.MaxArrayLen, d.MaxArrayLen)
	setInt(&c.MaxStringLen, d.MaxStringLen)
	setInt(&c.MaxPendingPerSession, d.MaxPendingPerSession)
	setInt(&c.MaxDevices, d.MaxDevices)
	setInt(&c.MaxFlows, d.MaxFlows)
	setInt(&c.MaxClients, d.MaxClients)
	setInt(&c.MaxAlerts, d.MaxAlerts)
	setInt(&c.MaxStatsEntries, d.MaxStatsEntries)
	setInt(&c.MaxTableBytes, d.MaxTableBytes)
	setInt(&c.BruteForceThreshold, d.BruteForceThreshold)
	setInt(&c.ErrFloodThreshold, d.ErrFloodThreshold)
	if c.CertExpiryWarning <= 0 {
		c.CertExpiryWarning = d.CertExpiryWarning
	}
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.MaxChunkSize < HeaderLength+24 {
		c.MaxChunkSize = HeaderLength + 24
	}
	return c
}
