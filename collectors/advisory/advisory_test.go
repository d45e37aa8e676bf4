package advisory

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCompareVersions orders versions written in the vendors' schemes.
func TestCompareVersions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"2.9.2", "2.9.2", 0},
		{"V2.9.2", "2.9.2", 0},
		{"v4.5", "V4.5.0", 0},
		{"2.9", "2.9.0.0", 0},
		{"2.9.1", "2.9.2", -1},
		{"2.10", "2.9", 1},           // numbers, not strings
		{"33.011", "33.11", 0},       // Rockwell: leading zeros
		{"33.011", "33.013", -1},     // Rockwell minor revisions
		{"V4.5", "V4.5 SP1", -1},     // Siemens service packs
		{"V4.5 SP1", "V4.5 SP2", -1}, //
		{"V4.5 SP1", "V4.5.1", -1},   // a new release beats a service pack
		{"V4.5 SP1", "V4.5.0", 1},    //
		{"V15.0 SP1", "V15.0", 1},    // Schneider
		{"V15.0 SP1", "V15.1", -1},   //
		{"V15 SP1", "V15.0 SP1", 0},  //
		{"V16.0 Update 2", "V16.0 Upd 2", 0},
		{"V16.0 Update 2", "V16.0 Update 10", -1},
		{"R520.2", "520.2", 0},          // Honeywell releases
		{"520.2TCU2", "520.2 TCU4", -1}, //
		{"520.2", "520.2TCU2", -1},      //
		{"510.2HF12", "510.2 HF 13", -1},
		{"511.5TCU3", "511.5TCU4 HF3", -1},
		{"1.606G", "1.606", 1},       // Mitsubishi letter suffixes
		{"1.606G", "1.606H", -1},     //
		{"1.606G", "1.607", -1},      //
		{"'07'", "7", 0},             // Mitsubishi quoted firmware numbers
		{"Ver.1.30", "1.30", 0},      // Omron
		{"1.28", "1.3", 1},           //
		{"2.3 beta", "2.3", -1},      // pre-releases
		{"2.3rc1", "2.3", -1},        //
		{"3.5.17.0", "3.5.22.0", -1}, // CODESYS
		{"4.21.0.0", "4.1.0.0", 1},   //
		{"5.2.11.29", "5.2.11.3", 1}, //
	}
	for _, tc := range tests {
		a, err := ParseVersion(tc.a)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", tc.a, err)
		}
		b, err := ParseVersion(tc.b)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", tc.b, err)
		}
		if got := a.Compare(b); got != tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := b.Compare(a); got != -tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d (antisymmetry)", tc.b, tc.a, got, -tc.want)
		}
	}
	for _, bad := range []string{"", "SP", "latest", "v", "99999999999999999999999"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) = nil error", bad)
		}
	}
}

// TestRanges checks range membership, bounds included or not.
func TestRanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rng string
		in  []string
		out []string
	}{
		{"< 2.3.1.5", []string{"2.3.1.4", "2.3", "V2.3.1.4 SP9", "1"}, []string{"2.3.1.5", "2.3.1.5.0", "2.3.2", "2.4"}},
		{"<= V4.5 SP1", []string{"V4.5", "V4.5 SP1", "4.4.9"}, []string{"V4.5 SP2", "V4.5.1", "V4.6"}},
		{">= 20, < 33.013", []string{"20", "20.011", "33.011", "32.0"}, []string{"19.99", "33.013", "34.011"}},
		{">= 520.2, <= 520.2TCU2", []string{"520.2", "520.2TCU1", "R520.2 TCU2"}, []string{"520.1TCU4", "520.2TCU3", "520.3"}},
		{"= 1.000", []string{"1.000", "1", "1.0.0"}, []string{"1.001", "0.999"}},
		{"V4.5 SP1", []string{"4.5 SP1"}, []string{"4.5", "4.5 SP2"}},
		{"*", []string{"0.1", "99"}, nil},
		{"> 1.0", []string{"1.0.1", "1.0 SP1"}, []string{"1.0", "0.9"}},
	}
	for _, tc := range tests {
		r, err := ParseRange(tc.rng)
		if err != nil {
			t.Fatalf("ParseRange(%q): %v", tc.rng, err)
		}
		for _, s := range tc.in {
			if v, _ := ParseVersion(s); !r.Contains(v) {
				t.Errorf("%q does not contain %q", tc.rng, s)
			}
		}
		for _, s := range tc.out {
			if v, _ := ParseVersion(s); r.Contains(v) {
				t.Errorf("%q contains %q", tc.rng, s)
			}
		}
	}
	for _, bad := range []string{"", "< ", "<< 1", ">= 1, ", "latest"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) = nil error", bad)
		}
	}
}

