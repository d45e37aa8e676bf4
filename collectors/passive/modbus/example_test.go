package modbus_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/modbus"
)

func Example() {
	a := modbus.NewAnalyzer(modbus.DefaultConfig())
	s := a.NewSession(netip.MustParseAddrPort("10.0.0.5:49152"), netip.MustParseAddrPort("10.0.0.9:502"))
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// Read Holding Registers 0-1 of unit 1, answered; then a write, also
	// answered: the first executed write of this client.
	s.Feed(true, []byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2}, ts)
	s.Feed(false, []byte{0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 10, 0, 20}, ts)
	s.Feed(true, []byte{0, 2, 0, 0, 0, 6, 1, 6, 0, 1, 0, 99}, ts)
	s.Feed(false, []byte{0, 2, 0, 0, 0, 6, 1, 6, 0, 1, 0, 99}, ts)
	s.Close(ts)

	b, _ := json.Marshal(a.Stats())
	fmt.Println(string(b))
	for _, al := range a.TakeAlerts() {
		fmt.Println(al.Kind, al.Severity, al.Outcome)
	}
	// Output:
	// {"adus":4,"requests":2,"responses":2,"function_codes":{"3":{"requests":1,"responses":1},"6":{"requests":1,"responses":1}},"exceptions_by_code":{},"unit_ids":[1],"servers":["10.0.0.9:502"],"device_identification":[],"malformed":0}
	// modbus.write_new_master medium executed
}

func ExampleADU_DecodeFromBytes() {
	var a modbus.ADU
	err := a.DecodeFromBytes([]byte{0, 7, 0, 0, 0, 3, 1, 0x83, 2})
	code, ok := a.Exception()
	fmt.Println(err, a.TransactionID, a.BaseFunction(), modbus.FunctionName(a.Function), code, ok)
	// Output: <nil> 7 3 Read Holding Registers Exception 2 true
}
