package passive_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
	"github.com/edgeward/edgeward/collectors/passive/modbus"
)

// counts is the part of modbus.Stats a scenario checks.
type counts struct {
	ADUs, Requests, Responses, Malformed uint64
	FC3                                  modbus.RequestResponse
	Servers                              []string
}

// TestGeneratedCaptures runs Modbus conversations with every awkward
// segmentation and encapsulation through Replay and checks the counts.
func TestGeneratedCaptures(t *testing.T) {
	t.Parallel()
	hmi := ep(hmiMAC, "10.1.1.10:40001")
	plc := ep(plcMAC, "10.1.1.20:502")
	hmi6 := ep(hmiMAC, "[fd00::10]:40001")
	plc6 := ep(plcMAC, "[fd00::20]:502")
	r1, a1 := pcapgen.ReadHolding(1, 1, 0, 10)
	r2, a2 := pcapgen.ReadHolding(2, 1, 10, 10)
	r3, a3 := pcapgen.ReadHolding(3, 1, 20, 10)
	three := counts{ADUs: 6, Requests: 3, Responses: 3, FC3: modbus.RequestResponse{Requests: 3, Responses: 3}, Servers: []string{"10.1.1.20:502"}}
	tests := []struct {
		name    string
		link    layers.LinkType
		snapLen int
		vlans   []uint16
		gen     func(w *pcapgen.Writer) error
		want    counts
	}{
		{name: "several ADUs per segment", gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi, plc)
			return firstErr(c.Handshake(), c.Send(true, pcapgen.Concat(r1, r2, r3)), c.Send(false, pcapgen.Concat(a1, a2, a3)), c.Close())
		}, want: three},
		{name: "ADU split across segments", gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi, plc)
			if err := c.Handshake(); err != nil {
				return err
			}
			all := pcapgen.Concat(r1, r2, r3)
			resp := pcapgen.Concat(a1, a2, a3)
			// cuts where tshark reassembles: a segment that starts an ADU
			// (or follows one completed by reassembly) holds 8 bytes or more
			// (TestFramingAgainstTshark covers the other cuts)
			return firstErr(c.Write(c.Split(true, all, 9, 20)...),
				c.Write(c.Split(false, resp, 10, len(a1)+len(a2)+3)...), c.Close())
		}, want: three},
		{name: "retransmissions", gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi, plc)
			if err := c.Handshake(); err != nil {
				return err
			}
			s1, s2, s3 := c.Data(true, r1), c.Data(true, r2), c.Data(true, r3)
			b := c.Split(false, pcapgen.Concat(a1, a2, a3), 10, 40)
			return firstErr(c.Write(s1, s1, s2, s3, s2), c.Write(b[0], b[1], b[0], b[1], b[2], b[2]), c.Close())
		}, want: three},
		{name: "out of order", gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi, plc)
			if err := c.Handshake(); err != nil {
				return err
			}
			s1, s2, s3 := c.Data(true, r1), c.Data(true, r2), c.Data(true, r3)
			b := c.Split(false, pcapgen.Concat(a1, a2, a3), 10, 40)
			return firstErr(c.Write(s3, s1, s2), c.Write(b[2], b[1], b[0]), c.Close())
		}, want: three},
		{name: "mid-stream start", gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi, plc) // no handshake: the capture starts mid-connection
			return c.Send(true, r1, r2, r3)
		}, want: counts{ADUs: 3, Requests: 3, FC3: modbus.RequestResponse{Requests: 3}, Servers: []string{"10.1.1.20:502"}}},
		{name: "truncated frames", snapLen: 54 + 12 + 7, gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi, plc)
			// requests (12 bytes) fit the snap length; each 27-byte response is cut
			return firstErr(c.Handshake(), c.Send(true, r1), c.Send(false, a1), c.Send(true, r2), c.Send(false, a2), c.Close())
		}, want: counts{ADUs: 2, Requests: 2, FC3: modbus.RequestResponse{Requests: 2}, Servers: []string{"10.1.1.20:502"}}},
		{name: "IPv6", gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi6, plc6)
			return firstErr(c.Handshake(), c.Send(true, pcapgen.Concat(r1, r2, r3)), c.Send(false, a1, a2, a3), c.Close())
		}, want: counts{ADUs: 6, Requests: 3, Responses: 3, FC3: modbus.RequestResponse{Requests: 3, Responses: 3}, Servers: []string{"[fd00::20]:502"}}},
		{name: "VLAN", vlans: []uint16{10}, gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi, plc)
			return firstErr(c.Handshake(), c.Send(true, r1, r2, r3), c.Send(false, a1, a2, a3), c.Close())
		}, want: three},
		{name: "QinQ", vlans: []uint16{100, 10}, gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi, plc)
			return firstErr(c.Handshake(), c.Send(true, r1, r2, r3), c.Send(false, a1, a2, a3), c.Close())
		}, want: three},
		{name: "Linux cooked", link: layers.LinkTypeLinuxSLL, gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi, plc)
			return firstErr(c.Handshake(), c.Send(true, r1, r2, r3), c.Send(false, a1, a2, a3), c.Close())
		}, want: three},
		{name: "raw IP", link: layers.LinkTypeRaw, gen: func(w *pcapgen.Writer) error {
			c := w.Conn(hmi, plc)
			return firstErr(c.Handshake(), c.Send(true, r1, r2, r3), c.Send(false, a1, a2, a3), c.Close())
		}, want: three},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			link := tc.link
			if link == 0 {
				link = layers.LinkTypeEthernet
			}
			path := writeCaptureLink(t, link, tc.snapLen, tc.vlans, tc.gen)
			sum, err := passive.Replay(context.Background(), []string{path}, passive.DefaultConfig(), nil)
			if err != nil {
				t.Fatal(err)
			}
			m := sum.Modbus
			got := counts{ADUs: m.ADUs, Requests: m.Requests, Responses: m.Responses, Malformed: m.Malformed,
				FC3: m.FunctionCodes["3"], Servers: m.Servers}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("modbus counts (-want +got):\n%s\nstats: %+v", diff, sum.Stats)
			}
			if tc.snapLen > 0 && sum.Stats.Reassembly.TruncatedFrames == 0 {
				t.Errorf("no truncated frame counted: %+v", sum.Stats.Reassembly)
			}
			if sum.Stats.DecodeErrors != 0 {
				t.Errorf("decode errors: %v", sum.Stats.Decode)
			}
		})
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
