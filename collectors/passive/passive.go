package passive

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
	"github.com/edgeward/edgeward/collectors/passive/modbus"
	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// Limits of the Engine's own tables (the byte budgets are in Budget).
const (
	eventInterval   = time.Minute // one event per (kind, source) per minute; the rest are counted
	maxRateKeys     = 4096
	maxSummaryEvent = 10000 // events kept for Summary
	maxCyclePackets = 1 << 18
)

// Engine turns captured frames into protocol statistics, assets, flows and
// events: it decodes link, IP and TCP headers by hand (no allocation per
// packet), reassembles each TCP direction, and feeds Modbus/TCP
// connections to a modbus.Analyzer and OPC UA Binary connections to an
// opcua.Analyzer. An Engine is not safe for concurrent
// use; one goroutine owns it.
type Engine struct {
	cfg        Config
	budget     Budget
	log        *slog.Logger
	core       *core
	mb         *modbus.Analyzer
	ua         *opcua.Analyzer
	ouiFailed  bool
	suppressed uint64
	limiter    *rateLimiter
	attr       *attributor // nil unless local process attribution is on (live capture)
	// forSummary keeps events for Summary (a replay) rather than for
	// Records (a Collector).
	forSummary bool
	// pending are the events due on the next Records call (pendingBytes of
	// them, within Budget.Events; pendingDropped beyond).
	pending        []pendingEvent
	pendingBytes   int64
	pendingDropped uint64
	// events are kept for Summary (eventsBytes of them, within
	// Budget.Events and maxSummaryEvent; eventsCut beyond).
	events      []Event
	eventsBytes int64
	eventsCut   uint64
	active      map[activeKey]ActiveIdentity // active identifications (MergeActive), at most maxActive
	activeDue   map[netip.Addr]bool          // assets with an active identity not yet emitted
	// lastRec is the newest capture time covered by the last Records call
	// (the zero time before the first call); maxTS is the newest packet
	// time processed.
	lastRec, maxTS time.Time
	recorded       bool
	capture        SourceStats
}

// NewEngine returns an Engine for cfg (zero fields take their defaults).
// log may be nil.
func NewEngine(cfg Config, log *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := cfg.budget()
	cfg.applyBudget(b)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		cfg: cfg, budget: b, log: log,
		core:    newCore(cfg.Ports.Modbus, cfg.Ports.OPCUA, cfg.MaxFlows, cfg.FlowIdleTimeout, defaultFlowBuffer, cfg.MaxReassemblyBytes),
		mb:      modbus.NewAnalyzer(cfg.Modbus),
		ua:      opcua.NewAnalyzer(cfg.OPCUA),
		limiter: newRateLimiter(eventInterval, maxRateKeys),
	}
	e.core.connBudget = b.Conns
	e.core.macs = bounded.NewLRU[netip.Addr, [6]byte](macEntries(b.MACs))
	e.core.modbus = func(client, server netip.AddrPort) streamHandler { return e.mb.NewSession(client, server) }
	e.core.opcua = func(client, server netip.AddrPort) streamHandler { return e.ua.NewSession(client, server) }
	return e, nil
}

// Process decodes one frame, reassembles its TCP payload and dispatches it
// to the protocol analyzer of its connection. p.Data is not retained. Every
// frame is counted; none is fatal. The alerts the frame raised pass the
// rate limit at once, so that no alert queue builds up.
func (e *Engine) Process(p Packet) {
	if p.Timestamp.After(e.maxTS) {
		e.maxTS = p.Timestamp
	}
	e.core.process(&p)
	e.collectAlerts()
}

// Budget returns the byte budget of each table.
func (e *Engine) Budget() Budget { return e.budget }

// Flush forces gaps for out-of-order data held longer than the gap timeout
// and ends connections idle for longer than Config.FlowIdleTimeout, as of
// now (capture time in a replay, wall time live). The zero time ends every
// connection (end of input).
func (e *Engine) Flush(now time.Time) {
	e.core.flush(now)
	e.collectAlerts()
	if now.IsZero() {
		e.attr.stop() // end of input: events no longer wait for lookups
	}
}

// collectAlerts moves analyzer alerts through the rate limiter: the Modbus
// alerts first, then the OPC UA ones (each analyzer's in time order). A
// Modbus alert is held back only by one of the same kind, source and
// severity, so that a refused attempt (low) does not hide the executed
// change (medium or higher) that follows it.
func (e *Engine) collectAlerts() {
	for _, a := range e.mb.TakeAlerts() {
		if ok, suppressed := e.limiter.allow(a.Kind+" "+a.Severity, a.Client, a.Time); ok {
			e.emitEvent(eventOf(a, suppressed), netip.AddrPortFrom(a.Client, a.ClientPort), a.Server)
		} else {
			e.suppressed++
		}
	}
	for _, a := range e.ua.TakeAlerts() {
		if ok, suppressed := e.limiter.allow(a.Kind, a.Client, a.Time); ok {
			e.emitEvent(opcuaEventOf(a, suppressed), netip.AddrPortFrom(a.Client, a.ClientPort), a.Server)
		} else {
			e.suppressed++
		}
	}
}

// pendingEvent is an event waiting for Records, with the connection that
// raised it.
type pendingEvent struct {
	ev             Event
	client, server netip.AddrPort
	bytes          int64
}

// emitEvent queues ev, raised on the connection from client to server, for
// Records, or keeps it for Summary, within their budgets.
func (e *Engine) emitEvent(ev Event, client, server netip.AddrPort) {
	n := eventBytes(&ev)
	if e.forSummary {
		if len(e.events) >= maxSummaryEvent || e.eventsBytes+n > e.budget.Events {
			e.eventsCut++
			return
		}
		e.events = append(e.events, ev)
		e.eventsBytes += n
		return
	}
	if e.pendingBytes+n > e.budget.Events {
		e.pendingDropped++
		return
	}
	e.pending = append(e.pending, pendingEvent{ev: ev, client: client, server: server, bytes: n})
	e.pendingBytes += n
}

