package passive

import (
	"net/netip"
	"unsafe"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// DefaultMemoryBudget is Config.MemoryBudget's default.
const DefaultMemoryBudget = 16 << 20

// Shares of Config.MemoryBudget, in thousandths. What is left (110/1000)
// is headroom for the transient copies a summary or a batch of records
// makes of the tables.
const (
	shareConns        = 300 // connection table: connections and their protocol sessions
	shareReassembly   = 150 // out-of-order TCP data
	shareOPCUABuffers = 100 // OPC UA partial chunks and messages
	shareModbusTables = 100 // Modbus devices, clients, flows
	shareOPCUATables  = 120 // OPC UA applications, flows, Stats strings
	shareMACs         = 20  // source MAC per IP
	shareEvents       = 100 // events waiting for Records (a Collector) or kept for Summary (a replay)
)

// Budget is the byte budget of every table of an Engine, derived from
// Config.MemoryBudget (see the package documentation). The analyzers'
// tables are bounded through modbus.Config.MaxTableBytes and
// opcua.Config.MaxTableBytes and MaxBufferedBytes.
type Budget struct {
	Conns        int64 `json:"conns"`
	Reassembly   int64 `json:"reassembly"`
	OPCUABuffers int64 `json:"opcua_buffers"`
	ModbusTables int64 `json:"modbus_tables"`
	OPCUATables  int64 `json:"opcua_tables"`
	MACs         int64 `json:"macs"`
	Events       int64 `json:"events"`
}

// TableStats are the bytes the bounded tables hold now (the connection
// table's and the reassembly's are in FlowStats and ReassemblyStats).
type TableStats struct {
	ModbusBytes        int   `json:"modbus_bytes"`
	OPCUABytes         int   `json:"opcua_bytes"`
	OPCUABufferedBytes int   `json:"opcua_buffered_bytes"`
	PendingEventBytes  int64 `json:"pending_event_bytes"`
	SummaryEventBytes  int64 `json:"summary_event_bytes"`
	MACs               int   `json:"macs"`
	// Evicted counts the entries each table forgot to stay within its
	// bounds (least recently used first); the connection table's and the
	// MAC table's are in FlowStats.Evicted and EngineStats.MACsEvicted.
	Evicted Evictions `json:"evicted"`
}

// Evictions counts the entries evicted from the analyzers' tables and
// the event rate limiter.
type Evictions struct {
	ModbusDevices uint64 `json:"modbus_devices"`
	ModbusClients uint64 `json:"modbus_clients"`
	ModbusFlows   uint64 `json:"modbus_flows"`
	ModbusWriters uint64 `json:"modbus_writers"`
	OPCUADevices  uint64 `json:"opcua_devices"`
	OPCUAClients  uint64 `json:"opcua_clients"`
	OPCUAFlows    uint64 `json:"opcua_flows"`
	RateLimiter   uint64 `json:"rate_limiter"`
}

// budget splits MemoryBudget; the explicit bounds of c (MaxReassemblyBytes,
// the analyzers' MaxTableBytes and MaxBufferedBytes) can only lower a
// share.
func (c Config) budget() Budget {
	part := func(share int64) int64 { return c.MemoryBudget * share / 1000 }
	lower := func(share int64, explicit int64) int64 { // explicit 0: the analyzer's default
		if explicit > 0 {
			return min(part(share), explicit)
		}
		return part(share)
	}
	return Budget{
		Conns:        part(shareConns),
		Reassembly:   lower(shareReassembly, c.MaxReassemblyBytes),
		OPCUABuffers: lower(shareOPCUABuffers, int64(c.OPCUA.MaxBufferedBytes)),
		ModbusTables: lower(shareModbusTables, int64(c.Modbus.MaxTableBytes)),
		OPCUATables:  lower(shareOPCUATables, int64(c.OPCUA.MaxTableBytes)),
		MACs:         part(shareMACs),
		Events:       part(shareEvents),
	}
}

// applyBudget sets the analyzers' bounds from b.
func (c *Config) applyBudget(b Budget) {
	c.MaxReassemblyBytes = b.Reassembly
	c.OPCUA.MaxBufferedBytes = int(b.OPCUABuffers)
	c.Modbus.MaxTableBytes = int(b.ModbusTables)
	c.OPCUA.MaxTableBytes = int(b.OPCUATables)
}

// macEntries is how many MAC addresses fit in bytes.
func macEntries(bytes int64) int { return max(int(bytes/int64(macEntryBytes())), 64) }

func macEntryBytes() int { return bounded.NodeBytes[netip.Addr, [6]byte]() }

// connBytes is what a tracked connection costs besides its session: the
// conn and its map slot.
const connBytes = int64(unsafe.Sizeof(conn{})+unsafe.Sizeof(flowKey{})) + 24

// memSizer is the optional side of a streamHandler that tells how many
// bytes it holds (modbus.Session, opcua.Session).
type memSizer interface{ MemSize() int }

// eventBytes estimates what an Event holds in memory: the struct, its
// strings and its evidence.
func eventBytes(ev *Event) int64 {
	n := int(unsafe.Sizeof(*ev)) + len(ev.Kind) + len(ev.Severity) + len(ev.Message) + len(ev.Client) + len(ev.Server) + len(ev.Service)
	n += anyBytes(ev.Evidence, 0)
	if ev.LocalProcess != nil {
		n += int(unsafe.Sizeof(*ev.LocalProcess)) + len(ev.LocalProcess.Name) + len(ev.LocalProcess.Exe) + len(ev.LocalProcess.Cmdline) + len(ev.LocalProcess.User)
	}
	return int64(n)
}

// anyBytes estimates the memory of an evidence value (maps, slices,
// strings, scalars).
func anyBytes(v any, depth int) int {
	const word = 16 // interface or string header
	if depth > 4 {
		return word
	}
	switch v := v.(type) {
	case string:
		return word + len(v)
	case []string:
		n := 24
		for _, s := range v {
			n += word + len(s)
		}
		return n
	case map[string]any:
		n := 48
		for k, x := range v {
			n += 16 + len(k) + anyBytes(x, depth+1)
		}
		return n
	case []any:
		n := 24
		for _, x := range v {
			n += anyBytes(x, depth+1)
		}
		return n
	}
	return 2 * word
}
