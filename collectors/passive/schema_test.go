package passive_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
	"github.com/edgeward/edgeward/collectors/schematest"
)

// TestRecordsValidate emits the records of a capture with assets, flows and
// several event kinds and validates each against collectors.SchemaJSON.
func TestRecordsValidate(t *testing.T) {
	t.Parallel()
	hmi := ep(hmiMAC, "192.168.1.10:40001")
	plc := ep(plcMAC, "192.168.1.20:502")
	path := writeCapture(t, func(w *pcapgen.Writer) error {
		ident := pcapgen.ADU(2, 1, 43, 14, 1, 1, 0, 0, 3,
			0, 7, 'S', 'i', 'e', 'm', 'e', 'n', 's', 1, 3, 'S', '7', '1', 2, 2, 'V', '4')
		return transact(w, hmi, plc,
			pair(pcapgen.ReadHolding(1, 1, 0, 4)),
			pair(pcapgen.ADU(2, 1, 43, 14, 1, 0), ident),
			pair(pcapgen.WriteSingle(3, 1, 9, 1)),
			pair(pcapgen.ADU(5, 1, 3, 0x23, 0x28, 0, 10), pcapgen.Exception(5, 1, 3, 2)), // refused range
			pair(pcapgen.ADU(6, 5, 3, 0, 0, 0, 1), pcapgen.Exception(6, 5, 3, 11)),       // absent gateway unit
			pair(pcapgen.ADU(7, 0, 6, 0, 9, 0, 2), nil),                                  // broadcast
			pair(pcapgen.ADU(4, 1, 8, 0, 1, 0, 0), nil))
	})
	e, err := passive.NewEngine(passive.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := passive.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		p, err := src.ReadPacket(context.Background())
		if err != nil {
			break
		}
		e.Process(p)
	}
	e.Flush(time.Time{})
	recs := e.Records(time.Now())
	kinds := map[string]int{}
	for _, r := range recs {
		kinds[r.Kind]++
		if raw, err := schematest.Validate(r); err != nil {
			t.Errorf("%s record does not validate: %v\n%s", r.Kind, err, raw)
		}
	}
	for _, k := range []string{"net.asset", "net.flow", "modbus.write_new_master", "modbus.diagnostic"} {
		if kinds[k] == 0 {
			t.Errorf("no %s record; got %v", k, kinds)
		}
	}
	// Outcomes: unit 5 only refused, the broadcast is not unanswered, the
	// restart without a response is.
	for _, r := range recs {
		switch b := r.Body.(type) {
		case passive.Asset:
			if b.IP == "192.168.1.20" && (!cmp.Equal(b.UnitIDs, []int{1}) || !cmp.Equal(b.UnitIDsRefused, []int{5})) {
				t.Errorf("server unit ids = %v, refused %v; want [1], [5]", b.UnitIDs, b.UnitIDsRefused)
			}
		case passive.Flow:
			if b.Broadcasts != 1 || b.Unanswered != 1 || len(b.Refused) != 2 || b.NoResponse == nil {
				t.Errorf("flow outcomes = broadcasts %d, unanswered %d, refused %+v, no response %+v", b.Broadcasts, b.Unanswered, b.Refused, b.NoResponse)
			}
		case passive.Event:
			if b.Kind == "modbus.diagnostic" && b.Outcome != "unanswered" {
				t.Errorf("restart event outcome = %q, want unanswered", b.Outcome)
			}
		}
	}
	// The device identity travels with the server's asset record.
	var found bool
	for _, r := range recs {
		if a, ok := r.Body.(passive.Asset); ok && a.IP == "192.168.1.20" {
			found = len(a.Identity) == 1 && a.Identity[0].Vendor == "Siemens" && a.Identity[0].Product == "S71" && a.Vendor == "Siemens AG"
			if !found {
				t.Errorf("server asset = %+v", a)
			}
		}
	}
	if !found {
		t.Error("no asset record for the server")
	}
	// A second call with no new traffic emits nothing.
	if again := e.Records(time.Now().Add(time.Minute)); len(again) != 0 {
		t.Errorf("second Records call returned %d records", len(again))
	}
}

