package passive_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// truthFile is the part of a ../shared/testdata/pcaps/*.truth.json file
// that the truth test compares (see truth.sh for the conventions).
type truthFile struct {
	TotalPackets int `json:"total_packets"`
	Sensitivity  struct {
		WithOOO struct {
			ModbusADUs           int    `json:"modbus_adus"`
			OPCUAMessages        uint64 `json:"opcua_messages"`
			OPCUAServiceMessages uint64 `json:"opcua_service_messages"`
		} `json:"with_reassemble_out_of_order"`
		Differs bool `json:"differs_from_default"`
	} `json:"tcp_reassembly_sensitivity"`
	Modbus struct {
		ADUs          int `json:"adus"`
		Query         int `json:"adus_query"`
		Response      int `json:"adus_response"`
		FunctionCodes map[string]struct {
			Query    int `json:"query"`
			Response int `json:"response"`
		} `json:"function_codes"`
		ExceptionsByCode     map[string]int `json:"exceptions_by_code"`
		UnitIDs              []int          `json:"unit_ids"`
		Servers              []string       `json:"servers"`
		DeviceIdentification []struct {
			Server  string            `json:"server"`
			UnitID  int               `json:"unit_id"`
			Objects map[string]string `json:"objects"`
		} `json:"device_identification"`
	} `json:"modbus"`
	OPCUA struct {
		Messages           uint64            `json:"messages"`
		MessageTypes       map[string]uint64 `json:"message_types"`
		SecurityPolicyURIs []string          `json:"security_policy_uris"`
		EndpointURLs       []string          `json:"endpoint_urls"`
		Services           map[string]uint64 `json:"services"`
		Servers            []string          `json:"servers"`
	} `json:"opcua"`
}

// pcapDir returns ../shared/testdata/pcaps relative to the repository root,
// or skips the test.
func pcapDir(t testing.TB) string {
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "pcaps")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared captures absent (%s): %v", dir, err)
	}
	return dir
}