// TestEmbedded checks the built-in list: it parses, every entry names the
// URL it was taken from, and the vendors common in Chinese plants are
// covered.
func TestEmbedded(t *testing.T) {
	t.Parallel()
	l, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Advisories) < 36 {
		t.Errorf("%d advisories", len(l.Advisories))
	}
	vendors := map[string]bool{}
	for _, a := range l.Advisories {
		vendors[a.Vendor] = true
		if a.CVSS.Score <= 0 {
			t.Errorf("%s: no CVSS score", a.ID)
		}
	}
	for _, v := range []string{"Siemens", "Schneider Electric", "Rockwell Automation", "Mitsubishi Electric", "Omron", "ABB", "Honeywell", "Inovance", "SUPCON"} {
		if !vendors[v] {
			t.Errorf("no advisory of %s", v)
		}
	}
}

// TestMatch matches devices and software as the agent describes them.
func TestMatch(t *testing.T) {
	t.Parallel()
	l, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	modbus := func(vendor, code, name, rev string) Subject {
		return Subject{
			Vendor:   Field{"vendor_name", vendor},
			Products: []Field{{"product_code", code}, {"product_name", name}},
			Version:  Field{"revision", rev},
		}
	}
	software := func(name, version, publisher string) Subject {
		return Subject{Vendor: Field{"publisher", publisher}, Products: []Field{{"name", name}}, Version: Field{"version", version}}
	}
	opcua := func(manufacturer, product, version string) Subject {
		return Subject{Vendor: Field{"manufacturer_name", manufacturer}, Products: []Field{{"product_name", product}}, Version: Field{"software_version", version}}
	}
	// at names the product string the matches of ids are expected on.
	at := func(product string, ids ...string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id + " [" + product + "]"
		}
		return out
	}
	tests := []struct {
		name string
		s    Subject
		want []string // "id range [product]"
	}{
		{"M580 before 2.90", modbus("Schneider Electric", "BMEP58 2040", "Modicon M580", "v2.80"),
			at("BMEP58 2040", "ICSA-25-114-01 < 2.90", "CVE-2021-22779 *", "CVE-2022-45788 *", "CVE-2022-45789 *", "CVE-2023-6408 < 4.20")},
		{"M580 2.90", modbus("Schneider Electric", "BMEP58 2040", "Modicon M580", "v2.90"),
			at("BMEP58 2040", "CVE-2021-22779 *", "CVE-2022-45788 *", "CVE-2022-45789 *", "CVE-2023-6408 < 4.20")},
		{"M580 4.20", modbus("Schneider Electric", "BMEP58 2040", "Modicon M580", "V4.20"),
			at("BMEP58 2040", "CVE-2021-22779 *", "CVE-2022-45788 *", "CVE-2022-45789 *")},
		{"M580 Safety has no fix", modbus("Schneider Electric", "BMEP58 4040S", "", "V4.20"),
			at("BMEP58 4040S", "CVE-2021-22779 *", "CVE-2022-45788 *", "CVE-2022-45789 *", "CVE-2023-6408 *")},
		{"M340 by part number", modbus("Schneider Electric", "BMX P34 2020", "", "v3.40"),
			at("BMX P34 2020", "CVE-2021-22779 *", "CVE-2022-45788 *", "CVE-2022-45789 *", "CVE-2023-6408 < 3.60", "CVE-2024-8933 *", "CVE-2024-8936 < 3.65")},
		{"M340 3.60", modbus("Schneider Electric", "BMX P34 2020", "", "v3.60"),
			at("BMX P34 2020", "CVE-2021-22779 *", "CVE-2022-45788 *", "CVE-2022-45789 *", "CVE-2024-8933 *", "CVE-2024-8936 < 3.65")},
		{"M340 3.65", modbus("Schneider Electric", "BMX P34 2020", "", "V3.65"),
			at("BMX P34 2020", "CVE-2021-22779 *", "CVE-2022-45788 *", "CVE-2022-45789 *", "CVE-2024-8933 *")},
		{"M221", modbus("Schneider Electric", "TM221CE16R", "", "1.6.2.0"), []string{"ICSA-20-343-04 * [TM221CE16R]"}},
		{"Momentum Unity M1E", modbus("Schneider Electric", "171CBU98091", "", "v2.4"), []string{
			"ICSA-25-114-01 * [171CBU98091]", "CVE-2022-45788 * [171CBU98091]", "CVE-2024-8933 * [171CBU98091]"}},
		{"Control Expert 15.3", software("EcoStruxure Control Expert", "15.3", "Schneider Electric"), []string{
			"CVE-2022-45788 * [EcoStruxure Control Expert]", "CVE-2022-45789 * [EcoStruxure Control Expert]", "CVE-2023-6408 < 16.0 [EcoStruxure Control Expert]"}},
		{"M251 fixed", modbus("Schneider Electric", "TM251MESE", "", "5.2.11.29"), nil},
		{"M251 before the fix", modbus("Schneider Electric", "TM251MESE", "", "5.1.9.4"),
			[]string{"ICSA-24-352-04 < 5.2.11.29 [TM251MESE]"}},
		{"M258 any version", modbus("Schneider Electric", "TM258LF42DT", "", ""),
			[]string{"ICSA-24-352-04 * [TM258LF42DT]"}},
		{"another vendor's product code", modbus("Acme", "BMX P34 2020", "", "v1.0"), nil},
		{"Siemens S7-1500 over OPC UA", opcua("Siemens AG", "SIMATIC S7-1500", "V2.9.1"),
			[]string{"ICSA-22-286-04 < V2.9.2 [SIMATIC S7-1500]", "ICSA-21-152-01 < v2.9.2 [SIMATIC S7-1500]"}},
		{"Siemens S7-1500 fixed", opcua("Siemens AG", "SIMATIC S7-1500", "V3.0.1"), nil},
		{"S7-1500 software controller", opcua("Siemens AG", "SIMATIC S7-1500 Software Controller", "V21.8"),
			[]string{"ICSA-22-286-04 < V21.9 [SIMATIC S7-1500 Software Controller]", "ICSA-21-152-01 < v21.9 [SIMATIC S7-1500 Software Controller]"}},
		{"CODESYS runtime", opcua("CODESYS GmbH", "CODESYS Control Win V3 x64", "3.5.19.30"),
			[]string{"VDE-2026-018 >= 3.5.17.0, < 3.5.22.0 [CODESYS Control Win V3 x64]"}},
		{"CODESYS runtime fixed", opcua("CODESYS GmbH", "CODESYS Control Win V3 x64", "3.5.22.0"), nil},
		{"Studio 5000 on a workstation", software("Studio 5000 Logix Designer", "33.01.00", "Rockwell Automation, Inc."),
			[]string{"ICSA-21-056-03 >= 21 [Studio 5000 Logix Designer]"}},
		{"Honeywell release with a TCU", software("Experion PKS Server", "R520.2 TCU2", "Honeywell"),
			[]string{"CVE-2023-22435 >= 520.2, <= 520.2TCU2 [Experion PKS Server]"}},
		{"Honeywell older release", software("Experion PKS Server", "R511.5 TCU3", "Honeywell"),
			[]string{"ICSA-23-194-06 < R520.2 [Experion PKS Server]", "CVE-2023-22435 >= 511.1, <= 511.5TCU3 [Experion PKS Server]"}},
		{"GX Works2 letter version", software("GX Works2", "1.606G", "MITSUBISHI ELECTRIC CORPORATION"),
			[]string{"ICSA-21-350-04 <= 1.606G [GX Works2]", "CVE-2023-6943 >= 1.11M [GX Works2]"}},
		{"GX Works2 newer", software("GX Works2", "1.610L", "MITSUBISHI ELECTRIC CORPORATION"),
			[]string{"CVE-2023-6943 >= 1.11M [GX Works2]"}},
		{"GX Works3 before the fix", software("GX Works3", "1.106L", "MITSUBISHI ELECTRIC CORPORATION"),
			[]string{"CVE-2023-6943 <= 1.106L [GX Works3]"}},
		{"GX Works3 fixed", software("GX Works3", "1.107M", "MITSUBISHI ELECTRIC CORPORATION"), nil},
		{"MX Component", software("MX Component", "5.007H", "MITSUBISHI ELECTRIC CORPORATION"),
			[]string{"CVE-2023-6943 >= 4.00A, <= 5.007H [MX Component]"}},
		{"RSLinx Classic", software("RSLinx Classic", "4.10.00", "Rockwell Automation, Inc."),
			[]string{"CVE-2019-6553 <= 4.10.00 [RSLinx Classic]"}},
		{"RSLinx Classic fixed", software("RSLinx Classic", "4.11.00", "Rockwell Automation, Inc."), nil},
		{"ControlLogix controller", Subject{Vendor: Field{"vendor", "Rockwell Automation/Allen-Bradley"}, Products: []Field{{"product_name", "1756-L83E/B"}}, Version: Field{"revision", "33.011"}},
			[]string{"CVE-2022-1161 * [1756-L83E/B]"}},
		{"EN2T series A-C firmware 5.028", Subject{Vendor: Field{"vendor", "Rockwell Automation/Allen-Bradley"}, Products: []Field{{"product_name", "1756-EN2T/C"}}, Version: Field{"revision", "5.028"}},
			[]string{"CVE-2023-3595 = 5.028 [1756-EN2T/C]"}},
		{"EN2T series D firmware 11.002", Subject{Vendor: Field{"vendor", "Rockwell Automation/Allen-Bradley"}, Products: []Field{{"product_name", "1756-EN2T/D"}}, Version: Field{"revision", "11.002"}},
			[]string{"CVE-2023-3595 > 5.008, <= 11.003 [1756-EN2T/D]"}},
		{"EN2T fixed", Subject{Vendor: Field{"vendor", "Rockwell Automation/Allen-Bradley"}, Products: []Field{{"product_name", "1756-EN2T/D"}}, Version: Field{"revision", "11.004"}}, nil},
		{"WinCC 7.5 before SP2 Update 18", software("SIMATIC WinCC V7.5", "V7.5 SP2 Update 17", "Siemens AG"),
			[]string{"CVE-2024-35783 >= 7.5, < V7.5 SP2 Update 18 [SIMATIC WinCC V7.5]"}},
		{"WinCC 7.5 SP2 Update 18", software("SIMATIC WinCC V7.5", "V7.5 SP2 Upd 18", "Siemens AG"), nil},
		{"WinCC Runtime Professional V19", software("SIMATIC WinCC Runtime Professional V19", "V19 Update 2", "Siemens AG"),
			[]string{"CVE-2024-35783 >= 19, < V19 Update 3 [SIMATIC WinCC Runtime Professional V19]"}},
		{"STEP 7 Professional V15.1", software("SIMATIC STEP 7 Professional V15.1", "15.1", "Siemens AG"),
			[]string{"CVE-2019-10929 < V16 [SIMATIC STEP 7 Professional V15.1]"}},
		{"STEP 7 classic is not TIA Portal", software("SIMATIC STEP 7 V5.7", "5.7", "Siemens AG"), nil},
		{"KEPServerEX before the fix", software("KEPServerEX 6", "6.9.572.0", "PTC"),
			[]string{"ICSA-20-352-02 >= 6.9, < 6.9.584.0 [KEPServerEX 6]"}},
		{"KEPServerEX fixed", software("KEPServerEX 6", "6.9.584.0", "PTC"), nil},
		{"KEPServerEX over OPC UA", opcua("Kepware", "KEPServerEX", "6.6.350.0"),
			[]string{"ICSA-20-352-02 >= 6.0, < 6.6.362.0 [KEPServerEX]"}},
		{"ControlEdge UOC", opcua("Honeywell", "ControlEdge UOC", "R511.5 TCU4"),
			[]string{"CVE-2023-5389 >= 511.1, <= 511.5 TCU4 HF3 [ControlEdge UOC]"}},
		{"ControlEdge UOC fixed", opcua("Honeywell", "ControlEdge UOC", "R520.2 TCU5"), nil},
		{"Experion C300", Subject{Vendor: Field{"vendor", "Honeywell"}, Products: []Field{{"model", "C300 Controller"}}},
			[]string{"CVE-2021-38397 * [C300 Controller]"}},
		{"AC500 V2 2.8.4", modbus("ABB", "PM573-ETH", "AC500", "2.8.4"),
			at("PM573-ETH", "CVE-2020-24685 <= 2.8.4", "CVE-2020-24686 *")},
		{"AC500 V2 2.5.2", modbus("ABB", "PM573-ETH", "AC500", "2.5.2"),
			at("PM573-ETH", "ICSA-26-146-02 <= 2.5.2", "CVE-2020-24685 <= 2.8.4", "CVE-2020-24686 *")},
		{"ControlLogix 5570 by family name", Subject{Vendor: Field{"vendor", "Rockwell Automation"}, Products: []Field{{"name", "ControlLogix 5570"}}, Version: Field{"version", "32.011"}},
			at("ControlLogix 5570", "ICSA-22-354-02 >= 20, < 33.013", "CVE-2022-1161 *")},
		{"iQ-R C Controller", modbus("MITSUBISHI ELECTRIC", "R12CCPU-V", "", "16"), at("R12CCPU-V", "ICSA-21-280-04 <= 16")},
		{"iQ-R Safety CPU", modbus("MITSUBISHI ELECTRIC", "R08SFCPU", "", "26"), at("R08SFCPU", "ICSA-24-044-01 <= 26")},
		{"Inovance AM401 over OPC UA", opcua("INOVANCE", "AM401_CPU1608TPTN", "1.3.0.0"), at("AM401_CPU1608TPTN", "CVE-2024-48453 *")},
		{"SUPCON SimField", software("SimField", "1.80.00.00", "Zhejiang SUPCON Technology Co., Ltd."), at("SimField", "CVE-2023-2924 <= 1.80.00.00")},
		{"CODESYS V2 PLCWinNT", software("CODESYS PLCWinNT", "2.4.7.56", "3S-Smart Software Solutions GmbH"),
			[]string{"CVE-2022-31806 >= 2, < 2.4.7.57 [CODESYS PLCWinNT]"}},
		{"a version the list cannot read matches all-versions entries only", modbus("Schneider Electric", "BMEP58 2040", "", "unknown"),
			at("BMEP58 2040", "CVE-2021-22779 *", "CVE-2022-45788 *", "CVE-2022-45789 *")},
		{"serial-conditioned range", modbus("MITSUBISHI ELECTRIC", "FX5U-32MT/ES", "", "1.200"),
			[]string{"JVNVU#95926817 >= 1.073, < 1.270 [FX5U-32MT/ES]"}},
		{"Omron NJ", opcua("OMRON Corporation", "NJ501-1500", "1.46"),
			[]string{"ICSA-22-314-08 <= 1.48 [NJ501-1500]", "ICSA-22-314-07 <= 1.48 [NJ501-1500]", "CVE-2023-27396 * [NJ501-1500]"}},
		{"Omron CJ2M over FINS", Subject{Vendor: Field{"vendor", "OMRON"}, Products: []Field{{"model", "CJ2M-CPU31"}}},
			[]string{"CVE-2023-27396 * [CJ2M-CPU31]"}},
		{"Omron CP1L", Subject{Vendor: Field{"vendor", "OMRON"}, Products: []Field{{"model", "CP1L-EM40DR-D"}}},
			[]string{"CVE-2023-27396 * [CP1L-EM40DR-D]"}},
		{"a Siemens CP is no Omron CP", Subject{Vendor: Field{"vendor", "Siemens"}, Products: []Field{{"model", "CP 1543-1"}}}, nil},
		{"nothing known", opcua("gopcua", "gopcua OPC/UA Server", "0.0.0-dev"), nil},
		// Identities in ../shared/testdata/pcaps (read with tshark): open
		// stacks, which no advisory names.
		{"FreeOpcUa server of a real capture", Subject{Products: []Field{{"application_name", "FreeOpcUa Python Server"}, {"product_uri", "urn:freeopcua.github.io:python:server"}}}, nil},
		{"Zeek test device of a real capture", modbus("Zeek Modbus Test", "Protocol Parsing is fun!", "", "1.2.3.6"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, m := range l.Match(tc.s) {
				got = append(got, m.Advisory.ID+" "+m.Range+" ["+m.Product.Value+"]")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
		})
	}
	// Every advisory of the list is matched by a subject written as its
	// products identify themselves.
	matched := map[string]bool{}
	for _, tc := range tests {
		for _, m := range l.Match(tc.s) {
			matched[m.Advisory.ID] = true
		}
	}
	for _, a := range l.Advisories {
		if !matched[a.ID] {
			t.Errorf("no case matches %s: add one with the identification strings its products report", a.ID)
		}
	}
	if ms := l.Match(opcua("OMRON Corporation", "NJ501-1500", "1.46")); ms[0].Affected.Condition != "" || !strings.Contains(l.Match(modbus("MITSUBISHI ELECTRIC", "FX5U-32MT/ES", "", "1.200"))[0].Affected.Condition, "17X") {
		t.Error("conditions are not carried into the matches")
	}
	var nilList *List
	if ms := nilList.Match(opcua("Siemens AG", "SIMATIC S7-1500", "V2.9.1")); ms != nil {
		t.Errorf("a nil list matched %v", ms)
	}
}

