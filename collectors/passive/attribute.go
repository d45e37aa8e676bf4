package passive

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// Limits of local process attribution.
const (
	// MaxCmdline is the most bytes of a command line kept in a
	// LocalProcess (cut at a UTF-8 boundary).
	MaxCmdline = 256
	// DefaultAttributeRefresh is the default of Config.AttributeRefresh.
	DefaultAttributeRefresh = time.Second

	addrsEvery        = time.Minute // how often this host's addresses are read again
	maxPendingLookups = 1024        // connections waiting for the next socket table read
	maxAttributed     = 4096        // connections and flows whose owner is remembered
)

// LocalProcess is the process on this host that owns one end of a TCP
// connection, found in the operating system's socket table during a live
// capture. Fields the agent may not read (another user's process when it
// runs unprivileged) are empty.
type LocalProcess struct {
	PID  int32  `json:"pid"`
	Name string `json:"name,omitempty"`
	Exe  string `json:"exe,omitempty"`
	User string `json:"user,omitempty"`
	// Cmdline is the command line, arguments joined by spaces, clipped to
	// MaxCmdline bytes.
	Cmdline string `json:"cmdline,omitempty"`
}

// socketOwners finds the local process that owns a TCP connection. refresh
// reads the socket table (expensive: on Linux it walks every process's
// file descriptors); owner answers from the last table read. An owner that
// cannot be seen (another user's socket, a socket already closed) is not
// an error: owner returns false. Not safe for concurrent use.
type socketOwners interface {
	// localAddrs returns this host's interface addresses.
	localAddrs() ([]netip.Addr, error)
	// refresh reads the TCP socket table again.
	refresh(ctx context.Context) error
	// owner returns the process owning the connection from local to
	// remote as of the last refresh.
	owner(ctx context.Context, local, remote netip.AddrPort) (LocalProcess, bool)
}

// sockKey identifies a TCP connection from this host's side (the protocol
// being TCP, the 5-tuple).
type sockKey struct {
	local, remote netip.AddrPort
}

// flowID identifies a flow as the analyzers aggregate them.
type flowID struct {
	client netip.Addr
	server netip.AddrPort
}

// attribution is the outcome of one connection's lookup.
type attribution struct {
	proc   LocalProcess
	found  bool
	client bool // the local end is the connection's client
}

// attributor attributes connections that start or end on this host to the
// local process that owns them. The Engine calls note for every new
// connection; refresh reads the socket table for the connections noted
// since the last read, at most once per interval, and never holds the
// Engine's lock while doing so. The outcome is kept per connection and per
// flow in LRU tables of maxAttributed entries.
//
// note, flowOwner and clientOwner are called under the Engine's lock;
// refresh takes that lock itself and is called by one goroutine at a time.
type attributor struct {
	owners   socketOwners // used by refresh only, outside the lock
	interval time.Duration
	log      *slog.Logger
	warned   bool // used by refresh only

	local   map[netip.Addr]struct{} // this host's addresses (loopback is always local)
	addrsAt time.Time               // last read of local
	readAt  time.Time               // last read of the socket table
	pending map[sockKey]bool        // connections to look up; true: the local end is the client
	conns   *bounded.LRU[sockKey, attribution]
	flows   *bounded.LRU[flowID, LocalProcess] // the owner of each flow's latest attributed connection
	// looked counts connections looked up, found those whose owner was
	// found, dropped those not looked up because pending was full.
	looked, found, dropped uint64
}

func newAttributor(o socketOwners, interval time.Duration, log *slog.Logger) *attributor {
	return &attributor{
		owners: o, interval: interval, log: log,
		pending: map[sockKey]bool{},
		conns:   bounded.NewLRU[sockKey, attribution](maxAttributed),
		flows:   bounded.NewLRU[flowID, LocalProcess](maxAttributed),
	}
}

func (a *attributor) isLocal(ip netip.Addr) bool {
	if ip.IsLoopback() {
		return true
	}
	_, ok := a.local[ip]
	return ok
}

// note records a new connection. One whose client (else server) address
// is this host's is queued for the next socket table read, unless it was
// picked up mid-stream (no SYN) and its owner is already known. A SYN
// starts a new socket, so a known owner of the same 5-tuple is forgotten.
func (a *attributor) note(client, server netip.AddrPort, syn bool) {
	var k sockKey
	var isClient bool
	switch {
	case a.isLocal(client.Addr()):
		k, isClient = sockKey{local: client, remote: server}, true
	case a.isLocal(server.Addr()):
		k = sockKey{local: server, remote: client}
	default:
		return
	}
	if n := a.conns.Peek(k); n != nil {
		if !syn {
			a.conns.Touch(n)
			if n.Val.found {
				a.setFlow(k, n.Val)
			}
			return
		}
		n.Val = attribution{}
	}
	if _, ok := a.pending[k]; !ok && len(a.pending) >= maxPendingLookups {
		a.dropped++
		return
	}
	a.pending[k] = isClient
}

