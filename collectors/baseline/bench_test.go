package baseline

import (
	"context"
	"io"
	"testing"
)

// BenchmarkScan measures one full Linux scan on a fixture root and on this
// machine's "/".
func BenchmarkScan(b *testing.B) {
	for _, bc := range []struct{ name, root string }{{"fixture", ""}, {"root", "/"}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			if bc.root == "" {
				root := copyFixture(b, "debian-hardened")
				cfg = fixtureConfig(b, "debian-hardened", root)
			}
			c, err := New(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			c.target = "linux"
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Scan(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReports measures the table and HTML renderers.
func BenchmarkReports(b *testing.B) {
	rep := scanFixture(b, "debian-default", nil)
	b.ReportAllocs()
	for b.Loop() {
		if err := rep.WriteTable(io.Discard, true, 0); err != nil {
			b.Fatal(err)
		}
		if err := rep.WriteHTML(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
