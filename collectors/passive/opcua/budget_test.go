package opcua_test

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"

	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// budgetSession returns a session of a with its own client port.
func budgetSession(a *opcua.Analyzer, i int) *opcua.Session {
	client := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(10000+i))
	return a.NewSession(client, testServer)
}

// TestBufferBudgetAcrossSessions: partial chunks of many sessions share
// MaxBufferedBytes. 1024 sessions each holding 8 KiB of a 200 KiB chunk
// would buffer 8 MiB; with a 1 MiB budget the sessions beyond it drop their
// partial chunk (counted), skip to the next chunk and decode it.
func TestBufferBudgetAcrossSessions(t *testing.T) {
	const (
		sessions = 1024
		part     = 8 << 10
		budget   = 1 << 20
		declared = 200 << 10
	)
	a := opcua.NewAnalyzer(opcua.Config{MaxBufferedBytes: budget})
	// a MSG chunk declaring 200 KiB, of which the first 8 KiB arrive
	big := msg('F', 7, make([]byte, declared-8-16))
	ss := make([]*opcua.Session, sessions)
	before := liveHeap()
	for i := range ss {
		ss[i] = budgetSession(a, i)
		ss[i].Feed(true, big[:part], t0)
	}
	grown := int64(liveHeap()) - int64(before)
	if got := a.BufferedBytes(); got > budget {
		t.Errorf("BufferedBytes = %d, want at most %d", got, budget)
	}
	if grown > 3<<20 {
		t.Errorf("%d sessions with a partial chunk hold %d bytes of heap, want under 3 MiB (budget 1 MiB)", sessions, grown)
	}
	dropped := a.DroppedOverBudget()
	if dropped == 0 || dropped >= sessions {
		t.Fatalf("DroppedOverBudget = %d, want some but not all of %d sessions", dropped, sessions)
	}
	// The rest of the chunk, then a Hello: every chunk is counted, none is
	// malformed, each big chunk is decoded or dropped (sessions growing
	// beyond what is left drop theirs too), and the sessions that dropped
	// theirs decode the next one.
	for i, s := range ss {
		s.Feed(true, big[part:], t0)
		s.Feed(true, hel("opc.tcp://after-drop:4840"), t0)
		if i%2 == 0 {
			s.Close(t0)
		}
	}
	st := a.Stats()
	if st.Messages != 2*sessions || st.MessageTypes["HEL"] != sessions || st.Malformed != 0 ||
		st.DroppedOverBudget < dropped || st.DroppedOverBudget+st.Services["Unknown"] != sessions || len(st.EndpointURLs) != 1 {
		t.Errorf("stats = %+v, want %d chunks, %d HEL, none malformed, at least %d dropped, the others decoded, the Hello's URL",
			st, 2*sessions, sessions, dropped)
	}
	if got := a.BufferedBytes(); got > budget {
		t.Errorf("BufferedBytes = %d, want at most %d", got, budget)
	}
	runtime.KeepAlive(ss)
}

// TestBuffersReleasedAfterUse: a session keeps no buffer once its split
// chunk is complete (it used to keep up to 64 KiB per direction), so idle
// sessions cost no buffer memory whatever they received before.
func TestBuffersReleasedAfterUse(t *testing.T) {
	const sessions = 256
	a := opcua.NewAnalyzer(opcua.Config{})
	noise := msg('F', 7, make([]byte, 60<<10)) // 60 KiB of a service nobody knows
	ss := make([]*opcua.Session, sessions)
	before := liveHeap()
	for i := range ss {
		ss[i] = budgetSession(a, i)
		ss[i].Feed(true, noise[:1000], t0)
		ss[i].Feed(true, noise[1000:], t0)
	}
	grown := int64(liveHeap()) - int64(before)
	if got := a.BufferedBytes(); got > 1<<20 {
		t.Errorf("BufferedBytes = %d after every chunk completed, want at most the 1 MiB of reusable buffers", got)
	}
	if grown > 2<<20 {
		t.Errorf("%d idle sessions hold %d bytes of heap, want under 2 MiB", sessions, grown)
	}
	if st := a.Stats(); st.Messages != sessions || st.DroppedOverBudget != 0 {
		t.Errorf("stats = %+v, want %d chunks, none dropped", st, sessions)
	}
	for _, s := range ss {
		s.Close(t0)
	}
}

