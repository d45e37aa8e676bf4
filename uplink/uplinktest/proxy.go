package uplinktest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Bucket is the resolution of the proxy's byte timeline.
const Bucket = 100 * time.Millisecond

// Proxy is a loopback TCP proxy between an MQTT client and a broker that
// injects link faults: Reset cuts the connections, SetDown refuses new ones,
// Blackhole drops the data of the current ones silently, Stall stops reading
// them (the client's socket buffer fills and its writes block), SetRate slows
// them, and DropAtPuback cuts a connection just before the broker's PUBACK
// reaches the client (the broker has the message, the client does not know).
// It counts the bytes that the client sends (upstream) on a timeline, the
// oracle of bandwidth-cap tests.
type Proxy struct {
	ln     net.Listener
	target string
	start  time.Time

	down      atomic.Bool
	hang      atomic.Bool
	rate      atomic.Int64 // bytes/s per direction, 0 = unlimited
	dropAcks  atomic.Int64 // PUBACKs still to cut at
	accepted  atomic.Int64
	upBytes   atomic.Int64
	downBytes atomic.Int64

	mu    sync.Mutex
	links map[*link]struct{}
	up    []int64 // upstream bytes per Bucket since start
}

type link struct {
	client, broker net.Conn
	hole, frozen   atomic.Bool
	once           sync.Once
}

func (l *link) close() {
	l.once.Do(func() {
		// Abortive close (RST), like a cut cable seen from one side.
		for _, c := range []net.Conn{l.client, l.broker} {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
		}
	})
}

// NewProxy listens on a free loopback port and forwards every connection to
// target (host:port). It is closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, start: time.Now(), links: map[*link]struct{}{}}
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port; URL its tcp:// URL.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's tcp:// URL.
func (p *Proxy) URL() string { return "tcp://" + p.Addr() }

func (p *Proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		if p.down.Load() {
			if tc, ok := in.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			in.Close()
			continue
		}
		if p.hang.Load() {
			go p.hold(in)
			continue
		}
		out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		l := &link{client: in, broker: out}
		p.mu.Lock()
		p.links[l] = struct{}{}
		p.mu.Unlock()
		go p.pipe(l, true)
		go p.pipe(l, false)
	}
}

// hold keeps a client connection open without forwarding or answering
// anything, until the client gives up or the proxy closes.
func (p *Proxy) hold(in net.Conn) {
	l := &link{client: in, broker: in}
	l.hole.Store(true)
	p.mu.Lock()
	p.links[l] = struct{}{}
	p.mu.Unlock()
	p.pipe(l, true)
}