// TestTruth replays every shared capture with Modbus or OPC UA traffic
// through the real engine (default config: Modbus on 502, OPC UA on 4840
// and wherever a Hello or chunk header shows it) and compares the counts
// with tshark's, as recorded in its .truth.json.
func TestTruth(t *testing.T) {
	t.Parallel()
	dir := pcapDir(t)
	truths, err := filepath.Glob(filepath.Join(dir, "*.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var diffs []string
	for _, tf := range truths {
		b, err := os.ReadFile(tf)
		if err != nil {
			t.Fatal(err)
		}
		var tr truthFile
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatalf("%s: %v", tf, err)
		}
		if tr.Modbus.ADUs == 0 && tr.OPCUA.Messages == 0 {
			continue
		}
		capture := strings.TrimSuffix(tf, ".truth.json")
		name := filepath.Base(capture)
		t.Run(name, func(t *testing.T) {
			sum, err := passive.Replay(context.Background(), []string{capture}, passive.DefaultConfig(), nil)
			if err != nil {
				t.Fatal(err)
			}
			report := func(field string, ours, theirs any) {
				d := fmt.Sprintf("%-55s %-28s ours=%v tshark=%v", name, field, ours, theirs)
				diffs = append(diffs, d)
				t.Error(d)
			}
			eq := func(field string, ours, theirs int, alt ...int) {
				if ours == theirs {
					return
				}
				for _, a := range alt {
					if ours == a {
						t.Logf("%s %s: ours=%d equals tshark's out-of-order reassembly figure (default %d)", name, field, ours, theirs)
						return
					}
				}
				report(field, ours, theirs)
			}
			if int(sum.Packets) != tr.TotalPackets {
				report("packets", sum.Packets, tr.TotalPackets)
			}
			compareOPCUA(t, &tr, sum.OPCUA, report)
			m := sum.Modbus
			if tr.Modbus.ADUs == 0 && m.ADUs == 0 {
				return
			}
			var alt []int
			if tr.Sensitivity.Differs {
				alt = append(alt, tr.Sensitivity.WithOOO.ModbusADUs)
			}
			eq("adus", int(m.ADUs), tr.Modbus.ADUs, alt...)
			okAlt := func(ours, theirs int) []int {
				if tr.Sensitivity.Differs { // accept the out-of-order figure's shift
					d := tr.Sensitivity.WithOOO.ModbusADUs - tr.Modbus.ADUs
					return []int{theirs + d}
				}
				return nil
			}
			eq("requests", int(m.Requests), tr.Modbus.Query, okAlt(int(m.Requests), tr.Modbus.Query)...)
			eq("responses", int(m.Responses), tr.Modbus.Response, okAlt(int(m.Responses), tr.Modbus.Response)...)
			fcs := map[string]bool{}
			for k := range tr.Modbus.FunctionCodes {
				fcs[k] = true
			}
			for k := range m.FunctionCodes {
				fcs[k] = true
			}
			for _, k := range sortedNumeric(fcs) {
				w, g := tr.Modbus.FunctionCodes[k], m.FunctionCodes[k]
				eq("function_codes["+k+"].query", int(g.Requests), w.Query, okAlt(0, w.Query)...)
				eq("function_codes["+k+"].response", int(g.Responses), w.Response, okAlt(0, w.Response)...)
			}
			exc := map[string]bool{}
			for k := range tr.Modbus.ExceptionsByCode {
				exc[k] = true
			}
			for k := range m.ExceptionsByCode {
				exc[k] = true
			}
			for _, k := range sortedNumeric(exc) {
				eq("exceptions_by_code["+k+"]", int(m.ExceptionsByCode[k]), tr.Modbus.ExceptionsByCode[k])
			}
			if fmt.Sprint(m.UnitIDs) != fmt.Sprint(nonNil(tr.Modbus.UnitIDs)) {
				report("unit_ids", m.UnitIDs, tr.Modbus.UnitIDs)
			}
			if fmt.Sprint(m.Servers) != fmt.Sprint(tr.Modbus.Servers) {
				report("servers", m.Servers, tr.Modbus.Servers)
			}
			gotID, _ := json.Marshal(m.DeviceIdentification)
			wantID, _ := json.Marshal(tr.Modbus.DeviceIdentification)
			if string(gotID) != string(wantID) && !(len(m.DeviceIdentification) == 0 && len(tr.Modbus.DeviceIdentification) == 0) {
				report("device_identification", string(gotID), string(wantID))
			}
		})
	}
	t.Cleanup(func() {
		if len(diffs) > 0 {
			t.Logf("remaining differences (file, field, ours, tshark):\n%s", strings.Join(diffs, "\n"))
		}
	})
}

// compareOPCUA compares the opcua section of a Summary with tshark's. Where
// tshark's figure depends on out-of-order reassembly (differs_from_default),
// its out-of-order figure is accepted for messages and for the number of
// service messages.
func compareOPCUA(t *testing.T, tr *truthFile, got *opcua.Stats, report func(field string, ours, theirs any)) {
	t.Helper()
	want := tr.OPCUA
	wantSvc := map[string]uint64{}
	for k, v := range want.Services {
		if i := strings.LastIndex(k, " ("); i > 0 { // "ReadRequest (631)"
			k = k[:i]
		}
		wantSvc[k] += v
	}
	var gotSvcTotal uint64
	for _, n := range got.Services {
		gotSvcTotal += n
	}
	ooo := tr.Sensitivity.Differs
	if got.Messages != want.Messages {
		if ooo && got.Messages == tr.Sensitivity.WithOOO.OPCUAMessages {
			t.Logf("opcua messages: ours=%d equals tshark's out-of-order reassembly figure (default %d)", got.Messages, want.Messages)
		} else {
			report("opcua.messages", got.Messages, want.Messages)
		}
	}
	if diff := cmp.Diff(nonNilMap(want.MessageTypes), got.MessageTypes); diff != "" {
		if ooo && got.Messages == tr.Sensitivity.WithOOO.OPCUAMessages {
			t.Logf("opcua message_types follow tshark's out-of-order figure (-default +ours):\n%s", diff)
		} else {
			report("opcua.message_types", got.MessageTypes, want.MessageTypes)
		}
	}
	if diff := cmp.Diff(wantSvc, got.Services); diff != "" {
		if ooo && gotSvcTotal == tr.Sensitivity.WithOOO.OPCUAServiceMessages {
			t.Logf("opcua services follow tshark's out-of-order figure (%d service messages) (-default +ours):\n%s", gotSvcTotal, diff)
		} else {
			report("opcua.services", got.Services, wantSvc)
		}
	}
	for _, c := range []struct {
		field      string
		ours, want []string
	}{
		{"opcua.security_policy_uris", got.SecurityPolicyURIs, want.SecurityPolicyURIs},
		{"opcua.endpoint_urls", got.EndpointURLs, want.EndpointURLs},
		{"opcua.servers", got.Servers, want.Servers},
	} {
		if !cmp.Equal(nonNilStrings(c.want), c.ours) {
			report(c.field, c.ours, c.want)
		}
	}
}

func nonNilMap(m map[string]uint64) map[string]uint64 {
	if m == nil {
		return map[string]uint64{}
	}
	return m
}

func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func nonNil(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}

func sortedNumeric(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i])
		b, _ := strconv.Atoi(out[j])
		return a < b
	})
	return out
}
