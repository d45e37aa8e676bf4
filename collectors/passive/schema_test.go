package passive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// TestRecordsValidate emits the records of a capture with assets, flows and
// several event kinds and validates each against collectors.SchemaJSON.
func TestRecordsValidate(t *testing.T) {
	t.Parallel()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(collectors.SchemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("v1.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("v1.json")
	if err != nil {
		t.Fatal(err)
	}
	hmi := ep(hmiMAC, "192.168.1.10:40001")
	plc := ep(plcMAC, "192.168.1.20:502")
	path := writeCapture(t, func(w *pcapgen.Writer) error {
		ident := pcapgen.ADU(2, 1, 43, 14, 1, 1, 0, 0, 3,
			0, 7, 'S', 'i', 'e', 'm', 'e', 'n', 's', 1, 3, 'S', '7', '1', 2, 2, 'V', '4')
		return transact(w, hmi, plc,
			pair(pcapgen.ReadHolding(1, 1, 0, 4)),
			pair(pcapgen.ADU(2, 1, 43, 14, 1, 0), ident),
			pair(pcapgen.WriteSingle(3, 1, 9, 1)),
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
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", r.Kind, err)
		}
		r.ID = "01JD0000000000000000000000"
		r.Schema = collectors.SchemaV1
		r.Agent = collectors.Agent{ID: "agent-1", Enterprise: "ent", Site: "site", Version: "test"}
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s record does not validate: %v\n%s", r.Kind, err, raw)
		}
	}
	for _, k := range []string{"net.asset", "net.flow", "modbus.write_new_master", "modbus.diagnostic"} {
		if kinds[k] == 0 {
			t.Errorf("no %s record; got %v", k, kinds)
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
