package passive

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// Limits of local process attribution. The tables hold at most
// maxPendingLookups + 3*maxAttributed entries of a few hundred bytes each
// (a LocalProcess's strings are at most a few hundred bytes, the command
// line MaxCmdline): under 4 MiB in all.
const (
	// MaxCmdline is the most bytes of a command line kept in a
	// LocalProcess (cut at a UTF-8 boundary).
	MaxCmdline = 256

	addrsEvery        = time.Minute // how often this host's addresses are read again
	maxPendingLookups = 1024        // lookups queued for the worker
	maxLookupBatch    = 64          // lookups the worker takes at once
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

// socketOwners finds the local processes that own TCP connections, by
// exact 4-tuple, at the moment it is asked: sock_diag and /proc on Linux,
// GetExtendedTcpTable on Windows. Only the attributor's worker calls
// lookup; localAddrs may be called concurrently with it.
type socketOwners interface {
	// localAddrs returns this host's interface addresses.
	localAddrs() ([]netip.Addr, error)
	// lookup sets the owner of every query's socket that can be seen now.
	// A socket already closed, or another user's while the agent runs
	// unprivileged, is not an error: it stays not found. An error means
	// the socket table could not be asked at all.
	lookup(ctx context.Context, qs []ownerQuery) error
}

// ownerQuery is one connection to look up. client says whether the local
// end is the connection's client; a server end not accepted yet may be
// answered with the owner of its listening socket.
type ownerQuery struct {
	k      sockKey
	client bool
	proc   LocalProcess
	found  bool
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
	client bool      // the local end is the connection's client
	at     time.Time // when the operating system was asked
}

// lookupReq asks the worker to look one connection up. since is when its
// SYN was seen (zero for a connection picked up mid-stream): a result
// obtained before then is about an earlier socket on the same 4-tuple.
type lookupReq struct {
	k      sockKey
	client bool
	since  time.Time
}

// attributor attributes connections that start or end on this host to the
// local process that owns them, by looking each one up by its exact
// 4-tuple as soon as its first segment is seen: the Engine calls note for
// every new connection, and on Linux a SYN tap (see synTap) calls early
// the moment the kernel receives a SYN, before the capture ring hands it
// over. Both only queue a request for the worker (run), which asks the
// operating system outside the Engine's lock, so the packet path never
// waits for it. A full queue drops the request, counted.
//
// note, flowOwner, clientOwner, waiting and stop run under the Engine's
// lock; run takes that lock to store its results; early and tick may run
// on any goroutine.
type attributor struct {
	owners socketOwners
	log    *slog.Logger
	now    func() time.Time
	queue  chan lookupReq

	local   atomic.Pointer[map[netip.Addr]struct{}] // this host's addresses (loopback is always local)
	addrsAt time.Time                               // tick's last read of local; tick only
	dropped atomic.Uint64                           // requests dropped on a full queue

	// The worker's own state.
	warned bool
	recent *bounded.LRU[sockKey, attribution] // its latest results, to answer repeated requests

	// Under the Engine's lock.
	pending map[sockKey]time.Time // connections noted and queued, by since
	conns   *bounded.LRU[sockKey, attribution]
	flows   *bounded.LRU[flowID, LocalProcess] // the owner of each flow's latest attributed connection
	// looked counts sockets looked up in the operating system, found
	// those whose owner was found.
	looked, found uint64
}

func newAttributor(o socketOwners, log *slog.Logger) *attributor {
	return &attributor{
		owners: o, log: log, now: time.Now,
		queue:   make(chan lookupReq, maxPendingLookups),
		recent:  bounded.NewLRU[sockKey, attribution](maxAttributed),
		pending: map[sockKey]time.Time{},
		conns:   bounded.NewLRU[sockKey, attribution](maxAttributed),
		flows:   bounded.NewLRU[flowID, LocalProcess](maxAttributed),
	}
}

func (a *attributor) isLocal(ip netip.Addr) bool {
	if ip.IsLoopback() {
		return true
	}
	if m := a.local.Load(); m != nil {
		_, ok := (*m)[ip.Unmap()]
		return ok
	}
	return false
}

// key returns the connection from client to server as seen from this
// host, and whether this host's end is the client; ok is false when
// neither end is this host's.
func (a *attributor) key(client, server netip.AddrPort) (k sockKey, isClient, ok bool) {
	switch {
	case a.isLocal(client.Addr()):
		return sockKey{local: client, remote: server}, true, true
	case a.isLocal(server.Addr()):
		return sockKey{local: server, remote: client}, false, true
	}
	return sockKey{}, false, false
}

// note records a new connection whose first segment, captured at ts, is
// a SYN when syn is set. One whose client (else server) address is this
// host's is queued for a lookup unless its owner is already known: looked
// up after its SYN (by early), or, picked up mid-stream, at any time.
func (a *attributor) note(client, server netip.AddrPort, syn bool, ts time.Time) {
	k, isClient, ok := a.key(client, server)
	if !ok {
		return
	}
	if !syn {
		ts = time.Time{}
	}
	if n := a.conns.Peek(k); n != nil && !n.Val.at.Before(ts) {
		a.conns.Touch(n)
		if n.Val.found {
			a.setFlow(k, n.Val)
		}
		return
	}
	if since, ok := a.pending[k]; ok && !since.Before(ts) {
		return // already queued
	}
	if len(a.pending) >= maxPendingLookups {
		a.dropped.Add(1)
		return
	}
	if a.send(lookupReq{k: k, client: isClient, since: ts}) {
		a.pending[k] = ts
	}
}

// early queues a lookup of the connection from client to server whose SYN
// the kernel has just received, if one end is this host's. Safe for
// concurrent use.
func (a *attributor) early(client, server netip.AddrPort, now time.Time) {
	if k, isClient, ok := a.key(client, server); ok {
		a.send(lookupReq{k: k, client: isClient, since: now})
	}
}

// send queues r without waiting; a full queue drops it, counted.
func (a *attributor) send(r lookupReq) bool {
	select {
	case a.queue <- r:
		return true
	default:
		a.dropped.Add(1)
		return false
	}
}

// tick reads this host's addresses when they are older than addrsEvery.
// One goroutine calls it (the Collector's ticker).
func (a *attributor) tick(now time.Time) {
	if !a.addrsAt.IsZero() && now.Sub(a.addrsAt) < addrsEvery {
		return
	}
	a.addrsAt = now
	addrs, err := a.owners.localAddrs()
	if err != nil {
		a.log.Warn("read this host's addresses; local process attribution uses the previous ones", "err", err)
		return
	}
	local := make(map[netip.Addr]struct{}, len(addrs))
	for _, ip := range addrs {
		local[ip.Unmap()] = struct{}{}
	}
	a.local.Store(&local)
}

// run is the worker: it takes the queued requests in batches, looks them
// up and stores the results under mu (the Engine's lock), until ctx ends.
func (a *attributor) run(ctx context.Context, mu sync.Locker) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-a.queue:
			a.resolve(ctx, a.take(r), mu)
		}
	}
}

