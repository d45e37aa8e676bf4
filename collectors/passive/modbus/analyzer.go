package modbus

import (
	"net/netip"
	"sort"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// Analyzer turns the ADUs of many Modbus/TCP sessions into counts, device,
// client and flow tables and alerts. Every table is bounded (LRU). It is not
// safe for concurrent use: one capture goroutine owns it and its sessions.
type Analyzer struct {
	cfg Config

	stats   counters
	devices *bounded.LRU[netip.AddrPort, deviceState]
	clients *bounded.LRU[netip.Addr, clientState]
	flows   *bounded.LRU[flowKey, flowState]
	writers *bounded.LRU[netip.Addr, struct{}]
	// writerCache holds learned writers' entries by the last byte of the
	// client address, so that a write finds its client's entry without a
	// map lookup (checkWriter).
	writerCache [64]*bounded.Node[netip.Addr, struct{}]
	quiet       *bounded.Quiet[quietKey]
	alerts      *bounded.Queue[Alert]

	// start is the capture time of the first ADU (Config.LearnPeriod).
	start time.Time
	// learnedGen changes when a writer is learned or start is set (Learned).
	learnedGen uint64

	// identDropped counts device identification objects not stored
	// because a bound (MaxIdentityObjects, MaxStatsServers) was reached.
	identDropped uint64

	// aduFree holds partial-ADU buffers given back by sessions, for reuse
	// (at most maxFreeADUBufs).
	aduFree []*[MaxADULength]byte
}

// IdentityObjectsDropped returns how many device identification objects
// were not stored because a server already had MaxIdentityObjects of them
// (Devices) or Stats already held MaxStatsServers; a dropped object may be
// counted once for each.
func (a *Analyzer) IdentityObjectsDropped() uint64 { return a.identDropped }

// maxFreeADUBufs bounds the partial-ADU buffers kept for reuse (64 KiB).
const maxFreeADUBufs = 64

// counters are the capture-wide figures behind Stats.
type counters struct {
	adus, requests, responses, malformed uint64
	fcReq, fcResp                        [128]uint64
	exc                                  [256]uint64
	units                                bitset256
	servers                              map[netip.AddrPort]struct{}
	ident                                map[identKey]map[uint8]string
	identN                               int // objects in ident
}

type identKey struct {
	server netip.AddrPort
	unit   uint8
}

type flowKey struct {
	client netip.Addr
	server netip.AddrPort
}

// bitset256 is a set of uint8 values.
type bitset256 [4]uint64

func (b *bitset256) add(v uint8) bool {
	w, m := v>>6, uint64(1)<<(v&63)
	if b[w]&m != 0 {
		return false
	}
	b[w] |= m
	return true
}

func (b *bitset256) list() []uint8 {
	var out []uint8
	for v := 0; v < 256; v++ {
		if b[v>>6]&(1<<(uint(v)&63)) != 0 {
			out = append(out, uint8(v))
		}
	}
	return out
}

type deviceState struct {
	first, last                     time.Time
	units                           bitset256 // unit ids answered without exception
	served                          bitset256 // function codes answered without exception
	refused                         []outcomeSet
	noResponse                      outcomeSet
	broadcasts                      uint64
	requests, responses, exceptions uint64
	ident                           map[uint8]map[uint8]string // unit -> object id -> value
	identN                          int                        // objects in ident
	identBytes                      int                        // memory of ident, kept by setIdent
}

const maxServersPerClient = 64

type clientState struct {
	first, last         time.Time
	wrote               bool
	requests, responses uint64
	fcsOK               bitset256 // function codes ever answered normally to it
	fcsHist             bitset256 // function codes it sent in earlier windows
	servers             []netip.AddrPort
	win                 clientWindow
}

// clientWindow holds one client's counters for the current detection window.
type clientWindow struct {
	start   int64 // Unix nanoseconds
	started bool
	// unitsTried are the unit ids of resolved requests (unit 0 excepted),
	// unitsOK those answered normally; fcsFailed the function codes
	// refused as illegal (exception 1) or unanswered.
	unitsTried, unitsOK, fcsFailed bitset256
	fcsTried                       bitset256
	// dataRequests counts resolved requests with table ranges,
	// addrRefused those refused as illegal data address (exception 2) and
	// addrTargets their distinct start addresses (up to the threshold).
	dataRequests, addrRefused int
	addrTargets               []addrKey
	responses, exceptions     int
	malformed                 int
	idTargets                 []identTarget
	fired                     uint8 // winFired* bits
}

// addrKey is a start address in one table.
type addrKey struct {
	table Table
	start uint16
}

// identTarget is a (server, unit) asked for identification in a window,
// with whether it ever answered normally.
type identTarget struct {
	identKey
	ok bool
}

const (
	winFiredScanUnits = 1 << iota
	winFiredScanFCs
	winFiredIdent
	winFiredExceptions
	winFiredMalformed
	winFiredScanAddrs
)

type fcCount struct {
	fc                              uint8
	requests, responses, exceptions uint64
}

type flowState struct {
	first, last                     time.Time
	fcs                             []fcCount
	units                           bitset256           // answered normally
	read, written                   [numTables]rangeSet // answered normally
	refused                         []outcomeRanges
	noResponse                      outcomeRanges
	broadcasts                      uint64
	rangeCap                        int // intervals allocated in all range sets
	requests, responses, exceptions uint64
	bytesToServer, bytesToClient    uint64
	malformed, unanswered           uint64
	unmatched                       uint64
}

func (f *flowState) fc(fc uint8) *fcCount {
	for i := range f.fcs {
		if f.fcs[i].fc == fc {
			return &f.fcs[i]
		}
	}
	f.fcs = append(f.fcs, fcCount{fc: fc})
	return &f.fcs[len(f.fcs)-1]
}

// NewAnalyzer returns an Analyzer with cfg (zero fields take defaults).
func NewAnalyzer(cfg Config) *Analyzer {
	cfg = cfg.withDefaults()
	a := &Analyzer{
		cfg:     cfg,
		stats:   counters{servers: make(map[netip.AddrPort]struct{}), ident: make(map[identKey]map[uint8]string)},
		devices: bounded.NewLRU[netip.AddrPort, deviceState](cfg.MaxDevices),
		clients: bounded.NewLRU[netip.Addr, clientState](cfg.MaxClients),
		flows:   bounded.NewLRU[flowKey, flowState](cfg.MaxFlows),
		writers: bounded.NewLRU[netip.Addr, struct{}](cfg.MaxWriters),
		quiet:   bounded.NewQuiet[quietKey](4*cfg.MaxClients, cfg.Window),
		alerts:  bounded.NewQueue[Alert](cfg.MaxAlerts),
	}
	a.setBudgets()
	return a
}

// Config returns the effective configuration (defaults filled in).
func (a *Analyzer) Config() Config { return a.cfg }

// Device is what the analyzer knows of one Modbus server (ip:port).
type Device struct {
	Server netip.AddrPort `json:"server"`
	// UnitIDs are the unit ids that answered a request normally (no
	// exception), sorted: the device's units. A unit id only ever refused
	// (as gateway exceptions 10 and 11 do for absent units) or unanswered,
	// and unit 0 used for broadcasts, is in Refused or NoResponse only.
	UnitIDs []uint8 `json:"unit_ids"`
	// FunctionCodes are the function codes the server answered without an
	// exception, sorted.
	FunctionCodes []uint8 `json:"function_codes"`
	// Identification holds the FC 43/14 objects seen in responses, per unit
	// (at most Config.MaxIdentityObjects over all units).
	Identification []UnitIdentification `json:"identification,omitempty"`
	// Refused holds the requests answered by an exception, one entry per
	// exception code (at most 8 codes), in the order first seen;
	// NoResponse those that got no response (nil when none); Broadcasts
	// counts requests to unit 0 without a response (by design).
	Refused    []Outcome `json:"refused,omitempty"`
	NoResponse *Outcome  `json:"no_response,omitempty"`
	Broadcasts uint64    `json:"broadcasts"`
	Requests   uint64    `json:"requests"`
	Responses  uint64    `json:"responses"`
	Exceptions uint64    `json:"exceptions"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
}

// UnitIdentification is the device identification of one unit: object id
// (0 VendorName, 1 ProductCode, 2 MajorMinorRevision, 3 VendorURL,
// 4 ProductName, 5 ModelName, 6 UserApplicationName, ...) to value.
type UnitIdentification struct {
	UnitID  uint8            `json:"unit_id"`
	Objects map[uint8]string `json:"objects"`
}

// Client is what the analyzer knows of one Modbus client (master) ip.
type Client struct {
	Addr netip.Addr `json:"addr"`
	// Servers it talked to (at most 64, first seen first).
	Servers   []netip.AddrPort `json:"servers"`
	Wrote     bool             `json:"wrote"`
	Requests  uint64           `json:"requests"`
	Responses uint64           `json:"responses"`
	FirstSeen time.Time        `json:"first_seen"`
	LastSeen  time.Time        `json:"last_seen"`
}

// FunctionCount counts one function code in a flow.
type FunctionCount struct {
	Function   uint8  `json:"function"`
	Name       string `json:"name"`
	Class      string `json:"class"`
	Requests   uint64 `json:"requests"`
	Responses  uint64 `json:"responses"`
	Exceptions uint64 `json:"exceptions"`
}

// AddressRanges are merged address ranges per data table.
type AddressRanges struct {
	Coils            []Range `json:"coils,omitempty"`
	DiscreteInputs   []Range `json:"discrete_inputs,omitempty"`
	HoldingRegisters []Range `json:"holding_registers,omitempty"`
	InputRegisters   []Range `json:"input_registers,omitempty"`
}

// Flow summarises the traffic between one client ip and one server
// ip:port over all their connections.
type Flow struct {
	Client        netip.Addr      `json:"client"`
	Server        netip.AddrPort  `json:"server"`
	FunctionCodes []FunctionCount `json:"function_codes"`
	// UnitIDs, Read and Written are the unit ids and address ranges of the
	// requests answered normally; Refused (per exception code, at most 8)
	// and NoResponse hold those of the others, Broadcasts counts requests
	// to unit 0 without a response (never unanswered).
	UnitIDs    []uint8       `json:"unit_ids"`
	Read       AddressRanges `json:"read"`
	Written    AddressRanges `json:"written"`
	Refused    []Outcome     `json:"refused,omitempty"`
	NoResponse *Outcome      `json:"no_response,omitempty"`
	Broadcasts uint64        `json:"broadcasts"`
	Requests   uint64        `json:"requests"`
	Responses  uint64        `json:"responses"`
	Exceptions uint64        `json:"exceptions"`
	// Unanswered counts requests without a response (within
	// Config.ResponseTimeout, before the connection ended or the pending
	// table dropped them), unit 0 broadcasts excepted; Unmatched counts responses
	// whose transaction id matched no pending request.
	Unanswered    uint64    `json:"unanswered"`
	Unmatched     uint64    `json:"unmatched"`
	Malformed     uint64    `json:"malformed"`
	BytesToServer uint64    `json:"bytes_to_server"`
	BytesToClient uint64    `json:"bytes_to_client"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
}

// Devices returns the server table, sorted by server address. The result is
// a copy.
func (a *Analyzer) Devices() []Device {
	out := make([]Device, 0, a.devices.Len())
	a.devices.Each(func(n *bounded.Node[netip.AddrPort, deviceState]) {
		d := &n.Val
		dv := Device{
			Server: n.Key, UnitIDs: d.units.list(), FunctionCodes: d.served.list(),
			Requests: d.requests, Responses: d.responses, Exceptions: d.exceptions,
			FirstSeen: d.first, LastSeen: d.last, Broadcasts: d.broadcasts,
		}
		for i := range d.refused {
			dv.Refused = append(dv.Refused, d.refused[i].export())
		}
		if d.noResponse.requests > 0 {
			o := d.noResponse.export()
			dv.NoResponse = &o
		}
		for _, u := range sortedKeys(d.ident) {
			objs := make(map[uint8]string, len(d.ident[u]))
			for k, v := range d.ident[u] {
				objs[k] = v
			}
			dv.Identification = append(dv.Identification, UnitIdentification{UnitID: u, Objects: objs})
		}
		out = append(out, dv)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Server.Compare(out[j].Server) < 0 })
	return out
}

// Clients returns the client table, sorted by address. The result is a copy.
func (a *Analyzer) Clients() []Client {
	out := make([]Client, 0, a.clients.Len())
	a.clients.Each(func(n *bounded.Node[netip.Addr, clientState]) {
		c := &n.Val
		out = append(out, Client{
			Addr: n.Key, Servers: append([]netip.AddrPort(nil), c.servers...), Wrote: c.wrote,
			Requests: c.requests, Responses: c.responses, FirstSeen: c.first, LastSeen: c.last,
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Less(out[j].Addr) })
	return out
}

// Flows returns the flow table, sorted by client then server. The result is
// a copy.
func (a *Analyzer) Flows() []Flow {
	out := make([]Flow, 0, a.flows.Len())
	a.flows.Each(func(n *bounded.Node[flowKey, flowState]) {
		f := &n.Val
		fl := Flow{
			Client: n.Key.client, Server: n.Key.server, UnitIDs: f.units.list(),
			Requests: f.requests, Responses: f.responses, Exceptions: f.exceptions,
			Unanswered: f.unanswered, Unmatched: f.unmatched, Malformed: f.malformed,
			BytesToServer: f.bytesToServer, BytesToClient: f.bytesToClient,
			FirstSeen: f.first, LastSeen: f.last,
		}
		for _, c := range f.fcs {
			fl.FunctionCodes = append(fl.FunctionCodes, FunctionCount{
				Function: c.fc, Name: FunctionName(c.fc), Class: Classify(c.fc).String(),
				Requests: c.requests, Responses: c.responses, Exceptions: c.exceptions,
			})
		}
		sort.Slice(fl.FunctionCodes, func(i, j int) bool { return fl.FunctionCodes[i].Function < fl.FunctionCodes[j].Function })
		fl.Read = rangesOf(&f.read)
		fl.Written = rangesOf(&f.written)
		fl.Broadcasts = f.broadcasts
		for i := range f.refused {
			fl.Refused = append(fl.Refused, f.refused[i].export())
		}
		if f.noResponse.requests > 0 {
			o := f.noResponse.export()
			fl.NoResponse = &o
		}
		out = append(out, fl)
	})
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Client.Compare(out[j].Client); c != 0 {
			return c < 0
		}
		return out[i].Server.Compare(out[j].Server) < 0
	})
	return out
}

func rangesOf(s *[numTables]rangeSet) AddressRanges {
	return AddressRanges{
		Coils:            s[TableCoils].ranges(),
		DiscreteInputs:   s[TableDiscreteInputs].ranges(),
		HoldingRegisters: s[TableHoldingRegisters].ranges(),
		InputRegisters:   s[TableInputRegisters].ranges(),
	}
}

func sortedKeys[V any](m map[uint8]V) []uint8 {
	ks := make([]uint8, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

// Evictions returns how many entries each bounded table has evicted so far.
func (a *Analyzer) Evictions() (devices, clients, flows, writers uint64) {
	return a.devices.Evicted, a.clients.Evicted, a.flows.Evicted, a.writers.Evicted
}

// TakeAlerts returns the alerts raised since the last call, oldest first,
// and forgets them.
func (a *Analyzer) TakeAlerts() []Alert { return a.alerts.Take() }

// AlertsDropped returns how many alerts were dropped because MaxAlerts were
// already waiting for TakeAlerts.
func (a *Analyzer) AlertsDropped() uint64 { return a.alerts.Dropped }
