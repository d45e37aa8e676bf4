package advisory

import (
	"errors"
	"os"
	"path/filepath"
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
	if len(l.Advisories) < 18 {
		t.Errorf("%d advisories", len(l.Advisories))
	}
	vendors := map[string]bool{}
	for _, a := range l.Advisories {
		vendors[a.Vendor] = true
		if a.CVSS.Score <= 0 {
			t.Errorf("%s: no CVSS score", a.ID)
		}
	}
	for _, v := range []string{"Siemens", "Schneider Electric", "Rockwell Automation", "Mitsubishi Electric", "Omron", "ABB", "Honeywell", "Inovance"} {
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
	tests := []struct {
		name string
		s    Subject
		want []string // "id range [product]"
	}{
		{"M580 before 2.90", modbus("Schneider Electric", "BMEP58 2040", "Modicon M580", "v2.80"),
			[]string{"ICSA-25-114-01 < 2.90 [BMEP58 2040]", "CVE-2021-22779 * [BMEP58 2040]"}},
		{"M580 2.90", modbus("Schneider Electric", "BMEP58 2040", "Modicon M580", "v2.90"),
			[]string{"CVE-2021-22779 * [BMEP58 2040]"}},
		{"M340 by part number", modbus("Schneider Electric", "BMX P34 2020", "", "v3.40"),
			[]string{"CVE-2021-22779 * [BMX P34 2020]"}},
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
			[]string{"ICSA-21-350-04 <= 1.606G [GX Works2]"}},
		{"GX Works2 newer", software("GX Works2", "1.610L", "MITSUBISHI ELECTRIC CORPORATION"), nil},
		{"a version the list cannot read matches all-versions entries only", modbus("Schneider Electric", "BMEP58 2040", "", "unknown"),
			[]string{"CVE-2021-22779 * [BMEP58 2040]"}},
		{"serial-conditioned range", modbus("MITSUBISHI ELECTRIC", "FX5U-32MT/ES", "", "1.200"),
			[]string{"JVNVU#95926817 >= 1.073, < 1.270 [FX5U-32MT/ES]"}},
		{"Omron NJ", opcua("OMRON Corporation", "NJ501-1500", "1.46"),
			[]string{"ICSA-22-314-08 <= 1.48 [NJ501-1500]", "ICSA-22-314-07 <= 1.48 [NJ501-1500]"}},
		{"nothing known", opcua("gopcua", "gopcua OPC/UA Server", "0.0.0-dev"), nil},
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
