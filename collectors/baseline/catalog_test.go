package baseline

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCatalogCounts(t *testing.T) {
	t.Parallel()
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		os   string
		star int
	}
	stars := map[key]int{}
	sev := map[string]int{}
	for _, k := range cat.Checks {
		stars[key{k.OS, k.Star}]++
		sev[k.OS+"/"+string(k.Severity)]++
		if k.TitleZH == "" || k.TitleEN == "" || k.Remediation == "" || len(k.Controls) == 0 {
			t.Errorf("%s: missing title, remediation or controls", k.ID)
		}
	}
	// Catalog §3.3 summary table plus the 19 Linux and 5 Windows checks of
	// issue 10.
	wantStars := map[key]int{{"linux", 1}: 18, {"linux", 2}: 37, {"linux", 3}: 9, {"linux", 4}: 1,
		{"windows", 1}: 19, {"windows", 2}: 25, {"windows", 3}: 6, {"windows", 4}: 1}
	if diff := cmp.Diff(wantStars, stars); diff != "" {
		t.Errorf("stars per OS (-want +got):\n%s", diff)
	}
	wantSev := map[string]int{"linux/critical": 2, "linux/high": 20, "linux/medium": 38, "linux/low": 5,
		"windows/critical": 2, "windows/high": 23, "windows/medium": 25, "windows/low": 1}
	if diff := cmp.Diff(wantSev, sev); diff != "" {
		t.Errorf("severities (-want +got):\n%s", diff)
	}
}

// TestEveryCheckHasAProbe asserts a one-to-one mapping between catalog rows
// and probes on each OS.
func TestEveryCheckHasAProbe(t *testing.T) {
	t.Parallel()
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	lp, wp := linuxProbes(), windowsProbes()
	for _, k := range cat.Checks {
		var ok bool
		switch k.OS {
		case "linux":
			_, ok = lp[k.ID]
		case "windows":
			_, ok = wp[k.ID]
		}
		if !ok {
			t.Errorf("catalog check %s has no %s probe", k.ID, k.OS)
		}
	}
	for id := range lp {
		if k, ok := cat.Check(id); !ok || k.OS != "linux" {
			t.Errorf("linux probe %s has no linux catalog row", id)
		}
	}
	for id := range wp {
		if k, ok := cat.Check(id); !ok || k.OS != "windows" {
			t.Errorf("windows probe %s has no windows catalog row", id)
		}
	}
}
