package host

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// rpmEntry is one tag of a test header.
type rpmEntry struct {
	tag, typ uint32
	data     []byte
}

func rpmStr(tag uint32, s string) rpmEntry { return rpmEntry{tag, rpmTypeString, append([]byte(s), 0)} }

func rpmInt32(tag, v uint32) rpmEntry {
	return rpmEntry{tag, rpmTypeInt32, binary.BigEndian.AppendUint32(nil, v)}
}

// rpmHeader builds a header blob as rpm stores it in its database.
func rpmHeader(es ...rpmEntry) []byte {
	var data, index []byte
	for _, e := range es {
		index = binary.BigEndian.AppendUint32(index, e.tag)
		index = binary.BigEndian.AppendUint32(index, e.typ)
		index = binary.BigEndian.AppendUint32(index, uint32(len(data)))
		index = binary.BigEndian.AppendUint32(index, 1)
		data = append(data, e.data...)
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(len(es)))
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	return append(append(out, index...), data...)
}

func TestParseRPMHeader(t *testing.T) {
	t.Parallel()
	full := rpmHeader(rpmStr(rpmTagName, "openssl"), rpmStr(rpmTagVersion, "3.0.7"), rpmStr(rpmTagRelease, "27.el9"),
		rpmInt32(rpmTagEpoch, 1), rpmStr(rpmTagArch, "x86_64"), rpmStr(rpmTagVendor, "Red Hat, Inc."), rpmInt32(rpmTagInstallTime, 1700000000))
	tests := []struct {
		name    string
		in      []byte
		want    Software
		wantErr error
	}{
		{name: "full", in: full, want: Software{Name: "openssl", Version: "1:3.0.7-27.el9", Architecture: "x86_64", Vendor: "Red Hat, Inc.", InstallDate: "2023-11-14", Source: "rpm"}},
		{name: "epoch 0, no release", in: rpmHeader(rpmStr(rpmTagName, "a"), rpmStr(rpmTagVersion, "1"), rpmInt32(rpmTagEpoch, 0)), want: Software{Name: "a", Version: "1", Source: "rpm"}},
		{name: "wrong types ignored", in: rpmHeader(rpmStr(rpmTagName, "a"), rpmEntry{rpmTagArch, rpmTypeInt32, []byte{0, 0, 0, 1}}, rpmEntry{rpmTagEpoch, rpmTypeString, []byte("7\x00")}), want: Software{Name: "a", Source: "rpm"}},
		{name: "offset past data ignored", in: func() []byte {
			b := rpmHeader(rpmStr(rpmTagName, "a"), rpmStr(rpmTagVersion, "1"))
			binary.BigEndian.PutUint32(b[8+16+8:], 1000) // version's offset
			return b
		}(), want: Software{Name: "a", Source: "rpm"}},
		{name: "no name", in: rpmHeader(rpmStr(rpmTagVersion, "1")), wantErr: ErrParse},
		{name: "short", in: []byte{0, 0, 0}, wantErr: ErrParse},
		{name: "counts beyond blob", in: []byte{0, 0, 0, 9, 0, 0, 0, 9, 1, 2}, wantErr: ErrParse},
		{name: "zero entries", in: []byte{0, 0, 0, 0, 0, 0, 0, 0}, wantErr: ErrParse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseRPMHeader(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseRPMHeader (-want +got):\n%s", diff)
			}
		})
	}
}

// fixturePackages is what testdata/gen_rpmdb.go puts in the first n rows.
func fixturePackages(n int) []Software {
	var out []Software
	for i := 0; i < n; i++ {
		arch := "x86_64"
		if i%2 == 0 {
			arch = "noarch"
		}
		v := fmt.Sprintf("1.%d-%d.el9", i, i)
		if i%10 == 0 {
			v = "2:" + v
		}
		out = append(out, Software{Name: fmt.Sprintf("pkg-%03d", i), Version: v, Architecture: arch,
			Vendor: "Rocky Enterprise Software Foundation", InstallDate: time.Unix(int64(1700000000+i*86400), 0).UTC().Format(time.DateOnly), Source: "rpm"})
	}
	return append(out, Software{Name: "gpg-pubkey", Version: "fd431d51-4ae0493b", Source: "rpm"})
}

