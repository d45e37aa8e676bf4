package uplink

import (
	"net"
	"sync/atomic"
	"time"
)

// wireConn is the TCP connection under MQTT (and TLS): it counts the bytes
// written, which the bandwidth cap charges, and remembers when bytes were
// last read, which tells a live link from a silent one.
type wireConn struct {
	net.Conn
	written  atomic.Int64
	lastRead atomic.Int64 // unix nanoseconds
}

func newWireConn(c net.Conn) *wireConn {
	w := &wireConn{Conn: c}
	w.lastRead.Store(time.Now().UnixNano())
	return w
}

func (w *wireConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if n > 0 {
		w.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

func (w *wireConn) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	w.written.Add(int64(n))
	return n, err
}

// silentFor returns how long nothing was read, as of now; 0 for a nil w.
func (w *wireConn) silentFor(now time.Time) time.Duration {
	if w == nil {
		return 0
	}
	return now.Sub(time.Unix(0, w.lastRead.Load()))
}