// drain resolves every request queued now (tests).
func (a *attributor) drain(ctx context.Context, mu sync.Locker) {
	for {
		select {
		case r := <-a.queue:
			a.resolve(ctx, a.take(r), mu)
		default:
			return
		}
	}
}

// take returns a batch of first and the requests queued after it, at most
// maxLookupBatch.
func (a *attributor) take(first lookupReq) []lookupReq {
	batch := []lookupReq{first}
	for len(batch) < maxLookupBatch {
		select {
		case r := <-a.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// resolve looks batch up and stores the results. A request whose socket
// was looked up since its SYN (a SYN reported by both early and note) is
// answered from recent without asking the operating system again.
func (a *attributor) resolve(ctx context.Context, batch []lookupReq, mu sync.Locker) {
	res := make([]attribution, len(batch))
	qi := make([]int, len(batch)) // the query answering each request, -1 for recent
	var qs []ownerQuery
	asked := map[sockKey]int{}
	for i, r := range batch {
		qi[i] = -1
		if n := a.recent.Peek(r.k); n != nil && !n.Val.at.Before(r.since) {
			res[i] = n.Val
			continue
		}
		j, ok := asked[r.k]
		if !ok {
			j = len(qs)
			asked[r.k] = j
			qs = append(qs, ownerQuery{k: r.k, client: r.client})
		}
		qi[i] = j
	}
	at := a.now()
	if len(qs) > 0 {
		if err := a.owners.lookup(ctx, qs); err != nil && !a.warned {
			a.log.Warn("look up the owners of this host's connections; they stay unattributed", "err", err)
			a.warned = true
		}
		for _, q := range qs {
			n, _ := a.recent.GetOrAdd(q.k)
			n.Val = attribution{proc: q.proc, found: q.found, client: q.client, at: at}
		}
	}
	for i, j := range qi {
		if j >= 0 {
			res[i] = attribution{proc: qs[j].proc, found: qs[j].found, at: at}
		}
		res[i].client = batch[i].client
	}

	mu.Lock()
	defer mu.Unlock()
	a.looked += uint64(len(qs))
	for _, q := range qs {
		if q.found {
			a.found++
		}
	}
	for i, r := range batch {
		at := res[i]
		if since, ok := a.pending[r.k]; ok && !at.at.Before(since) {
			delete(a.pending, r.k)
		}
		n, _ := a.conns.GetOrAdd(r.k)
		if n.Val.found && !at.found && !n.Val.at.Before(r.since) {
			continue // a later lookup of the same socket came too late
		}
		n.Val = at
		if at.found {
			a.setFlow(r.k, at)
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
		st.LocalLookups, st.LocalAttributed, st.LocalLookupsSkipped = a.looked, a.found, a.dropped.Load()
	}
}

// waiting reports whether the connection from client to server, this
// host's end being the client, waits for its lookup (false when a is nil).
func (a *attributor) waiting(client, server netip.AddrPort) bool {
	if a == nil {
		return false
	}
	_, ok := a.pending[sockKey{local: client, remote: server}]
	return ok
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