// refresh reads this host's addresses when they are older than addrsEvery,
// and the socket table when connections are waiting and the last read is
// at least an interval older than now. mu guards a (and the Engine); the
// operating system is queried without holding it.
func (a *attributor) refresh(ctx context.Context, now time.Time, mu sync.Locker) {
	mu.Lock()
	readAddrs := a.addrsAt.IsZero() || now.Sub(a.addrsAt) >= addrsEvery
	if readAddrs {
		a.addrsAt = now
	}
	var batch map[sockKey]bool
	if len(a.pending) > 0 && (a.readAt.IsZero() || now.Sub(a.readAt) >= a.interval) {
		batch, a.pending = a.pending, map[sockKey]bool{}
		a.readAt = now
	}
	mu.Unlock()

	var local map[netip.Addr]struct{}
	if readAddrs {
		addrs, err := a.owners.localAddrs()
		if err != nil {
			a.log.Warn("read this host's addresses; local process attribution uses the previous ones", "err", err)
		} else {
			local = make(map[netip.Addr]struct{}, len(addrs))
			for _, ip := range addrs {
				local[ip.Unmap()] = struct{}{}
			}
		}
	}
	type result struct {
		k  sockKey
		at attribution
	}
	var found []result
	if batch != nil {
		if err := a.owners.refresh(ctx); err != nil {
			if !a.warned {
				a.log.Warn("read the TCP socket table; connections stay unattributed", "err", err)
				a.warned = true
			}
			batch = nil
		}
		for k, isClient := range batch {
			p, ok := a.owners.owner(ctx, k.local, k.remote)
			found = append(found, result{k, attribution{proc: p, found: ok, client: isClient}})
		}
	}
	if local == nil && found == nil {
		return
	}

	mu.Lock()
	defer mu.Unlock()
	if local != nil {
		a.local = local
	}
	for _, r := range found {
		a.looked++
		n, _ := a.conns.GetOrAdd(r.k)
		n.Val = r.at
		if r.at.found {
			a.found++
			a.setFlow(r.k, r.at)
		}
	}
}

// setFlow makes at's process the owner of the flow of connection k.
func (a *attributor) setFlow(k sockKey, at attribution) {
	id := flowID{client: k.remote.Addr(), server: k.local}
	if at.client {
		id = flowID{client: k.local.Addr(), server: k.remote}
	}
	n, _ := a.flows.GetOrAdd(id)
	n.Val = at.proc
}

// flowOwner returns the owner of the latest attributed connection of the
// flow from client to server, or nil (also when a is nil).
func (a *attributor) flowOwner(client netip.Addr, server netip.AddrPort) *LocalProcess {
	if a == nil {
		return nil
	}
	n := a.flows.Peek(flowID{client: client, server: server})
	if n == nil {
		return nil
	}
	p := n.Val
	return &p
}

// clientOwner returns the process owning the client end of the connection
// from client to server when that end is this host's, or nil (also when a
// is nil).
func (a *attributor) clientOwner(client, server netip.AddrPort) *LocalProcess {
	if a == nil {
		return nil
	}
	n := a.conns.Peek(sockKey{local: client, remote: server})
	if n == nil || !n.Val.found || !n.Val.client {
		return nil
	}
	p := n.Val.proc
	return &p
}

// stats fills the attribution counters of st (nil-safe).
func (a *attributor) stats(st *EngineStats) {
	if a != nil {
		st.LocalLookups, st.LocalAttributed, st.LocalLookupsSkipped = a.looked, a.found, a.dropped
	}
}

// waiting reports whether the connection from client to server, this
// host's end being the client, waits for the next socket table read (false
// when a is nil).
func (a *attributor) waiting(client, server netip.AddrPort) bool {
	if a == nil {
		return false
	}
	isClient, ok := a.pending[sockKey{local: client, remote: server}]
	return ok && isClient
}

// stop forgets the connections waiting for a lookup: the input has ended
// (nil-safe).
func (a *attributor) stop() {
	if a != nil {
		clear(a.pending)
	}
}

// clip returns s cut to at most max bytes, at a UTF-8 boundary.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
