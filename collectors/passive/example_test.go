package passive_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// Replay a capture and print the Modbus counts and the flows.
func ExampleReplay() {
	dir, _ := os.MkdirTemp("", "passive-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "poll.pcap")
	f, _ := os.Create(path)
	w, _ := pcapgen.NewWriter(f, layers.LinkTypeEthernet, 0)
	c := w.Conn(
		pcapgen.Endpoint{MAC: hmiMAC, Addr: netip.MustParseAddrPort("10.0.0.1:40000")},
		pcapgen.Endpoint{MAC: plcMAC, Addr: netip.MustParseAddrPort("10.0.0.2:502")})
	_ = c.Handshake()
	for tid := range uint16(3) {
		req, resp := pcapgen.ReadHolding(tid, 1, 0, 8)
		_ = c.Send(true, req)
		_ = c.Send(false, resp)
	}
	_ = c.Close()
	f.Close()

	sum, err := passive.Replay(context.Background(), []string{path}, passive.DefaultConfig(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("packets", sum.Packets, "adus", sum.Modbus.ADUs, "requests", sum.Modbus.Requests)
	for _, fl := range sum.Flows {
		fmt.Println(fl.Client, "->", fl.Server, "FC 3 requests:", fl.FunctionCodes["3"].Requests)
	}
	// Output:
	// packets 12 adus 6 requests 3
	// 10.0.0.1 -> 10.0.0.2:502 FC 3 requests: 3
}
