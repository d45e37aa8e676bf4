package modbus

import "time"

// Config bounds the Analyzer's tables and sets its detection thresholds.
// A zero or negative field takes the value of DefaultConfig.
type Config struct {
	// MaxPendingPerSession bounds the requests awaiting a response per TCP
	// connection; when full the oldest is dropped and counted unanswered.
	MaxPendingPerSession int
	// MaxDevices bounds the server (ip:port) table (LRU eviction).
	MaxDevices int
	// MaxFlows bounds the (client ip, server ip:port) table (LRU eviction).
	MaxFlows int
	// MaxClients bounds the client ip table (LRU eviction); detection windows
	// live there.
	MaxClients int
	// MaxWriters bounds the table of clients already seen writing (LRU); an
	// evicted writer raises modbus.write_new_master again on its next write.
	MaxWriters int
	// MaxAlerts bounds the alerts held between two TakeAlerts calls; further
	// alerts are dropped and counted by Analyzer.AlertsDropped.
	MaxAlerts int
	// MaxStatsServers bounds the distinct servers, and the device
	// identification objects over all servers and units, kept for Stats.
	MaxStatsServers int
	// MaxTableBytes bounds the bytes of the device, client and flow tables
	// (flows half of it, devices and clients a quarter each; least
	// recently used entries evicted), whatever their entries hold.
	MaxTableBytes int
	// MaxIdentityObjects bounds the device identification objects (unit,
	// object id pairs, each value at most 255 bytes) kept per server in
	// Devices; further objects are counted by IdentityObjectsDropped.
	MaxIdentityObjects int
	// ScanUnitThreshold is the number of distinct unit ids (unit 0
	// excepted) that refused (exception) or did not answer one client's
	// requests within Window, without answering any normally, that raises
	// modbus.scan, when they are at least half of the unit ids it
	// addressed: a gateway's polled units answer, a unit id sweep's do not.
	ScanUnitThreshold int
	// ScanFCThreshold is the number of distinct function codes refused as
	// illegal (exception 1) or unanswered within Window, that the client
	// neither had answered normally nor sent in an earlier Window, that
	// raises modbus.scan when at least half of ScanFCThreshold of them are
	// codes the specification does not assign: an engineering session
	// uses public codes, some of which the device may lack; a sweep tries
	// the unassigned ones too.
	ScanFCThreshold int
	// ScanAddressThreshold is the number of distinct start addresses
	// refused as illegal data addresses (exception 2) to one client within
	// Window that raises modbus.scan, when such refusals are at least half
	// of its requests with table ranges.
	ScanAddressThreshold int
	// IdentSweepThreshold is the number of distinct servers one client
	// asks for identification (FC 43/14 or FC 17) within Window, or half
	// the number of (server, unit) targets that refused or did not answer
	// it, that raises modbus.identification_sweep (an engineering tool asks
	// the few units it configures, and a device may lack the function).
	IdentSweepThreshold int
	// ResponseTimeout is how long a request waits for its response before
	// it counts as unanswered (capture time; also at the connection's end).
	ResponseTimeout time.Duration
	// LearnPeriod is how long after the first ADU (capture time) clients
	// that write are learned without modbus.write_new_master alerts: the
	// baseline of the masters that legitimately write. Zero: none, every
	// client's first write is new.
	LearnPeriod time.Duration
	// ExceptionRateThreshold is the share of exception responses (0-1) to one
	// client within Window that raises modbus.exception_rate, once at least
	// ExceptionMinResponses responses were seen. Exception 1 (illegal
	// function) answers an engineering tool's capability probes and is left
	// out (the function code scan judges it).
	ExceptionRateThreshold float64
	// ExceptionMinResponses is the minimum number of responses in Window
	// before the exception rate is judged.
	ExceptionMinResponses int
	// MalformedFloodThreshold is the number of malformed frames or garbage
	// runs on one client's connections within Window that raises
	// modbus.malformed_flood.
	MalformedFloodThreshold int
	// Window is the sliding (tumbling) window of the per-client detections
	// and the quiet period of repeated per-source alerts.
	Window time.Duration
}

// DefaultConfig returns the defaults: 64 pending requests per session,
// 1024 devices, 4096 flows, 1024 clients, 1024 writers, 1024 alerts,
// 4096 stats servers, 32 identification objects per server, 8 MiB of
// tables; scan at 10 failing unit ids, 8 unsupported function codes or
// 16 refused addresses, identification sweep at 4 targets, exception rate
// 0.5 over at least 20 responses, malformed flood at 20, window 1 minute,
// response timeout 10 seconds, no learning period.
func DefaultConfig() Config {
	return Config{
		MaxPendingPerSession:    64,
		MaxDevices:              1024,
		MaxFlows:                4096,
		MaxClients:              1024,
		MaxWriters:              1024,
		MaxAlerts:               1024,
		MaxStatsServers:         4096,
		MaxIdentityObjects:      32,
		MaxTableBytes:           8 << 20,
		ScanUnitThreshold:       10,
		ScanFCThreshold:         8,
		ScanAddressThreshold:    16,
		ResponseTimeout:         10 * time.Second,
		IdentSweepThreshold:     4,
		ExceptionRateThreshold:  0.5,
		ExceptionMinResponses:   20,
		MalformedFloodThreshold: 20,
		Window:                  time.Minute,
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
	setInt(&c.MaxPendingPerSession, d.MaxPendingPerSession)
	setInt(&c.MaxDevices, d.MaxDevices)
	setInt(&c.MaxFlows, d.MaxFlows)
	setInt(&c.MaxClients, d.MaxClients)
	setInt(&c.MaxWriters, d.MaxWriters)
	setInt(&c.MaxAlerts, d.MaxAlerts)
	setInt(&c.MaxStatsServers, d.MaxStatsServers)
	setInt(&c.MaxIdentityObjects, d.MaxIdentityObjects)
	setInt(&c.MaxTableBytes, d.MaxTableBytes)
	setInt(&c.ScanUnitThreshold, d.ScanUnitThreshold)
	setInt(&c.ScanFCThreshold, d.ScanFCThreshold)
	setInt(&c.ScanAddressThreshold, d.ScanAddressThreshold)
	setInt(&c.IdentSweepThreshold, d.IdentSweepThreshold)
	setInt(&c.ExceptionMinResponses, d.ExceptionMinResponses)
	setInt(&c.MalformedFloodThreshold, d.MalformedFloodThreshold)
	if c.ExceptionRateThreshold <= 0 {
		c.ExceptionRateThreshold = d.ExceptionRateThreshold
	}
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = d.ResponseTimeout
	}
	if c.LearnPeriod < 0 {
		c.LearnPeriod = 0
	}
	if c.ScanAddressThreshold > 1024 {
		c.ScanAddressThreshold = 1024
	}
	if c.IdentSweepThreshold > 256 {
		c.IdentSweepThreshold = 256
	}
	return c
}