// pipe copies one direction of l until either side closes.
func (p *Proxy) pipe(l *link, upstream bool) {
	src, dst := l.broker, l.client
	if upstream {
		src, dst = l.client, l.broker
	}
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	var fr framer
	buf := make([]byte, 32<<10)
	for {
		chunk := buf
		if r := p.rate.Load(); r > 0 {
			chunk = buf[:max(min(int64(len(buf)), r/10), 1)]
		}
		n, err := src.Read(chunk)
		for l.frozen.Load() {
			time.Sleep(20 * time.Millisecond)
		}
		if n > 0 && !l.hole.Load() {
			data := chunk[:n]
			if !upstream {
				from := 0
				if p.dropAcks.Load() > 0 {
					if at := fr.find(data, pubackType); at >= 0 {
						if p.dropAcks.Add(-1) >= 0 {
							_, _ = dst.Write(data[:at])
							return // cut just before the PUBACK
						}
						from = at
					} else {
						from = n
					}
				}
				fr.find(data[from:], noType) // keep following the packet boundaries
			}
			if upstream {
				p.count(n)
			} else {
				p.downBytes.Add(int64(n))
			}
			if _, werr := dst.Write(data); werr != nil {
				return
			}
			if r := p.rate.Load(); r > 0 {
				time.Sleep(time.Duration(float64(n) / float64(r) * float64(time.Second)))
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) count(n int) {
	p.upBytes.Add(int64(n))
	i := int(time.Since(p.start) / Bucket)
	p.mu.Lock()
	for len(p.up) <= i {
		p.up = append(p.up, 0)
	}
	p.up[i] += int64(n)
	p.mu.Unlock()
}

func (p *Proxy) each(f func(*link)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		f(l)
	}
}

// Reset closes every current connection abruptly; new ones work.
func (p *Proxy) Reset() { p.each(func(l *link) { go l.close() }) }

// SetDown takes the link down (true: current connections are reset, new ones
// closed at once) or brings it back up.
func (p *Proxy) SetDown(down bool) {
	p.down.Store(down)
	if down {
		p.Reset()
	}
}

// SetHang makes the link swallow everything (true): current connections
// are blackholed and new ones are accepted but never answered, so that
// connection attempts time out; false lets new connections through again.
func (p *Proxy) SetHang(hang bool) {
	p.hang.Store(hang)
	if hang {
		p.Blackhole()
	}
}

// Blackhole makes every current connection drop its data silently in both
// directions, as a dead link that still looks open; new connections work.
func (p *Proxy) Blackhole() { p.each(func(l *link) { l.hole.Store(true) }) }

// Stall stops reading the current connections: the peers' sockets fill up
// and their writes block, with no error, until Reset or Close.
func (p *Proxy) Stall() { p.each(func(l *link) { l.frozen.Store(true) }) }

// SetRate slows every connection to about bytesPerSecond per direction; 0
// removes the limit.
func (p *Proxy) SetRate(bytesPerSecond int64) { p.rate.Store(bytesPerSecond) }

// DropAtPuback makes the proxy cut the connection n times, each time just
// before a PUBACK from the broker would reach the client.
func (p *Proxy) DropAtPuback(n int) { p.dropAcks.Store(int64(n)) }

// PubacksLeft is how many of the DropAtPuback cuts have not happened yet.
func (p *Proxy) PubacksLeft() int { return int(max(p.dropAcks.Load(), 0)) }

// Accepted counts the connections the proxy accepted.
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// UpstreamBytes and DownstreamBytes count the bytes forwarded from the
// client and from the broker.
func (p *Proxy) UpstreamBytes() int64 { return p.upBytes.Load() }

// DownstreamBytes counts the bytes forwarded from the broker to the client.
func (p *Proxy) DownstreamBytes() int64 { return p.downBytes.Load() }

// Windows returns the upstream bytes of every window of the given width
// (a multiple of Bucket) that starts at a Bucket boundary at or after from
// and ends at or before to: the sliding-window view of the client's rate.
func (p *Proxy) Windows(width time.Duration, from, to time.Time) []int64 {
	w := int(width / Bucket)
	lo, hi := int(from.Sub(p.start)/Bucket), int(to.Sub(p.start)/Bucket)
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int64
	for s := max(lo, 0); s+w <= hi; s++ {
		var sum int64
		for i := s; i < s+w && i < len(p.up); i++ {
			sum += p.up[i]
		}
		out = append(out, sum)
	}
	return out
}

// Close stops accepting and closes every connection.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.Reset()
}

// MQTT control packet types for framer.find: PUBACK, and none.
const (
	pubackType = 4
	noType     = 0xff
)

// framer follows MQTT packet boundaries in one direction of a stream.
type framer struct {
	left int    // bytes of the current packet's body still to come
	hdr  []byte // fixed header read so far
}

// find advances over p and returns the offset of the first packet of type
// typ that starts in p (the framer then stands at that packet, not past it),
// or -1 after consuming all of p.
func (f *framer) find(p []byte, typ byte) int {
	for i := 0; i < len(p); {
		if f.left > 0 {
			k := min(f.left, len(p)-i)
			f.left -= k
			i += k
			continue
		}
		if len(f.hdr) == 0 && p[i]>>4 == typ {
			return i
		}
		f.hdr = append(f.hdr, p[i])
		i++
		if len(f.hdr) >= 2 && f.hdr[len(f.hdr)-1]&0x80 == 0 {
			n, mul := 0, 1
			for _, b := range f.hdr[1:] {
				n += int(b&0x7f) * mul
				mul *= 128
			}
			f.left, f.hdr = n, f.hdr[:0]
		} else if len(f.hdr) > 5 {
			f.hdr = f.hdr[:0] // not MQTT: stop framing sensibly
		}
	}
	return -1
}
