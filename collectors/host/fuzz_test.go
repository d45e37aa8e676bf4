package host

import (
	"bytes"
	"os"
	"testing"
)

// The parsers below read files an attacker on the host may control (a
// crafted package database, unit file or utmp). The fuzz targets assert
// that they never panic and keep their output invariants.

func FuzzParseDpkgStatus(f *testing.F) {
	if b, err := os.ReadFile("testdata/root/var/lib/dpkg/status"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("Package: a\nStatus: install ok installed\n\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := parseDpkgStatus(bytes.NewReader(b))
		if err != nil && pkgs != nil {
			t.Fatalf("packages returned with error %v", err)
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Source != "dpkg" {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}

func FuzzParseUtmp(f *testing.F) {
	if b, err := os.ReadFile("testdata/root/run/utmp"); err == nil {
		f.Add(b)
		f.Add(b[:500])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		users, _ := parseUtmp(b)
		if len(users) > len(b)/utmpSize {
			t.Fatalf("%d users from %d bytes", len(users), len(b))
		}
	})
}

func FuzzParseUnitFile(f *testing.F) {
	f.Add([]byte("[Unit]\nDescription=x\n[Install]\nWantedBy=a\n"))
	f.Add([]byte("[\n]\n[Unit\nDescription"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseUnitFile(bytes.NewReader(b))
	})
}

func FuzzParseRPMHeader(f *testing.F) {
	f.Add(rpmHeader(rpmStr(rpmTagName, "openssl"), rpmStr(rpmTagVersion, "3"), rpmInt32(rpmTagEpoch, 1), rpmInt32(rpmTagInstallTime, 5)))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		sw, err := parseRPMHeader(b)
		if err == nil && (sw.Name == "" || sw.Source != "rpm") {
			t.Fatalf("bad package %+v", sw)
		}
	})
}

func FuzzParseRPMSqlite(f *testing.F) {
	for _, p := range []string{"testdata/rpmdb-bad.sqlite", "testdata/rpmroot/var/lib/rpm/rpmdb.sqlite"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, bad, err := parseRPMSqlite(bytes.NewReader(b), int64(len(b)))
		if err != nil && (pkgs != nil || bad != 0) {
			t.Fatalf("results returned with error %v", err)
		}
	})
}