// pendingFull reports whether the events waiting for Records fill half of
// their budget: a file replay then ends its emission cycle.
func (e *Engine) pendingFull() bool { return e.pendingBytes >= e.budget.Events/2 }

// Records returns the records due at now: a threat record per event that
// passed the rate limit since the last call, and a net.asset and net.flow
// state record for every asset and flow that saw traffic since the last
// call (cumulative counts; the buffer keeps only the latest state per key).
// Records sets Class, Kind, Key, Severity, Time and Body; the agent stamps
// the rest. With local process attribution on, a flow carries the owner
// of its latest attributed connection, and an event the owner of the
// client end of the connection that raised it; an event whose connection
// is still waiting for the socket table to be read (within a second or so
// of its start) is held for the next call, unless Flush ended the input.
//
// "Since the last call" is judged on capture time, not on now: a live
// capture hands packets over late (ring block timeout, backlog under load),
// so a packet stamped before the last call may be processed after it.
func (e *Engine) Records(now time.Time) []collectors.Record {
	out := e.Events()
	since, all := e.lastRec, !e.recorded
	e.recorded = true
	hw := e.maxTS
	due := func(last time.Time) bool {
		if last.After(hw) {
			hw = last
		}
		return all || last.After(since)
	}
	for _, a := range e.assets() {
		// An identification time is not a capture time: it never moves
		// the mark of what was recorded.
		if traffic := !a.activeOnly && due(a.LastSeen); traffic || e.activeDueFor(a.IP) {
			out = append(out, assetRecord(a, now))
		}
	}
	clear(e.activeDue)
	for _, f := range e.mb.Flows() {
		if due(f.LastSeen) {
			fl := flowOf(f)
			fl.LocalProcess = e.attr.flowOwner(f.Client, f.Server)
			out = append(out, flowRecord(fl, now))
		}
	}
	for _, f := range e.ua.Flows() {
		if due(f.LastSeen) {
			fl := opcuaFlowOf(f)
			fl.LocalProcess = e.attr.flowOwner(f.Client, f.Server)
			out = append(out, flowRecord(fl, now))
		}
	}
	e.lastRec = hw
	return out
}

// Events returns a threat record for each event that passed the rate
// limit since the last Records or Events call, as Records does, without the
// asset and flow records.
func (e *Engine) Events() []collectors.Record {
	e.collectAlerts()
	var out []collectors.Record
	var wait []pendingEvent
	e.pendingBytes = 0
	for _, p := range e.pending {
		if e.attr.waiting(p.client, p.server) {
			wait = append(wait, p) // its owner is looked up before the next call
			e.pendingBytes += p.bytes
			continue
		}
		p.ev.LocalProcess = e.attr.clientOwner(p.client, p.server)
		out = append(out, eventRecord(p.ev))
	}
	e.pending = wait
	return out
}

// attributeLocal turns local process attribution on with o as the socket
// table, logging to log: from now on every new connection is checked
// against this host's addresses. The Collector calls it before its live
// capture starts, never for replays (a file's sockets are not this host's).
func (e *Engine) attributeLocal(o socketOwners, log *slog.Logger) {
	e.attr = newAttributor(o, log)
	e.core.onOpen = e.attr.note
}

// assets merges the Modbus and OPC UA tables and the active
// identifications per IP address.
func (e *Engine) assets() []Asset {
	return e.mergeActive(buildAssets(e.mb.Devices(), e.mb.Clients(), e.ua.Devices(), e.core.macs, e.ouiTable()))
}

// ouiTable returns the embedded OUI table, loaded once per process on first
// use (assets only need it).
func (e *Engine) ouiTable() *ouiTable {
	t, err := sharedOUI()
	if err != nil && !e.ouiFailed {
		e.log.Warn("no MAC vendor names", "err", err)
		e.ouiFailed = true
	}
	return t
}

// SetCaptureStats records the capture sources' counters (kernel and driver
// drops) so that Stats reports them.
func (e *Engine) SetCaptureStats(s SourceStats) { e.capture = s }

// Stats returns a snapshot of the engine's counters: packets, bytes,
// decode outcomes, reassembly, connection table and capture drops.
func (e *Engine) Stats() EngineStats {
	st := e.core.snapshot()
	st.Capture = e.capture
	st.EventsSuppressed = e.suppressed
	st.OPCUADroppedOverBudget = e.ua.DroppedOverBudget()
	st.ModbusIdentityObjectsDropped = e.mb.IdentityObjectsDropped()
	st.EventsDropped = e.limiter.dropped + e.mb.AlertsDropped() + e.ua.AlertsDropped() + e.pendingDropped
	st.Tables = TableStats{
		ModbusBytes: e.mb.TableBytes(), OPCUABytes: e.ua.TableBytes(), OPCUABufferedBytes: e.ua.BufferedBytes(),
		PendingEventBytes: e.pendingBytes, SummaryEventBytes: e.eventsBytes,
		MACs: e.core.macs.Len(),
	}
	ev := &st.Tables.Evicted
	ev.ModbusDevices, ev.ModbusClients, ev.ModbusFlows, ev.ModbusWriters = e.mb.Evictions()
	ev.OPCUADevices, ev.OPCUAClients, ev.OPCUAFlows = e.ua.Evictions()
	ev.RateLimiter = e.limiter.t.Evicted
	st.Budget = e.budget
	e.attr.stats(&st)
	return st
}
