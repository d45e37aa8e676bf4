package modbus

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedPcaps is ../shared/testdata/pcaps relative to the repository root.
var sharedPcaps = filepath.Join("..", "..", "..", "..", "shared", "testdata", "pcaps")

// TestSharedCapturesSmoke feeds the shared real captures through a naive
// capture-order reassembly and compares the counts with tshark's truth. The
// authoritative comparison (real reassembly) lives in collectors/passive;
// this one guards this package's counting rules.
func TestSharedCapturesSmoke(t *testing.T) {
	t.Parallel()
	truths, _ := filepath.Glob(filepath.Join(sharedPcaps, "*.truth.json"))
	if len(truths) == 0 {
		t.Skipf("no shared captures in %s", sharedPcaps)
	}
	for _, tf := range truths {
		capPath := strings.TrimSuffix(tf, ".truth.json")
		t.Run(filepath.Base(capPath), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(tf)
			if err != nil {
				t.Fatal(err)
			}
			var truth struct {
				Modbus struct {
					ADUs          uint64 `json:"adus"`
					Query         uint64 `json:"adus_query"`
					Response      uint64 `json:"adus_response"`
					FunctionCodes map[string]struct {
						Query    uint64 `json:"query"`
						Response uint64 `json:"response"`
					} `json:"function_codes"`
					ExceptionsByCode     map[string]uint64      `json:"exceptions_by_code"`
					UnitIDs              []int                  `json:"unit_ids"`
					Servers              []string               `json:"servers"`
					DeviceIdentification []DeviceIdentification `json:"device_identification"`
				} `json:"modbus"`
				Sens struct {
					OOO struct {
						ADUs uint64 `json:"modbus_adus"`
					} `json:"with_reassemble_out_of_order"`
				} `json:"tcp_reassembly_sensitivity"`
			}
			if err := json.Unmarshal(raw, &truth); err != nil {
				t.Fatal(err)
			}
			pkts, err := readCapture(capPath)
			if err != nil {
				t.Fatal(err)
			}
			a := NewAnalyzer(Config{})
			replayCapture(a, pkts)
			got := a.Stats()
			m := truth.Modbus
			if got.ADUs != m.ADUs && got.ADUs != truth.Sens.OOO.ADUs {
				t.Errorf("adus = %d, want %d (or %d)", got.ADUs, m.ADUs, truth.Sens.OOO.ADUs)
			}
			if got.ADUs == m.ADUs && (got.Requests != m.Query || got.Responses != m.Response) {
				t.Errorf("requests/responses = %d/%d, want %d/%d", got.Requests, got.Responses, m.Query, m.Response)
			}
			if got.ADUs == m.ADUs {
				for fc, w := range m.FunctionCodes {
					g := got.FunctionCodes[fc]
					if g.Requests != w.Query || g.Responses != w.Response {
						t.Errorf("fc %s = %+v, want %+v", fc, g, w)
					}
				}
				if len(got.FunctionCodes) != len(m.FunctionCodes) {
					t.Errorf("function codes = %v, want %v", got.FunctionCodes, m.FunctionCodes)
				}
				gb, _ := json.Marshal(got.ExceptionsByCode)
				wb, _ := json.Marshal(CodeCounts(m.ExceptionsByCode))
				if string(gb) != string(wb) {
					t.Errorf("exceptions = %s, want %s", gb, wb)
				}
			}
			gu, _ := json.Marshal(got.UnitIDs)
			wu, _ := json.Marshal(m.UnitIDs)
			gs, _ := json.Marshal(got.Servers)
			ws, _ := json.Marshal(m.Servers)
			gd, _ := json.Marshal(got.DeviceIdentification)
			wd, _ := json.Marshal(m.DeviceIdentification)
			if string(gu) != string(wu) || string(gs) != string(ws) || string(gd) != string(wd) {
				t.Errorf("units/servers/ident = %s %s %s, want %s %s %s", gu, gs, gd, wu, ws, wd)
			}
			t.Logf("adus %d malformed %d alerts %d", got.ADUs, got.Malformed, len(a.TakeAlerts()))
		})
	}
}
