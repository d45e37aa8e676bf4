package passive

import (
	"errors"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// TestTCPEdgeCases replays generated captures of TCP behaviour that real
// traffic shows and checks the streams handed to the session.
func TestTCPEdgeCases(t *testing.T) {
	t.Parallel()
	const (
		cli = "10.0.0.1:40000"
		srv = "10.0.0.2:502"
	)
	tests := []struct {
		name             string
		gen              func(c *pcapgen.Conn) error
		wantCli, wantSrv string
		wantGaps         int
		wantSessions     int
	}{
		{"sequence wrap-around", func(c *pcapgen.Conn) error {
			c.ClientSeq, c.ServerSeq = 0xfffffffa, 0xfffffffe
			if err := c.Handshake(); err != nil {
				return err
			}
			s := c.Split(true, []byte("0123456789abcdef"), 4, 8, 12)
			r := c.Split(false, []byte("ABCDEFGH"), 3)
			return c.Write(s[0], s[2], s[1], r[1], r[0], s[3])
		}, "0123456789abcdef", "ABCDEFGH", 0, 1},
		{"keep-alive and zero-window probe", func(c *pcapgen.Conn) error {
			if err := errors.Join(c.Handshake(), c.Send(true, []byte("abc"))); err != nil {
				return err
			}
			ka := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq - 1, Flags: pcapgen.ACK}
			ka1 := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq - 1, Flags: pcapgen.ACK, Payload: []byte{0}}
			probe := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq, Flags: pcapgen.ACK, Payload: []byte("d")}
			return errors.Join(c.Write(ka, ka1, probe), c.Send(true, []byte("defg")))
		}, "abcddefg"[:3] + "defg", "", 0, 1},
		{"SYN with data", func(c *pcapgen.Conn) error {
			syn := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq - 1, Flags: pcapgen.SYN, Payload: []byte("q1")}
			c.ClientSeq += 2
			synAck := pcapgen.Seg{ToServer: false, Seq: c.ServerSeq - 1, Flags: pcapgen.SYN | pcapgen.ACK}
			return errors.Join(c.Write(syn, synAck), c.Send(true, []byte("q2")), c.Send(false, []byte("r")))
		}, "q1q2", "r", 0, 1},
		{"retransmitted SYN with data", func(c *pcapgen.Conn) error {
			syn := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq - 1, Flags: pcapgen.SYN, Payload: []byte("q1")}
			c.ClientSeq += 2
			synAck := pcapgen.Seg{ToServer: false, Seq: c.ServerSeq - 1, Flags: pcapgen.SYN | pcapgen.ACK}
			return errors.Join(c.Write(syn, syn, synAck), c.Send(true, []byte("q2")), c.Send(false, []byte("r")))
		}, "q1q2", "r", 0, 1},
		{"simultaneous open", func(c *pcapgen.Conn) error {
			s1 := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq - 1, Flags: pcapgen.SYN}
			s2 := pcapgen.Seg{ToServer: false, Seq: c.ServerSeq - 1, Flags: pcapgen.SYN}
			s3 := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq - 1, Flags: pcapgen.SYN | pcapgen.ACK}
			s4 := pcapgen.Seg{ToServer: false, Seq: c.ServerSeq - 1, Flags: pcapgen.SYN | pcapgen.ACK}
			return errors.Join(c.Write(s1, s2, s3, s4), c.Send(true, []byte("q")), c.Send(false, []byte("r")))
		}, "q", "r", 0, 1},
		{"SYN/ACK retransmitted after server data", func(c *pcapgen.Conn) error {
			synAck := pcapgen.Seg{ToServer: false, Seq: c.ServerSeq - 1, Flags: pcapgen.SYN | pcapgen.ACK}
			return errors.Join(c.Handshake(), c.Send(true, []byte("q1")), c.Send(false, []byte("r1")),
				c.Write(synAck), c.Send(true, []byte("q2")), c.Send(false, []byte("r2")))
		}, "q1q2", "r1r2", 0, 1},
		{"SYN seen after the first data segment", func(c *pcapgen.Conn) error {
			syn := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq - 1, Flags: pcapgen.SYN}
			d := c.Data(true, []byte("q1"))
			return errors.Join(c.Write(d, syn), c.Send(true, []byte("q2")))
		}, "q1q2", "", 0, 1},
		{"SYN retried with the same ISN after a refusing RST (Windows)", func(c *pcapgen.Conn) error {
			syn := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq - 1, Flags: pcapgen.SYN, Payload: []byte("q")}
			rst := pcapgen.Seg{ToServer: false, Seq: 0, Flags: pcapgen.RST | pcapgen.ACK}
			return c.Write(syn, rst, syn, rst, syn, rst)
		}, "q", "", 0, 1},
		{"RST then a new connection on the same ports", func(c *pcapgen.Conn) error {
			rst := pcapgen.Seg{ToServer: false, Seq: c.ServerSeq, Flags: pcapgen.RST | pcapgen.ACK}
			if err := errors.Join(c.Handshake(), c.Send(true, []byte("q1")), c.Write(rst)); err != nil {
				return err
			}
			c.ClientSeq += 7777
			c.ServerSeq += 99999
			return errors.Join(c.Handshake(), c.Send(true, []byte("q2")))
		}, "q2", "", 0, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := genFile(t, func(w *pcapgen.Writer) error {
				return tc.gen(w.Conn(ap(cli), ap(srv)))
			})
			e := newCore([]uint16{502}, nil, 10, time.Minute, 0, 0)
			ss := runCoreWith(t, path, e)
			e.flush(time.Time{})
			got := ss.byConn[cli+"->"+srv]
			if got == nil {
				t.Fatalf("no session; stats %+v", e.snapshot())
			}
			if string(got.data[0]) != tc.wantCli || string(got.data[1]) != tc.wantSrv {
				t.Errorf("streams %q / %q, want %q / %q", got.data[0], got.data[1], tc.wantCli, tc.wantSrv)
			}
			if g := got.gaps[0] + got.gaps[1]; g != tc.wantGaps {
				t.Errorf("gaps %v, want %d", got.gaps, tc.wantGaps)
			}
			if st := e.snapshot(); st.Flows.Created != uint64(tc.wantSessions) {
				t.Errorf("sessions created %d, want %d", st.Flows.Created, tc.wantSessions)
			}
		})
	}
}