// TestParseErrors refuses malformed lists, naming the entry and field.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	good := `{"format": "edgeward.advisories/v1", "updated": "2026-01-02", "advisories": [
 {"id": "X-1", "title": "t", "vendor": "Acme", "cvss": {"version": "3.1", "score": 7.5}, "source": "https://example.com/x-1",
  "affected": [{"product": "Acme PLC", "vendors": ["acme*"], "products": ["acmeplc*"], "versions": ["< 2.0"]}]}]}`
	if l, err := Parse("good.json", []byte(good)); err != nil || len(l.Advisories) != 1 {
		t.Fatalf("Parse(good) = %v, %v", l, err)
	}
	tests := []struct{ name, edit, want string }{
		{"format", `"edgeward.advisories/v1"|"v2"`, `format "v2"`},
		{"date", `"2026-01-02"|"yesterday"`, `updated "yesterday"`},
		{"unknown field", `"title": "t"|"titel": "t"`, `unknown field "titel"`},
		{"score", `"score": 7.5|"score": 75`, `advisories[0] (X-1): cvss.score 75`},
		{"source", `"https://example.com/x-1"|"somewhere"`, `source "somewhere"`},
		{"range", `"< 2.0"|"before 2"`, `affected[0] (Acme PLC): versions: version range "before 2"`},
		{"no versions", `"versions": ["< 2.0"]|"versions": []`, `versions: empty`},
		{"loose pattern", `["acmeplc*"]|["*"]`, `products: pattern "*": needs at least three letters or digits`},
		{"syntax", `"advisories": [|"advisories": [,`, `bad.json:1: invalid character`},
	}
	for _, tc := range tests {
		old, repl, _ := strings.Cut(tc.edit, "|")
		bad := strings.Replace(good, old, repl, 1)
		_, err := Parse("bad.json", []byte(bad))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	dup := strings.Replace(good, `"advisories": [`, `"advisories": [{"id": "X-1", "title": "t", "vendor": "Acme", "cvss": {"version": "3.1", "score": 1}, "source": "https://e.com", "affected": [{"product": "p", "vendors": ["acme"], "products": ["acmeplc"], "versions": ["*"]}]},`, 1)
	if _, err := Parse("dup.json", []byte(dup)); err == nil || !strings.Contains(err.Error(), "id repeats advisories[0]") {
		t.Errorf("duplicate id: %v", err)
	}
	path := filepath.Join(t.TempDir(), "list.json")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// FuzzVersion feeds device-reported version strings to the parser: no
// panic, and the order it defines is reflexive and antisymmetric.
func FuzzVersion(f *testing.F) {
	for _, s := range []string{"V4.5 SP1", "520.2TCU2", "1.606G", "'07'", "Ver.1.30", "2.3rc1", "v", "9999999999999999999999"} {
		f.Add(s, "2.9.2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, errA := ParseVersion(a)
		vb, errB := ParseVersion(b)
		if errA != nil || errB != nil {
			return
		}
		if va.Compare(va) != 0 {
			t.Fatalf("%q != itself", a)
		}
		if va.Compare(vb) != -vb.Compare(va) {
			t.Fatalf("Compare(%q, %q) = %d, Compare(%q, %q) = %d", a, b, va.Compare(vb), b, a, vb.Compare(va))
		}
	})
}

// TestGlobAgreesWithRegexp: a glob matches exactly the strings its anchored
// regular expression (each "*" as ".*") matches, on every pattern and string
// over a small alphabet, where overlapping parts and repeated letters make
// leftmost matching go wrong if it can.
func TestGlobAgreesWithRegexp(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(alpha string, n int) string {
		b := make([]byte, rng.IntN(n+1))
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	for range 20000 {
		pat, s := word("ab*", 7), word("ab", 9)
		parts := strings.Split(pat, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		if got, want := glob(strings.Split(pat, "*")).match(s), re.MatchString(s); got != want {
			t.Fatalf("glob %q on %q: %t, regexp says %t", pat, s, got, want)
		}
	}
}
