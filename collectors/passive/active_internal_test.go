package passive

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// TestMergeActive merges active identifications into the assets of an
// Engine that saw one Modbus server: the server's asset lists the passive
// and the active identity with their sources, a server seen only actively
// gets an asset of its own, both are due without new traffic, and a
// second identification of the same unit replaces the first.
func TestMergeActive(t *testing.T) {
	t.Parallel()
	e, err := NewEngine(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	processAll(e, framesOf(t, func(w *pcapgen.Writer) error {
		c := w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:502"))
		req, resp := pcapgen.ReadHolding(1, 3, 0, 2)
		return errors.Join(c.Handshake(), c.Send(true, req), c.Send(false, resp))
	}))
	e.Flush(time.Time{})
	if got := e.Servers(); len(got) != 1 || got[0].Protocol != "modbus" || got[0].Addr != netip.MustParseAddrPort("10.0.0.2:502") || !cmp.Equal(got[0].UnitIDs, []uint8{3}) {
		t.Fatalf("Servers() = %+v, want the Modbus server 10.0.0.2:502 unit 3", got)
	}
	first := e.Records(t0)
	if len(first) == 0 {
		t.Fatal("no records")
	}
	if n := len(e.Records(t0)); n != 0 {
		t.Fatalf("%d records without new traffic", n)
	}

	at := t0.Add(time.Hour)
	e.MergeActive(ActiveIdentity{Addr: netip.MustParseAddrPort("10.0.0.2:502"), Time: at.Add(-time.Minute),
		Modbus: &Identity{Port: 502, UnitID: 3, Vendor: "Old", Objects: map[string]string{"0": "Old"}}})
	e.MergeActive(ActiveIdentity{Addr: netip.MustParseAddrPort("10.0.0.2:502"), Time: at,
		Modbus: &Identity{Port: 502, UnitID: 3, Vendor: "Schneider Electric", Product: "BMX P34 2020", Revision: "v2.7",
			Objects: map[string]string{"0": "Schneider Electric", "1": "BMX P34 2020", "2": "v2.7"}}})
	e.MergeActive(ActiveIdentity{Addr: netip.MustParseAddrPort("10.0.0.9:4840"), Time: at,
		OPCUA: &OPCUAApplication{Role: "server", Port: 4840, BuildInfo: &BuildInfo{ManufacturerName: "Acme", SoftwareVersion: "1.2"}}})
	var assets []Asset
	for _, r := range e.Records(at) {
		if a, ok := r.Body.(Asset); ok {
			assets = append(assets, a)
		}
	}
	if len(assets) != 2 {
		t.Fatalf("%d assets due after active identification, want 2: %+v", len(assets), assets)
	}
	plc, ua := assets[0], assets[1]
	if plc.IP != "10.0.0.2" || len(plc.Identity) != 1 {
		t.Fatalf("asset %+v: want 10.0.0.2 with the active identity", plc)
	}
	if id := plc.Identity[0]; id.Source != SourceActive || !id.Time.Equal(at) || id.Vendor != "Schneider Electric" {
		t.Errorf("identity %+v: want the latest active one", id)
	}
	if ua.IP != "10.0.0.9" || !cmp.Equal(ua.Roles, []string{"server"}) || !cmp.Equal(ua.Protocols, []string{"opcua"}) ||
		!cmp.Equal(ua.Ports, []int{4840}) || len(ua.OPCUA) != 1 || ua.OPCUA[0].Source != SourceActive || ua.OPCUA[0].BuildInfo.SoftwareVersion != "1.2" {
		t.Errorf("asset seen only actively = %+v", ua)
	}
	if n := len(e.Records(at)); n != 0 {
		t.Errorf("%d records due again without news", n)
	}
	for i := range maxActive + 5 {
		e.MergeActive(ActiveIdentity{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), 502), Time: at.Add(time.Duration(i) * time.Second),
			Modbus: &Identity{UnitID: 1}})
	}
	if len(e.active) != maxActive {
		t.Errorf("%d active identities kept, want the bound %d", len(e.active), maxActive)
	}
}