// TestLocalProcessValidates checks the local_process object of net.flow,
// modbus.* and opcua.* bodies against the schema: a complete one passes,
// and one without a pid, with an unknown field or with a command line over
// passive.MaxCmdline bytes fails in each body.
func TestLocalProcessValidates(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	records := func(p *passive.LocalProcess) []collectors.Record {
		f := passive.Flow{Protocol: "modbus", Client: "10.0.0.5", Server: "10.0.0.9:502", FirstSeen: ts, LastSeen: ts, LocalProcess: p}
		ev := func(kind string) passive.Event {
			return passive.Event{Kind: kind, Severity: "high", Time: ts, Message: "m", Client: "10.0.0.5", Server: "10.0.0.9:502",
				Evidence: map[string]any{}, LocalProcess: p}
		}
		return []collectors.Record{
			{Class: collectors.ClassActivity, Kind: passive.KindFlow, Time: ts, Key: "modbus:10.0.0.5->10.0.0.9:502", Body: f},
			{Class: collectors.ClassThreat, Kind: "modbus.write_new_master", Severity: collectors.SeverityHigh, Time: ts, Body: ev("modbus.write_new_master")},
			{Class: collectors.ClassThreat, Kind: "opcua.write_new_client", Severity: collectors.SeverityHigh, Time: ts, Body: ev("opcua.write_new_client")},
		}
	}
	good := &passive.LocalProcess{PID: 4242, Name: "python.exe", Exe: `C:\Python312\python.exe`, User: `PLANT\eng`,
		Cmdline: strings.Repeat("x", passive.MaxCmdline)}
	for _, r := range records(good) {
		if raw, err := schematest.Validate(r); err != nil {
			t.Errorf("%s with local_process does not validate: %v\n%s", r.Kind, err, raw)
		}
	}
	bad := []struct {
		name string
		p    *passive.LocalProcess
	}{
		{"no pid", &passive.LocalProcess{Name: "x"}},
		{"cmdline too long", &passive.LocalProcess{PID: 1, Cmdline: strings.Repeat("x", passive.MaxCmdline+1)}},
	}
	for _, tc := range bad {
		for _, r := range records(tc.p) {
			if raw, err := schematest.Validate(r); err == nil || errors.Is(err, collectors.ErrInvalidRecord) {
				t.Errorf("%s: %s: want a schema error, got %v:\n%s", tc.name, r.Kind, err, raw)
			}
		}
	}
	// An unknown field in local_process.
	for _, r := range records(good) {
		raw, err := json.Marshal(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatal(err)
		}
		body["local_process"].(map[string]any)["password"] = "x"
		r.Body = body
		if raw, err := schematest.Validate(r); err == nil || errors.Is(err, collectors.ErrInvalidRecord) {
			t.Errorf("unknown field: %s: want a schema error, got %v:\n%s", r.Kind, err, raw)
		}
	}
}

// TestRecordsLatePackets processes packets stamped before the previous
// Records call after it (as a live capture hands them over late) and checks
// that the flow they update is emitted again.
func TestRecordsLatePackets(t *testing.T) {
	t.Parallel()
	hmi := ep(hmiMAC, "192.168.1.10:40001")
	plc := ep(plcMAC, "192.168.1.20:502")
	path := writeCapture(t, func(w *pcapgen.Writer) error {
		return transact(w, hmi, plc, pair(pcapgen.ReadHolding(1, 1, 0, 4)), pair(pcapgen.ReadHolding(2, 1, 0, 4)))
	})
	src, err := passive.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var pkts []passive.Packet
	for {
		p, err := src.ReadPacket(context.Background())
		if err != nil {
			break
		}
		p.Data = append([]byte(nil), p.Data...)
		pkts = append(pkts, p)
	}
	e, err := passive.NewEngine(passive.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	half := len(pkts) - 4 // the second response (and the close) is processed late
	for _, p := range pkts[:half] {
		e.Process(p)
	}
	last := pkts[len(pkts)-1].Timestamp
	if len(e.Records(last.Add(time.Second))) == 0 {
		t.Fatal("no records after the first packets")
	}
	for _, p := range pkts[half:] {
		e.Process(p)
	}
	var flow *passive.Flow
	for _, r := range e.Records(last.Add(time.Minute)) {
		if f, ok := r.Body.(passive.Flow); ok {
			flow = &f
		}
	}
	if flow == nil || flow.Responses != 2 {
		t.Fatalf("flow after the late packets = %+v, want one with 2 responses", flow)
	}
	if again := e.Records(last.Add(2 * time.Minute)); len(again) != 0 {
		t.Errorf("third Records call returned %d records", len(again))
	}
}
