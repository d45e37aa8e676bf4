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
	// ScanUnitThreshold is the number of distinct unit ids one client
	// addresses within Window that raises modbus.scan.
	ScanUnitThreshold int
	// ScanFCThreshold is the number of distinct function codes one client
	// sends within Window that raises modbus.scan.
	ScanFCThreshold int
	// IdentSweepThreshold is the number of distinct (server, unit) targets
	// one client asks for identification (FC 43/14 or FC 17) within Window
	// that raises modbus.identification_sweep.
	IdentSweepThreshold int
	// ExceptionRateThreshold is the share of exception responses (0-1) to one
	// client within Window that raises modbus.exception_rate, once at least
	// ExceptionMinResponses responses were seen.
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
// tables; scan at 20 unit ids or 10 function codes, identification sweep at 4 targets, exception rate 0.5 over at least 20
// responses, malformed flood at 20, window 1 minute.
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
		ScanUnitThreshold:       20,
		ScanFCThreshold:         10,
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
	setInt(&c.IdentSweepThreshold, d.IdentSweepThreshold)
	setInt(&c.ExceptionMinResponses, d.ExceptionMinResponses)
	setInt(&c.MalformedFloodThreshold, d.MalformedFloodThreshold)
	if c.ExceptionRateThreshold <= 0 {
		c.ExceptionRateThreshold = d.ExceptionRateThreshold
	}
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.IdentSweepThreshold > 256 {
		c.IdentSweepThreshold = 256
	}
	return c
}