// TestBufferBudgetDropsMessage: a multi-chunk message that outgrows the
// budget is dropped whole (its later chunks skipped, no malformed count),
// and the next message of the session is decoded.
func TestBufferBudgetDropsMessage(t *testing.T) {
	t.Parallel()
	a := opcua.NewAnalyzer(opcua.Config{MaxBufferedBytes: 4096})
	steps := noneHandshake()
	part := make([]byte, 3000)
	steps = append(steps, cs(msg('C', 9, part)), cs(msg('C', 9, part)), cs(msg('F', 9, part)),
		cs(msg('F', 10, readRequest("ns=2;s=after"))))
	s := play(a, steps, 0)
	s.Close(t0)
	st := a.Stats()
	if st.DroppedOverBudget != 1 || st.Malformed != 0 || st.Services["ReadRequest"] != 1 || st.MessageTypes["MSG"] != 4 {
		t.Errorf("stats = %+v, want 1 dropped, none malformed, the ReadRequest after it, 4 MSG", st)
	}
	if got := a.BufferedBytes(); got > 4096 {
		t.Errorf("BufferedBytes = %d, want at most 4096", got)
	}
}

// TestBufferBudgetDropsSplitChunkOfMessage: when the intermediate chunk
// that is dropped over the budget was split over Feeds, the rest of its
// message is skipped too rather than decoded from its middle.
func TestBufferBudgetDropsSplitChunkOfMessage(t *testing.T) {
	t.Parallel()
	a := opcua.NewAnalyzer(opcua.Config{MaxBufferedBytes: 1024})
	steps := append(noneHandshake(), cs(msg('C', 9, make([]byte, 3000))), cs(msg('F', 9, readRequest("ns=2;s=middle"))),
		cs(msg('F', 10, readRequest("ns=2;s=after"))))
	s := play(a, steps, 700)
	s.Close(t0)
	st := a.Stats()
	if st.DroppedOverBudget == 0 || st.Malformed != 0 || st.Services["ReadRequest"] != 1 {
		t.Errorf("stats = %+v, want a drop, none malformed, only the ReadRequest after the dropped message", st)
	}
}

// TestSplitChunksDoNotAllocate: buffers given back after a split chunk or a
// multi-chunk message are reused, so a session whose chunks and messages
// always arrive split allocates nothing in the steady state.
func TestSplitChunksDoNotAllocate(t *testing.T) { // not parallel: AllocsPerRun forbids it
	a := opcua.NewAnalyzer(opcua.Config{})
	s := play(a, noneHandshake(), 0)
	req := msg('F', 5, readRequest("ns=2;s=x"))
	part := make([]byte, 3000)
	multi := [][]byte{msg('C', 6, part), msg('C', 6, part), msg('F', 6, part)}
	feed := func() {
		s.Feed(true, req[:10], t0)
		s.Feed(true, req[10:], t0)
		for _, c := range multi {
			s.Feed(false, c[:100], t0)
			s.Feed(false, c[100:], t0)
		}
	}
	feed()
	if n := testing.AllocsPerRun(100, feed); n != 0 {
		t.Errorf("allocs per round of split chunks = %v, want 0", n)
	}
	if a.BufferedBytes() > 64<<10 {
		t.Errorf("BufferedBytes = %d, want the few reusable buffers only", a.BufferedBytes())
	}
}

// TestPolicyURIClipped: each session keeps the security policy URI of its
// channel, so a peer opening many connections with long, distinct URIs
// (4000 bytes each, within MaxStringLen) used to pin 4 KB per connection,
// plus as much again in the Stats set; URIs are now kept up to 256 bytes.
func TestPolicyURIClipped(t *testing.T) {
	const sessions = 2000
	a := opcua.NewAnalyzer(opcua.Config{})
	ss := make([]*opcua.Session, sessions)
	long := make([]byte, 4000)
	for i := range long {
		long[i] = 'p'
	}
	before := liveHeap()
	for i := range ss {
		ss[i] = budgetSession(a, i)
		copy(long, fmt.Sprintf("urn:policy:%06d:", i))
		ss[i].Feed(true, opn(string(long), nil, 1, opnRequest(1)), t0)
	}
	grown := int64(liveHeap()) - int64(before)
	if grown > 6<<20 {
		t.Errorf("%d sessions with a 4000-byte policy URI hold %d bytes of heap, want under 6 MiB", sessions, grown)
	}
	st := a.Stats()
	if len(st.SecurityPolicyURIs) != sessions || len(st.SecurityPolicyURIs[0]) != 256 {
		t.Errorf("%d policy URIs of %d bytes, want %d of 256", len(st.SecurityPolicyURIs), len(st.SecurityPolicyURIs[0]), sessions)
	}
	runtime.KeepAlive(ss)
}
