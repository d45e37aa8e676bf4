package passive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// fakeOwners stands in for the operating system's socket table, which a
// test cannot stage: os is the table "now", as lookup sees it.
type fakeOwners struct {
	addrs                     []netip.Addr
	os                        map[sockKey]LocalProcess
	lookupErr                 error
	addrReads, calls, lookups int
}

func newFakeOwners(local ...string) *fakeOwners {
	f := &fakeOwners{os: map[sockKey]LocalProcess{}}
	for _, s := range local {
		f.addrs = append(f.addrs, netip.MustParseAddr(s))
	}
	return f
}

func (f *fakeOwners) localAddrs() ([]netip.Addr, error) {
	f.addrReads++
	return f.addrs, nil
}

func (f *fakeOwners) lookup(_ context.Context, qs []ownerQuery) error {
	f.calls++
	if f.lookupErr != nil {
		return f.lookupErr
	}
	for i := range qs {
		f.lookups++
		qs[i].proc, qs[i].found = f.os[qs[i].k]
	}
	return nil
}

// set puts the socket from local to remote, owned by p, in the table.
func (f *fakeOwners) set(local, remote string, p LocalProcess) {
	f.os[sockKey{local: netip.MustParseAddrPort(local), remote: netip.MustParseAddrPort(remote)}] = p
}

var _ socketOwners = (*fakeOwners)(nil)

// noLock is the Engine lock of a test that runs everything on one goroutine.
type noLock struct{}

