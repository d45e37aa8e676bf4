package pcapgen

import (
	"net"
	"net/netip"
	"time"
)

// Capture shapes of the replay benchmarks (collectors/passive and agent).

// pollConns starts conns connections between 20 clients and 50 servers.
func pollConns(w *Writer, conns int) ([]*Conn, error) {
	w.Step = 10 * time.Microsecond
	cs := make([]*Conn, conns)
	for i := range cs {
		cli := Endpoint{MAC: net.HardwareAddr{0, 0x80, 0xf4, 0, 0, byte(i % 20)},
			Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i % 20)}), uint16(20000+i))}
		srv := Endpoint{MAC: net.HardwareAddr{0, 0x0e, 0x8c, 0, 1, byte(i % 50)},
			Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 2, byte(i % 50)}), 502)}
		cs[i] = w.Conn(cli, srv)
		if err := cs[i].Handshake(); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

func closeAll(cs []*Conn) error {
	for _, c := range cs {
		if err := c.Close(); err != nil {
			return err
		}
	}
	return nil
}

// Polling writes conns Modbus connections polled round-robin for rounds
// rounds (one FC 3 request and one response per round and connection),
// between 20 clients and 50 servers, with an occasional FC 6 write.
func Polling(w *Writer, conns, rounds int) error {
	cs, err := pollConns(w, conns)
	if err != nil {
		return err
	}
	for r := range rounds {
		for i, c := range cs {
			req, resp := ReadHolding(uint16(r), uint8(1+i%4), uint16(100*(i%8)), 16)
			if r%97 == 0 {
				req, resp = WriteSingle(uint16(r), uint8(1+i%4), 7, uint16(r))
			}
			if err := c.Send(true, req); err != nil {
				return err
			}
			if err := c.Send(false, resp); err != nil {
				return err
			}
		}
	}
	return closeAll(cs)
}

// MixedPolling writes conns Modbus connections like Polling but with mixed
// function codes (1, 2, 3, 4, 5, 6, 15, 16, 23, 43/14), an exception
// response in every seventh exchange, and every third round two
// transactions pipelined: two requests in one segment, then two responses
// in one segment.
func MixedPolling(w *Writer, conns, rounds int) error {
	cs, err := pollConns(w, conns)
	if err != nil {
		return err
	}
	pair := func(tid uint16, unit uint8, k int) (req, resp []byte) {
		addr := uint16(10 * (k % 50))
		switch k % 10 {
		case 0, 1, 2:
			return ReadHolding(tid, unit, addr, 16)
		case 3:
			req = ADU(tid, unit, 4, byte(addr>>8), byte(addr), 0, 8)
			return req, ADU(tid, unit, append([]byte{4, 16}, make([]byte, 16)...)...)
		case 4:
			req = ADU(tid, unit, 1, byte(addr>>8), byte(addr), 0, 16)
			return req, ADU(tid, unit, 1, 2, 0x55, 0xaa)
		case 5:
			req = ADU(tid, unit, 2, byte(addr>>8), byte(addr), 0, 8)
			return req, ADU(tid, unit, 2, 1, 0x0f)
		case 6:
			return WriteSingle(tid, unit, addr, uint16(k))
		case 7:
			req = ADU(tid, unit, 5, byte(addr>>8), byte(addr), 0xff, 0)
			return req, append([]byte(nil), req...)
		case 8:
			req = ADU(tid, unit, 16, byte(addr>>8), byte(addr), 0, 2, 4, 0, 1, 0, 2)
			return req, ADU(tid, unit, 16, byte(addr>>8), byte(addr), 0, 2)
		default:
			if k%20 == 9 {
				req = ADU(tid, unit, 43, 14, 1, 0)
				return req, ADU(tid, unit, 43, 14, 1, 1, 0, 0, 2, 0, 4, 'A', 'C', 'M', 'E', 1, 2, 'P', '1')
			}
			req = ADU(tid, unit, 23, byte(addr>>8), byte(addr), 0, 2, byte(addr>>8), byte(addr), 0, 1, 2, 0, 9)
			return req, ADU(tid, unit, 23, 4, 0, 1, 0, 2)
		}
	}
	for r := range rounds {
		for i, c := range cs {
			unit := uint8(1 + i%4)
			k := r*7 + i
			tid := uint16(2 * r)
			req, resp := pair(tid, unit, k)
			if k%7 == 0 {
				resp = Exception(tid, unit, req[7], uint8(1+k%4))
			}
			if r%3 == 2 {
				req2, resp2 := pair(tid+1, unit, k+3)
				req, resp = Concat(req, req2), Concat(resp, resp2)
			}
			if err := c.Send(true, req); err != nil {
				return err
			}
			if err := c.Send(false, resp); err != nil {
				return err
			}
		}
	}
	return closeAll(cs)
}
