package passive_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

var (
	plcMAC = net.HardwareAddr{0x00, 0x0e, 0x8c, 0x10, 0x20, 0x30} // Siemens AG
	hmiMAC = net.HardwareAddr{0x00, 0x80, 0xf4, 0x01, 0x02, 0x03}
)

func ep(mac net.HardwareAddr, addr string) pcapgen.Endpoint {
	return pcapgen.Endpoint{MAC: mac, Addr: netip.MustParseAddrPort(addr)}
}

// writeCapture writes an Ethernet capture built by gen into a temp dir.
func writeCapture(t testing.TB, gen func(w *pcapgen.Writer) error) string {
	t.Helper()
	return writeCaptureLink(t, layers.LinkTypeEthernet, 0, nil, gen)
}

func writeCaptureLink(t testing.TB, link layers.LinkType, snapLen int, vlans []uint16, gen func(w *pcapgen.Writer) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gen.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapgen.NewWriter(f, link, snapLen)
	if err != nil {
		t.Fatal(err)
	}
	w.VLANs = vlans
	if err := gen(w); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// transact writes request/response pairs on one connection with a handshake
// and a close.
func transact(w *pcapgen.Writer, client, server pcapgen.Endpoint, pairs ...[2][]byte) error {
	c := w.Conn(client, server)
	if err := c.Handshake(); err != nil {
		return err
	}
	for _, p := range pairs {
		if err := c.Send(true, p[0]); err != nil {
			return err
		}
		if p[1] != nil {
			if err := c.Send(false, p[1]); err != nil {
				return err
			}
		}
	}
	return c.Close()
}

func pair(req, resp []byte) [2][]byte { return [2][]byte{req, resp} }

func TestDetections(t *testing.T) {
	t.Parallel()
	hmi := ep(hmiMAC, "192.168.1.10:40001")
	plc := ep(plcMAC, "192.168.1.20:502")
	tests := []struct {
		name string
		gen  func(w *pcapgen.Writer) error
		want []string // kinds that must be present; nil means no event at all
	}{
		{"benign polling", func(w *pcapgen.Writer) error {
			var ps [][2][]byte
			for i := range 300 {
				ps = append(ps, pair(pcapgen.ReadHolding(uint16(i), 1, 100, 10)))
			}
			return transact(w, hmi, plc, ps...)
		}, nil},
		{"write from a new master", func(w *pcapgen.Writer) error {
			return transact(w, hmi, plc, pair(pcapgen.WriteSingle(1, 1, 7, 42)))
		}, []string{"modbus.write_new_master"}},
		{"diagnostic restart", func(w *pcapgen.Writer) error {
			req := pcapgen.ADU(1, 1, 8, 0x00, 0x01, 0x00, 0x00)
			return transact(w, hmi, plc, pair(req, req))
		}, []string{"modbus.diagnostic"}},
		{"identification sweep", func(w *pcapgen.Writer) error {
			var ps [][2][]byte
			for u := range 10 {
				ps = append(ps, pair(pcapgen.ADU(uint16(u), uint8(u+1), 43, 14, 1, 0), pcapgen.Exception(uint16(u), uint8(u+1), 43, 11)))
			}
			return transact(w, hmi, plc, ps...)
		}, []string{"modbus.identification_sweep"}},
		{"unit id scan", func(w *pcapgen.Writer) error {
			var ps [][2][]byte
			for u := range 40 { // only unit 1 is there
				req, resp := pcapgen.ReadHolding(uint16(u), uint8(u+1), 0, 1)
				if u > 0 {
					resp = pcapgen.Exception(uint16(u), uint8(u+1), 3, 11)
				}
				ps = append(ps, pair(req, resp))
			}
			return transact(w, hmi, plc, ps...)
		}, []string{"modbus.scan"}},
		{"broadcast write", func(w *pcapgen.Writer) error {
			req, _ := pcapgen.WriteSingle(1, 0, 7, 42)
			return transact(w, hmi, plc, pair(req, nil))
		}, []string{"modbus.broadcast_write"}},
		{"UMAS programming function", func(w *pcapgen.Writer) error {
			req := pcapgen.ADU(1, 1, 90, 0x00, 0x10)
			return transact(w, hmi, plc, pair(req, pcapgen.ADU(1, 1, 90, 0x00, 0xfe)))
		}, []string{"modbus.program_function"}},
		{"high exception rate", func(w *pcapgen.Writer) error {
			var ps [][2][]byte
			for i := range 40 {
				req, _ := pcapgen.ReadHolding(uint16(i), 1, 9000, 10)
				ps = append(ps, pair(req, pcapgen.Exception(uint16(i), 1, 3, 2)))
			}
			return transact(w, hmi, plc, ps...)
		}, []string{"modbus.exception_rate"}},
		{"malformed flood", func(w *pcapgen.Writer) error {
			var ps [][2][]byte
			for i := range 40 {
				ps = append(ps, pair(pcapgen.ADU(uint16(i), 1, 3), nil)) // FC 3 without its fields
			}
			return transact(w, hmi, plc, ps...)
		}, []string{"modbus.malformed_flood"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeCapture(t, tc.gen)
			sum, err := passive.Replay(context.Background(), []string{path}, passive.DefaultConfig(), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			var all []string
			for _, ev := range sum.Events {
				got[ev.Kind] = true
				all = append(all, ev.Kind)
				if ev.Client != "192.168.1.10" || len(ev.Message) == 0 || ev.Evidence == nil {
					t.Errorf("event %+v lacks client, message or evidence", ev)
				}
			}
			sort.Strings(all)
			if tc.want == nil && len(all) > 0 {
				t.Errorf("events on benign traffic: %v", all)
			}
			for _, k := range tc.want {
				if !got[k] {
					t.Errorf("no %s event; got %v", k, all)
				}
			}
		})
	}
}

// TestEventRateLimit raises the same event from one client many times within
// a minute and checks that one threat record is emitted, and that the next
// one after the interval carries the suppressed count.
func TestEventRateLimit(t *testing.T) {
	t.Parallel()
	plc := ep(plcMAC, "192.168.1.20:502")
	path := writeCapture(t, func(w *pcapgen.Writer) error {
		for i := range 10 { // ten PLCs, one UMAS request each, 1 ms apart
			srv := ep(plcMAC, netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 168, 1, byte(100 + i)}), 502).String())
			cli := ep(hmiMAC, netip.AddrPortFrom(netip.MustParseAddr("192.168.1.10"), uint16(41000+i)).String())
			req := pcapgen.ADU(1, 1, 90, 0x00, 0x10)
			if err := transact(w, cli, srv, pair(req, nil)); err != nil {
				return err
			}
		}
		w.Time = w.Time.Add(2 * 60e9) // two minutes later
		cli := ep(hmiMAC, "192.168.1.10:42000")
		return transact(w, cli, plc, pair(pcapgen.ADU(1, 1, 90, 0x00, 0x10), nil))
	})
	sum, err := passive.Replay(context.Background(), []string{path}, passive.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, ev := range sum.Events {
		if ev.Kind == "modbus.program_function" {
			got = append(got, ev.Suppressed)
		}
	}
	if diff := cmp.Diff([]uint64{0, 9}, got); diff != "" {
		t.Errorf("suppressed counts of program_function events (-want +got):\n%s", diff)
	}
}

// TestAttemptThenChangeBothEmitted: a refused write attempt of a new master
// (low) and its executed write a second later (medium) are both emitted:
// the rate limit holds an event back only for one of the same severity.
func TestAttemptThenChangeBothEmitted(t *testing.T) {
	t.Parallel()
	hmi := ep(hmiMAC, "192.168.1.10:40001")
	plc := ep(plcMAC, "192.168.1.20:502")
	path := writeCapture(t, func(w *pcapgen.Writer) error {
		refused, _ := pcapgen.WriteSingle(1, 1, 9000, 1)
		return transact(w, hmi, plc, pair(refused, pcapgen.Exception(1, 1, 6, 2)), pair(pcapgen.WriteSingle(2, 1, 7, 1)))
	})
	sum, err := passive.Replay(context.Background(), []string{path}, passive.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range sum.Events {
		got = append(got, ev.Kind+" "+ev.Severity+" "+ev.Outcome)
	}
	want := []string{"modbus.write_new_master low refused:exception 2", "modbus.write_new_master medium executed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