func (noLock) Lock()   {}
func (noLock) Unlock() {}

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// attributed returns an Engine attributing with f, this host's addresses
// already read at t0; its worker's clock reads t0 + 1s.
func attributed(t *testing.T, f *fakeOwners, cfg Config) *Engine {
	t.Helper()
	e, err := NewEngine(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.attributeLocal(f, slog.New(slog.DiscardHandler))
	e.attr.tick(t0)
	e.attr.now = func() time.Time { return t0.Add(time.Second) }
	return e
}

// framesOf returns the frames of the capture gen writes.
func framesOf(t *testing.T, gen func(w *pcapgen.Writer) error) []Packet {
	t.Helper()
	src, err := OpenFile(genFile(t, gen))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []Packet
	for {
		p, err := src.ReadPacket(context.Background())
		if err != nil {
			return out
		}
		p.Data = bytes.Clone(p.Data)
		out = append(out, p)
	}
}

func processAll(e *Engine, frames []Packet) {
	for _, p := range frames {
		e.Process(p)
	}
}

// TestAttributionRecords runs connections of this host (192.168.1.10) as a
// Modbus client and as a server, and of other hosts, through an Engine and
// checks which flow and event records carry which local process.
func TestAttributionRecords(t *testing.T) {
	t.Parallel()
	f := newFakeOwners("192.168.1.10", "fe80::1")
	python := LocalProcess{PID: 4242, Name: "python.exe", Exe: `C:\Python312\python.exe`, User: `PLANT\eng`, Cmdline: "python.exe write.py"}
	slave := LocalProcess{PID: 77, Name: "modbus-slave", User: "plc"}
	f.set("192.168.1.10:40001", "192.168.1.20:502", python)
	f.set("192.168.1.10:502", "192.168.1.31:40004", slave)
	// 192.168.1.10:40003 -> 192.168.1.21:502 is another user's socket: no pid, not in the table.
	e := attributed(t, f, DefaultConfig())
	processAll(e, framesOf(t, func(w *pcapgen.Writer) error {
		var errs []error
		conv := func(client, server string, write bool) {
			c := w.Conn(ap(client), ap(server))
			req, resp := pcapgen.ReadHolding(1, 1, 0, 4)
			if write {
				req, resp = pcapgen.WriteSingle(1, 1, 9, 1)
			}
			errs = append(errs, c.Handshake(), c.Send(true, req), c.Send(false, resp))
		}
		conv("192.168.1.10:40001", "192.168.1.20:502", true)    // this host's python writes
		conv("192.168.1.30:40002", "192.168.1.20:502", true)    // another host writes
		conv("192.168.1.10:40003", "192.168.1.21:502", false)   // this host, owner not visible
		conv("192.168.1.31:40004", "192.168.1.10:502", true)    // another host writes to this host's server
		conv("192.168.1.30:40005", "192.168.1.10:40006", false) // not Modbus: never dispatched
		return errors.Join(errs...)
	}))
	if f.calls != 0 {
		t.Fatalf("socket table asked %d times on the packet path", f.calls)
	}
	e.attr.drain(t.Context(), noLock{})
	if f.calls != 1 || f.lookups != 3 {
		t.Errorf("%d calls, %d lookups: want 1 call for the 3 connections of this host", f.calls, f.lookups)
	}
	if st := e.Stats(); st.LocalLookups != 3 || st.LocalAttributed != 2 || st.LocalLookupsSkipped != 0 {
		t.Errorf("stats: %d lookups, %d attributed, %d skipped; want 3, 2, 0", st.LocalLookups, st.LocalAttributed, st.LocalLookupsSkipped)
	}
	e.Flush(time.Time{})

	gotFlows := map[string]*LocalProcess{}
	gotEvents := map[string]*LocalProcess{}
	for _, r := range e.Records(t0.Add(2 * time.Second)) {
		switch b := r.Body.(type) {
		case Flow:
			gotFlows[r.Key] = b.LocalProcess
		case Event:
			gotEvents[b.Kind+" "+b.Client+"->"+b.Server] = b.LocalProcess
		}
	}
	wantFlows := map[string]*LocalProcess{
		"modbus:192.168.1.10->192.168.1.20:502": &python,
		"modbus:192.168.1.30->192.168.1.20:502": nil,
		"modbus:192.168.1.10->192.168.1.21:502": nil,
		"modbus:192.168.1.31->192.168.1.10:502": &slave, // this host is the server
	}
	if diff := cmp.Diff(wantFlows, gotFlows); diff != "" {
		t.Errorf("flow local_process (-want +got):\n%s", diff)
	}
	wantEvents := map[string]*LocalProcess{
		"modbus.write_new_master 192.168.1.10->192.168.1.20:502": &python,
		"modbus.write_new_master 192.168.1.30->192.168.1.20:502": nil,
		"modbus.write_new_master 192.168.1.31->192.168.1.10:502": nil, // the client is not this host
	}
	if diff := cmp.Diff(wantEvents, gotEvents); diff != "" {
		t.Errorf("event local_process (-want +got):\n%s", diff)
	}
}

// TestAttributionEventsPerConnection: two processes of this host talk to
// the same PLC; the flow names the owner of its latest attributed
// connection, but the event names the process of the connection that
// raised it.
func TestAttributionEventsPerConnection(t *testing.T) {
	t.Parallel()
	f := newFakeOwners("10.0.0.1")
	tia := LocalProcess{PID: 10, Name: "Siemens.Automation.Portal.exe"}
	py := LocalProcess{PID: 11, Name: "python.exe"}
	f.set("10.0.0.1:40001", "10.0.0.2:502", py)
	f.set("10.0.0.1:40002", "10.0.0.2:502", tia)
	e := attributed(t, f, DefaultConfig())
	var n int
	frames := framesOf(t, func(w *pcapgen.Writer) error {
		a := w.Conn(ap("10.0.0.1:40001"), ap("10.0.0.2:502"))
		diag := pcapgen.ADU(1, 1, 8, 0, 1, 0, 0)
		if err := errors.Join(a.Handshake(), a.Send(true, diag)); err != nil {
			return err
		}
		n = w.Frames()
		b := w.Conn(ap("10.0.0.1:40002"), ap("10.0.0.2:502"))
		req, resp := pcapgen.ReadHolding(1, 1, 0, 4)
		return errors.Join(b.Handshake(), b.Send(true, req), b.Send(false, resp))
	})
	processAll(e, frames[:n])
	e.attr.drain(t.Context(), noLock{}) // python's connection
	processAll(e, frames[n:])
	e.attr.drain(t.Context(), noLock{}) // then TIA Portal's
	e.Flush(time.Time{})
	var got []string
	for _, r := range e.Records(t0.Add(3 * time.Second)) {
		var p *LocalProcess
		switch b := r.Body.(type) {
		case Flow:
			p = b.LocalProcess
		case Event:
			p = b.LocalProcess
		default:
			continue
		}
		name := "<nil>"
		if p != nil {
			name = p.Name
		}
		got = append(got, r.Kind+" "+name)
	}
	want := []string{"modbus.diagnostic python.exe", "net.flow Siemens.Automation.Portal.exe"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestAttributionOPCUA: an OPC UA client of this host (a write to a PLC
// over a None channel) gets its flow and its events attributed.
func TestAttributionOPCUA(t *testing.T) {
	t.Parallel()
	f := newFakeOwners("10.0.0.1")
	uaexpert := LocalProcess{PID: 9, Name: "uaexpert.exe"}
	f.set("10.0.0.1:50000", "10.0.0.2:4840", uaexpert)
	e := attributed(t, f, DefaultConfig())
	processAll(e, framesOf(t, func(w *pcapgen.Writer) error {
		c := w.Conn(ap("10.0.0.1:50000"), ap("10.0.0.2:4840"))
		return errors.Join(c.Handshake(),
			c.Send(true, pcapgen.Hello("opc.tcp://plc:4840")), c.Send(false, pcapgen.Ack()),
			c.Send(true, pcapgen.Open(pcapgen.PolicyNone, nil, 1, pcapgen.OpenRequest(1))),
			c.Send(false, pcapgen.Open(pcapgen.PolicyNone, nil, 1, pcapgen.OpenResponse())),
			c.Send(true, pcapgen.Msg(2, pcapgen.CreateSessionRequest("urn:hmi", nil))),
			c.Send(true, pcapgen.Msg(3, pcapgen.ActivateSessionRequest(pcapgen.TokenAnonymous, pcapgen.AnonymousToken()))),
			c.Send(false, pcapgen.Msg(3, pcapgen.ActivateSessionResponse(0))),
			c.Send(true, pcapgen.Msg(4, pcapgen.WriteRequest("valve"))))
	}))
	e.attr.drain(t.Context(), noLock{})
	e.Flush(time.Time{})
	var kinds []string
	for _, r := range e.Records(t0.Add(2 * time.Second)) {
		var p *LocalProcess
		switch b := r.Body.(type) {
		case Flow:
			p = b.LocalProcess
		case Event:
			p = b.LocalProcess
		default:
			continue
		}
		kinds = append(kinds, r.Kind)
		if p == nil || *p != uaexpert {
			t.Errorf("%s local_process = %+v, want %+v", r.Kind, p, uaexpert)
		}
	}
	want := []string{"opcua.security_none", "opcua.anonymous_session", "opcua.write_new_client", "net.flow"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestAttributionHoldsEvents: an event of a connection still waiting for
// its lookup is held back by Records until the socket table was read, or
// until the input ends.
func TestAttributionHoldsEvents(t *testing.T) {
	t.Parallel()
	py := LocalProcess{PID: 11, Name: "python.exe"}
	gen := func(w *pcapgen.Writer) error {
		c := w.Conn(ap("10.0.0.1:40001"), ap("10.0.0.2:502"))
		req, resp := pcapgen.WriteSingle(1, 1, 9, 1)
		return errors.Join(c.Handshake(), c.Send(true, req), c.Send(false, resp))
	}
	events := func(recs []collectors.Record) []string {
		var out []string
		for _, r := range recs {
			if ev, ok := r.Body.(Event); ok {
				name := "<nil>"
				if ev.LocalProcess != nil {
					name = ev.LocalProcess.Name
				}
				out = append(out, ev.Kind+" "+name)
			}
		}
		return out
	}
	t.Run("until looked up", func(t *testing.T) {
		t.Parallel()
		f := newFakeOwners("10.0.0.1")
		f.set("10.0.0.1:40001", "10.0.0.2:502", py)
		e := attributed(t, f, DefaultConfig())
		processAll(e, framesOf(t, gen))
		e.Flush(t0)
		if got := events(e.Records(t0)); len(got) != 0 {
			t.Errorf("events before the lookup: %v", got)
		}
		e.attr.drain(t.Context(), noLock{})
		if diff := cmp.Diff([]string{"modbus.write_new_master python.exe"}, events(e.Records(t0.Add(time.Second)))); diff != "" {
			t.Errorf("events after the lookup (-want +got):\n%s", diff)
		}
	})
	t.Run("until the input ends", func(t *testing.T) {
		t.Parallel()
		f := newFakeOwners("10.0.0.1")
		e := attributed(t, f, DefaultConfig())
		processAll(e, framesOf(t, gen))
		e.Flush(time.Time{})
		if diff := cmp.Diff([]string{"modbus.write_new_master <nil>"}, events(e.Records(t0))); diff != "" {
			t.Errorf("events at the end of input (-want +got):\n%s", diff)
		}
		if f.calls != 0 {
			t.Errorf("%d socket table calls", f.calls)
		}
	})
}

// TestAttributionEarly: the SYN tap reports a connection before the
// capture ring hands its SYN over; by then the socket may be closed. The
// owner found early stands: the ring's SYN (captured before the lookup)
// queues nothing, and a late lookup of the closed socket in the same batch
// is not made at all.
func TestAttributionEarly(t *testing.T) {
	t.Parallel()
	cli, plc := netip.MustParseAddrPort("10.0.0.1:40001"), netip.MustParseAddrPort("10.0.0.9:502")
	hmi := LocalProcess{PID: 5, Name: "hmi"}
	syn := t0.Add(time.Second - time.Millisecond) // the worker's clock reads t0+1s
	t.Run("looked up before the ring's SYN", func(t *testing.T) {
		t.Parallel()
		f := newFakeOwners("10.0.0.1")
		f.set(cli.String(), plc.String(), hmi)
		e := attributed(t, f, DefaultConfig())
		e.attr.early(cli, plc, syn)
		e.attr.drain(t.Context(), noLock{})
		clear(f.os) // the short connection has ended
		e.attr.note(cli, plc, true, syn)
		e.attr.drain(t.Context(), noLock{})
		if got := e.attr.clientOwner(cli, plc); got == nil || *got != hmi {
			t.Errorf("owner = %+v, want %+v", got, hmi)
		}
		if f.lookups != 1 || e.attr.waiting(cli, plc) {
			t.Errorf("%d lookups, waiting %v; want 1, false", f.lookups, e.attr.waiting(cli, plc))
		}
	})
	t.Run("both queued", func(t *testing.T) {
		t.Parallel()
		f := newFakeOwners("10.0.0.1")
		f.set(cli.String(), plc.String(), hmi)
		e := attributed(t, f, DefaultConfig())
		e.attr.early(cli, plc, syn)
		e.attr.note(cli, plc, true, syn)
		if !e.attr.waiting(cli, plc) {
			t.Error("a noted connection does not wait for its lookup")
		}
		e.attr.drain(t.Context(), noLock{})
		if f.calls != 1 || f.lookups != 1 {
			t.Errorf("%d calls, %d lookups; want one lookup for both requests", f.calls, f.lookups)
		}
		if got := e.attr.clientOwner(cli, plc); got == nil || *got != hmi || e.attr.waiting(cli, plc) {
			t.Errorf("owner = %+v, waiting %v; want %+v, false", got, e.attr.waiting(cli, plc), hmi)
		}
	})
	t.Run("a miss never replaces an owner", func(t *testing.T) {
		t.Parallel()
		f := newFakeOwners("10.0.0.1")
		f.set(cli.String(), plc.String(), hmi)
		e := attributed(t, f, DefaultConfig())
		a := e.attr
		a.early(cli, plc, syn)
		a.drain(t.Context(), noLock{})
		clear(f.os)
		a.recent = bounded.NewLRU[sockKey, attribution](maxAttributed) // the worker forgets
		a.note(cli, plc, false, syn)                                   // picked up mid-stream: known
		a.early(cli, plc, syn)                                         // a retransmitted SYN
		a.drain(t.Context(), noLock{})
		if got := a.clientOwner(cli, plc); got == nil || *got != hmi {
			t.Errorf("owner after a late miss = %+v, want %+v", got, hmi)
		}
	})
	t.Run("not this host", func(t *testing.T) {
		t.Parallel()
		f := newFakeOwners("10.0.0.1")
		e := attributed(t, f, DefaultConfig())
		e.attr.early(netip.MustParseAddrPort("10.0.0.7:40001"), plc, syn)
		e.attr.note(netip.MustParseAddrPort("10.0.0.7:40001"), plc, true, syn)
		e.attr.drain(t.Context(), noLock{})
		if f.calls != 0 {
			t.Errorf("%d lookups of another host's connection", f.calls)
		}
	})
}

// TestAttributionCache checks the per-connection cache: a connection picked
// up again mid-stream (after an idle expiry) reuses its owner without a
// lookup; a new SYN on the same 4-tuple after the lookup is a new socket
// and is looked up.
func TestAttributionCache(t *testing.T) {
	t.Parallel()
	f := newFakeOwners("10.0.0.1")
	first := LocalProcess{PID: 1, Name: "first"}
	second := LocalProcess{PID: 2, Name: "second"}
	f.set("10.0.0.1:40001", "10.0.0.9:502", first)
	e := attributed(t, f, DefaultConfig())
	a := e.attr
	cli, plc := netip.MustParseAddrPort("10.0.0.1:40001"), netip.MustParseAddrPort("10.0.0.9:502")
	a.note(cli, plc, true, t0)
	a.drain(t.Context(), noLock{})
	a.flows = bounded.NewLRU[flowID, LocalProcess](maxAttributed) // the flow table forgets
	a.note(cli, plc, false, t0.Add(time.Minute))
	if len(a.pending) != 0 {
		t.Errorf("a known connection picked up mid-stream waits for a lookup: %v", a.pending)
	}
	if got := a.flowOwner(cli.Addr(), plc); got == nil || *got != first {
		t.Errorf("flow owner from the cache = %+v, want %+v", got, first)
	}
	f.set("10.0.0.1:40001", "10.0.0.9:502", second)
	a.now = func() time.Time { return t0.Add(2 * time.Minute) }
	a.note(cli, plc, true, t0.Add(time.Minute))
	a.drain(t.Context(), noLock{})
	if f.calls != 2 || f.lookups != 2 {
		t.Errorf("%d calls, %d lookups; want 2, 2", f.calls, f.lookups)
	}
	if got := a.clientOwner(cli, plc); got == nil || *got != second {
		t.Errorf("owner after the new SYN = %+v, want %+v", got, second)
	}
}

// TestAttributionBounds checks that the queue, the connection cache and
// the flow table stay within their bounds, and that requests over the
// queue's bound are dropped and counted.
func TestAttributionBounds(t *testing.T) {
	t.Parallel()
	f := newFakeOwners("10.0.0.1")
	e := attributed(t, f, DefaultConfig())
	a := e.attr
	port := 1
	for round := range 5 {
		for range maxPendingLookups + 10 {
			// distinct server addresses make distinct flows
			srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(port >> 8), byte(port)}), 502)
			cli := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(port))
			f.os[sockKey{local: cli, remote: srv}] = LocalProcess{PID: int32(port)}
			a.note(cli, srv, true, t0)
			port++
		}
		if len(a.pending) != maxPendingLookups || len(a.queue) != maxPendingLookups {
			t.Fatalf("round %d: %d waiting, %d queued; want the bound %d", round, len(a.pending), len(a.queue), maxPendingLookups)
		}
		a.drain(t.Context(), noLock{})
	}
	if st := e.Stats(); st.LocalLookupsSkipped != 50 || st.LocalLookups != 5*maxPendingLookups || st.LocalAttributed != 5*maxPendingLookups {
		t.Errorf("stats %+v; want 50 skipped, %d looked up and attributed", st, 5*maxPendingLookups)
	}
	if a.conns.Len() != maxAttributed || a.flows.Len() != maxAttributed || a.recent.Len() != maxAttributed {
		t.Errorf("cache %d, flows %d, recent %d entries; want the bound %d", a.conns.Len(), a.flows.Len(), a.recent.Len(), maxAttributed)
	}
	if want := uint64(5*maxPendingLookups - maxAttributed); a.conns.Evicted != want || a.flows.Evicted != want {
		t.Errorf("evicted %d connections, %d flows; want %d", a.conns.Evicted, a.flows.Evicted, want)
	}
}

// TestAttributionErrors: a socket table that cannot be asked leaves the
// connections unattributed with one warning, never an error; this host's
// addresses are read again only after a while.
func TestAttributionErrors(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	f := newFakeOwners("10.0.0.1")
	f.lookupErr = errors.New("permission denied")
	a := newAttributor(f, slog.New(slog.NewTextHandler(&logs, nil)))
	a.tick(t0)
	plc := netip.MustParseAddrPort("10.0.0.9:502")
	for i := range 3 {
		a.note(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+i)), plc, true, t0)
		a.drain(t.Context(), noLock{})
		a.tick(t0.Add(time.Duration(i+1) * time.Second))
	}
	if f.calls != 3 || a.found != 0 || len(a.pending) != 0 {
		t.Errorf("calls %d, found %d, waiting %d after failed lookups; want 3, 0, 0", f.calls, a.found, len(a.pending))
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	if f.addrReads != 1 {
		t.Errorf("addresses read %d times within a minute, want 1", f.addrReads)
	}
	a.tick(t0.Add(addrsEvery))
	if f.addrReads != 2 {
		t.Errorf("addresses read %d times after a minute, want 2", f.addrReads)
	}
}

// TestAttributionWorker runs the worker goroutine as the Collector does and
// checks that it looks a noted connection up without being driven.
func TestAttributionWorker(t *testing.T) {
	t.Parallel()
	f := newFakeOwners("10.0.0.1")
	hmi := LocalProcess{PID: 5, Name: "hmi"}
	f.set("10.0.0.1:40001", "10.0.0.9:502", hmi)
	a := newAttributor(f, slog.New(slog.DiscardHandler))
	a.tick(t0)
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { a.run(ctx, &mu); close(done) }()
	cli, plc := netip.MustParseAddrPort("10.0.0.1:40001"), netip.MustParseAddrPort("10.0.0.9:502")
	mu.Lock()
	a.note(cli, plc, true, t0)
	mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		got := a.clientOwner(cli, plc)
		mu.Unlock()
		if got != nil {
			if *got != hmi {
				t.Errorf("owner %+v, want %+v", got, hmi)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker did not look the connection up")
		}
	}
	cancel()
	<-done
}

// TestProcessDoesNotAllocateWithAttribution: with attribution on and the
// connection this host's, established segments still allocate nothing.
func TestProcessDoesNotAllocateWithAttribution(t *testing.T) { // not parallel: AllocsPerRun forbids it
	f := newFakeOwners("10.0.0.1")
	e := attributed(t, f, DefaultConfig())
	frames := framesOf(t, func(w *pcapgen.Writer) error {
		c := w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:502"))
		if err := c.Handshake(); err != nil {
			return err
		}
		for i := range 2000 {
			req, resp := pcapgen.ReadHolding(uint16(i), 1, 0, 8)
			if err := errors.Join(c.Send(true, req), c.Send(false, resp)); err != nil {
				return err
			}
		}
		return nil
	})
	i := 0
	for ; i < 1000; i++ {
		e.Process(frames[i])
	}
	e.attr.drain(t.Context(), noLock{})
	if len(e.attr.pending) != 0 || f.lookups != 1 {
		t.Fatalf("waiting %d, lookups %d: the connection was not looked up", len(e.attr.pending), f.lookups)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		e.Process(frames[i])
		e.Process(frames[i+1])
		i += 2
	})
	if allocs != 0 {
		t.Errorf("Process allocates %.2f times per request/response pair", allocs)
	}
}

