package probe

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/schematest"
)

// TestFindingRecord checks the threat record of a finding against the wire
// schema: a record with source "active" is held to the active finding's
// body (server, target, message required) and not to the passive events'
// (which need the client that acted), and a body without the active source
// is still held to the passive event's.
func TestFindingRecord(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	eps := []Endpoint{{URL: "opc.tcp://10.0.0.5:4840", SecurityPolicyURI: ua.SecurityPolicyURINone, SecurityMode: "None",
		UserTokens: []UserToken{{Type: "UserName", PolicyID: "username_none"}}}}
	fs := OPCUAFindings("opc.tcp://10.0.0.5:4840/ua", eps, at)
	fs = append(fs, ModbusFindings("modbus://10.0.0.7:502/3", &ModbusResult{VendorName: "Schneider Electric", ProductCode: "BMX P34 2020", Revision: "v3.40", Objects: map[byte]string{0: "Schneider Electric"}})...)
	if len(fs) != 3 {
		t.Fatalf("findings %+v", fs)
	}
	for _, f := range fs {
		server, err := TargetServer(f.Target)
		if err != nil {
			t.Fatal(err)
		}
		r := f.Record(server, at, 2)
		b := r.Body.(Threat)
		if r.Class != collectors.ClassThreat || r.Kind != f.Kind || r.Severity != f.Severity || r.Key != "active|"+server+"|"+f.Kind ||
			b.Source != SourceActive || b.Server != server || b.Target != f.Target || b.Message != f.Detail || b.Suppressed != 2 {
			t.Errorf("record %+v", r)
		}
		raw, err := schematest.Validate(r)
		if err != nil {
			t.Fatalf("%s: %v\n%s", r.Kind, err, raw)
		}
		for name, edit := range map[string]func(body map[string]any){
			"no server":              func(b map[string]any) { delete(b, "server") },
			"no message":             func(b map[string]any) { delete(b, "message") },
			"an unknown field":       func(b map[string]any) { b["client"] = "10.0.0.9" },
			"a passive event's body": func(b map[string]any) { delete(b, "source") },
		} {
			var rec map[string]any
			if err := json.Unmarshal(raw, &rec); err != nil {
				t.Fatal(err)
			}
			edit(rec["body"].(map[string]any))
			bad, _ := json.Marshal(rec)
			if err := schematest.ValidateJSON(bad); err == nil {
				t.Errorf("%s record with %s validates", r.Kind, name)
			}
		}
	}
	if _, err := TargetServer("modbus://10.0.0.7/0"); err == nil || !strings.Contains(err.Error(), "broadcast") {
		t.Errorf("TargetServer of a broadcast target: %v", err)
	}
	for target, want := range map[string]string{"modbus://10.0.0.7/3": "10.0.0.7:502", "opc.tcp://[fd00::5]/ua": "[fd00::5]:4840"} {
		if got, err := TargetServer(target); err != nil || got != want {
			t.Errorf("TargetServer(%q) = %q, %v; want %q", target, got, err, want)
		}
	}
}
