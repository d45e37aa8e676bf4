//go:build linux

package host

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCollectRPMRoot collects from a root that holds only an rpm sqlite
// database: software comes from rpm, sorted, and the missing files are
// listed as unavailable rather than failing the collection.
func TestCollectRPMRoot(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Key: "a", Root: "testdata/rpmroot"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.Collect(context.Background())
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	want := fixturePackages(60)
	sortSoftware(want)
	if diff := cmp.Diff(want, inv.Software); diff != "" {
		t.Errorf("Software (-want +got):\n%s", diff)
	}
	var fields []string
	for _, u := range inv.Unavailable {
		fields = append(fields, u.Field)
	}
	for _, f := range []string{"hostname", "os.platform", "os.release", "users", "services", "memory", "cpu", "disks"} {
		if !slices.Contains(fields, f) {
			t.Errorf("%q not listed as unavailable: %v", f, inv.Unavailable)
		}
	}
	if slices.Contains(fields, "software") || slices.Contains(fields, "software.rpm") {
		t.Errorf("software listed as unavailable: %v", inv.Unavailable)
	}
}

// TestCollectCaps checks that lists over their cap are cut and counted.
func TestCollectCaps(t *testing.T) {
	t.Parallel()
	inv := &Inventory{}
	pkgs := make([]Software, MaxSoftware+7)
	for i := range pkgs {
		pkgs[i] = Software{Name: "p", Source: "dpkg"}
	}
	inv.Software = capList(inv, "software", pkgs, MaxSoftware)
	if len(inv.Software) != MaxSoftware || inv.Truncated["software"] != 7 {
		t.Errorf("len = %d, truncated = %v", len(inv.Software), inv.Truncated)
	}
}