func TestParseRPMSqlite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		want    []Software
		wantBad int
	}{
		{name: "60 packages, overflow pages, interior pages", file: "testdata/rpmroot/var/lib/rpm/rpmdb.sqlite", want: fixturePackages(60)},
		{name: "corrupt headers skipped and counted", file: "testdata/rpmdb-bad.sqlite", want: fixturePackages(3), wantBad: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			got, bad, err := parseRPMSqlite(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatalf("parseRPMSqlite: %v", err)
			}
			if bad != tc.wantBad {
				t.Errorf("bad = %d, want %d", bad, tc.wantBad)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseRPMSqlite (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRPMSqliteCorrupt(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile("testdata/rpmroot/var/lib/rpm/rpmdb.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "empty", in: nil},
		{name: "not sqlite", in: bytes.Repeat([]byte("x"), 1024)},
		{name: "header only", in: good[:100]},
		{name: "truncated", in: good[:len(good)/3]},
		{name: "bad page size", in: mutate(func(b []byte) []byte { b[16], b[17] = 0x03, 0x00; return b })},
		{name: "schema page type", in: mutate(func(b []byte) []byte { b[100] = 0x07; return b })},
		{name: "cell count too large", in: mutate(func(b []byte) []byte { b[103], b[104] = 0xff, 0xff; return b })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := parseRPMSqlite(bytes.NewReader(tc.in), int64(len(tc.in))); !errors.Is(err, ErrParse) {
				t.Errorf("err = %v, want ErrParse", err)
			}
		})
	}
}

func TestReadRPM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		file        string // created empty under the root; "" for none
		wantPresent bool
		wantErr     error
	}{
		{name: "none", file: ""},
		{name: "berkeleydb", file: "var/lib/rpm/Packages", wantPresent: true, wantErr: ErrUnsupported},
		{name: "ndb", file: "usr/lib/sysimage/rpm/Packages.db", wantPresent: true, wantErr: ErrUnsupported},
		{name: "empty sqlite", file: "var/lib/rpm/rpmdb.sqlite", wantPresent: true, wantErr: ErrParse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			if tc.file != "" {
				p := filepath.Join(root, tc.file)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			pkgs, present, err := readRPM(hostRoot(root))
			if present != tc.wantPresent || !errors.Is(err, tc.wantErr) || pkgs != nil {
				t.Errorf("readRPM = %v, %v, %v; want nil, %v, %v", pkgs, present, err, tc.wantPresent, tc.wantErr)
			}
		})
	}
	t.Run("wal not empty", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		dir := filepath.Join(root, "var", "lib", "rpm")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile("testdata/rpmroot/var/lib/rpm/rpmdb.sqlite")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "rpmdb.sqlite"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "rpmdb.sqlite-wal"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		pkgs, present, err := readRPM(hostRoot(root))
		if !present || !errors.Is(err, ErrParse) || len(pkgs) != 61 {
			t.Errorf("readRPM = %d pkgs, %v, %v; want 61, true, ErrParse (wal note)", len(pkgs), present, err)
		}
	})
}

func TestSqliteVarint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    []byte
		want  uint64
		wantN int
	}{
		{[]byte{0x05}, 5, 1},
		{[]byte{0x81, 0x00}, 128, 2},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ^uint64(0), 9},
		{[]byte{0x81}, 0, 0},
		{nil, 0, 0},
	}
	for _, tc := range tests {
		v, n := sqliteVarint(tc.in)
		if v != tc.want || n != tc.wantN {
			t.Errorf("sqliteVarint(% x) = %d, %d; want %d, %d", tc.in, v, n, tc.want, tc.wantN)
		}
	}
}