// TestReplayNeverAttributes replays a capture of this host's loopback
// traffic through the Collector: attribution is on, but a file's sockets
// are not this host's, so the socket table is never read.
func TestReplayNeverAttributes(t *testing.T) {
	t.Parallel()
	f := newFakeOwners()
	path := genFile(t, func(w *pcapgen.Writer) error {
		c := w.Conn(ap("127.0.0.1:40000"), ap("127.0.0.1:502"))
		req, resp := pcapgen.WriteSingle(1, 1, 9, 1)
		return errors.Join(c.Handshake(), c.Send(true, req), c.Send(false, resp), c.Close())
	})
	cfg := DefaultConfig()
	cfg.Files = []string{path}
	col, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	col.owners = func() socketOwners { return f }
	var mu sync.Mutex
	var flows []Flow
	emit := collectors.RecordFunc(func(_ context.Context, r collectors.Record) error {
		if fl, ok := r.Body.(Flow); ok {
			mu.Lock()
			flows = append(flows, fl)
			mu.Unlock()
		}
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, emit) }() // idles once the file is done
	for deadline := time.Now().Add(time.Minute); col.Stats().Files[0].State != FileDone; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("file not replayed: %+v", col.Stats().Files)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.addrReads != 0 || f.calls != 0 {
		t.Errorf("replay queried the host: %d address reads, %d socket table calls", f.addrReads, f.calls)
	}
	if len(flows) != 1 || flows[0].LocalProcess != nil {
		t.Errorf("flows = %+v, want one without local_process", flows)
	}
}