// TestRSTOutOfWindow checks that a RST away from the next expected sequence
// number (spoofed or stale; stacks ignore it) does not end the stream,
// while one at the next sequence number does.
func TestRSTOutOfWindow(t *testing.T) {
	t.Parallel()
	path := genFile(t, func(w *pcapgen.Writer) error {
		c := w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:502"))
		bogus := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq + 5000, Flags: pcapgen.RST}
		if err := errors.Join(c.Handshake(), c.Send(true, []byte("q1")), c.Send(false, []byte("r1"))); err != nil {
			return err
		}
		bogus.Seq = c.ClientSeq + 5000
		if err := errors.Join(c.Write(bogus), c.Send(true, []byte("q2")), c.Send(false, []byte("r2"))); err != nil {
			return err
		}
		return c.Write(pcapgen.Seg{ToServer: false, Seq: c.ServerSeq, Flags: pcapgen.RST | pcapgen.ACK})
	})
	e := newCore([]uint16{502}, nil, 10, time.Minute, 0, 0)
	ss := runCoreWith(t, path, e)
	got := ss.byConn["10.0.0.1:40000->10.0.0.2:502"]
	if got == nil || string(got.data[0]) != "q1q2" || string(got.data[1]) != "r1r2" || got.closed != 1 {
		t.Fatalf("session %+v, want streams q1q2 / r1r2, closed once", got)
	}
	if st := e.snapshot().Flows; st.Closed != 1 || st.IgnoredRST != 1 {
		t.Errorf("flows %+v, want 1 closed, 1 RST ignored", st)
	}
}

// TestRSTAfterFIN checks that a RST after the sender's FIN (one sequence
// number further, as the FIN takes one) ends the connection.
func TestRSTAfterFIN(t *testing.T) {
	t.Parallel()
	path := genFile(t, func(w *pcapgen.Writer) error {
		c := w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:502"))
		if err := errors.Join(c.Handshake(), c.Send(true, []byte("q1"))); err != nil {
			return err
		}
		fin := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq, Flags: pcapgen.FIN | pcapgen.ACK}
		rst := pcapgen.Seg{ToServer: true, Seq: c.ClientSeq + 1, Flags: pcapgen.RST}
		return errors.Join(c.Write(fin), c.Send(false, []byte("r1")), c.Write(rst))
	})
	e := newCore([]uint16{502}, nil, 10, time.Minute, 0, 0)
	ss := runCoreWith(t, path, e)
	got := ss.byConn["10.0.0.1:40000->10.0.0.2:502"]
	if got == nil || got.closed != 1 {
		t.Fatalf("session %+v, want closed by the RST", got)
	}
	if st := e.snapshot().Flows; st.Closed != 1 || st.IgnoredRST != 0 {
		t.Errorf("flows %+v, want 1 closed, no RST ignored", st)
	}
}
