package opcua_test

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// Example follows one connection: the client's Hello and the server's
// Acknowledge (real frames of icsnpp-open62541_client-server_mainloop.pcap),
// the Hello split over two TCP segments.
func Example() {
	hel, _ := hex.DecodeString(frameHEL)
	ack, _ := hex.DecodeString(frameACK)
	a := opcua.NewAnalyzer(opcua.DefaultConfig())
	s := a.NewSession(netip.MustParseAddrPort("192.0.2.10:50000"), netip.MustParseAddrPort("192.0.2.1:4840"))
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fmt.Println(opcua.Recognize(hel))
	s.Feed(true, hel[:10], ts)
	s.Feed(true, hel[10:], ts)
	s.Feed(false, ack, ts)
	s.Close(ts)
	st := a.Stats()
	fmt.Println(st.Messages, st.MessageTypes, st.EndpointURLs, st.Servers)
	// Output:
	// true
	// 2 map[ACK:1 HEL:1] [opc.tcp://localhost:4840] [192.0.2.1:4840]
}