// TestStartAttribution checks when the Collector turns attribution on for
// its live capture.
func TestStartAttribution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		on     bool
		owners socketOwners // nil: no socket table on this system
		want   bool
	}{
		{"on", true, newFakeOwners("10.0.0.1"), true},
		{"off in the config", false, newFakeOwners("10.0.0.1"), false},
		{"no socket table", true, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.AttributeLocal = tc.on
			col, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			called := false
			col.owners = func() socketOwners { called = true; return tc.owners }
			a := col.startAttribution()
			if (a != nil) != tc.want || (col.eng.attr != nil) != tc.want {
				t.Fatalf("attributor %v, engine's %v; want on=%v", a, col.eng.attr, tc.want)
			}
			if !tc.on && called {
				t.Error("the socket table reader was made with attribution off")
			}
			if tc.want && !a.isLocal(netip.MustParseAddr("10.0.0.1")) {
				t.Error("this host's addresses were not read at start")
			}
		})
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"", 4, ""},
		{"abcd", 4, "abcd"},
		{"abcde", 4, "abcd"},
		{"ab€", 4, "ab"},   // € is 3 bytes: cutting inside it drops it
		{"ab€x", 5, "ab€"}, // ends right after €
		{"€€", 3, "€"},
		{strings.Repeat("x", 300), MaxCmdline, strings.Repeat("x", MaxCmdline)},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q/%d", tc.in, tc.max), func(t *testing.T) {
			t.Parallel()
			if got := clip(tc.in, tc.max); got != tc.want {
				t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}
