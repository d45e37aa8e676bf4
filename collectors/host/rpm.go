package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// rpmDBs are the rpm database files under the root, newest layout first:
// the sqlite rpmdb (rpm >= 4.16, Fedora 33+, RHEL 9), the ndb of SUSE, and
// the BerkeleyDB hash "Packages" (RHEL <= 8).
var rpmDBs = []struct {
	path   []string
	format string
}{
	{[]string{"usr", "lib", "sysimage", "rpm", "rpmdb.sqlite"}, "sqlite"},
	{[]string{"var", "lib", "rpm", "rpmdb.sqlite"}, "sqlite"},
	{[]string{"usr", "lib", "sysimage", "rpm", "Packages.db"}, "ndb"},
	{[]string{"var", "lib", "rpm", "Packages.db"}, "ndb"},
	{[]string{"usr", "lib", "sysimage", "rpm", "Packages"}, "bdb"},
	{[]string{"var", "lib", "rpm", "Packages"}, "bdb"},
}

// readRPM reads the installed packages from the first rpm database found
// under root. present is false when there is none. Only the sqlite
// database is read; the others give ErrUnsupported. An error may come with
// the packages that could be read.
func readRPM(root hostRoot) (pkgs []Software, present bool, err error) {
	for _, db := range rpmDBs {
		p := root.path(db.path...)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if db.format != "sqlite" {
			return nil, true, fmt.Errorf("read rpm database %q: %w: %s database present but not readable without cgo", p, ErrUnsupported, db.format)
		}
		pkgs, err := readRPMSqlite(p)
		if err != nil {
			err = fmt.Errorf("read rpm database %q: %w", p, err)
		}
		return pkgs, true, err
	}
	return nil, false, nil
}

// readRPMSqlite reads the Packages table of an rpm sqlite database. A
// header that does not parse is skipped and counted in the error, which is
// then returned with the packages that did parse.
func readRPMSqlite(p string) ([]Software, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pkgs, bad, err := parseRPMSqlite(f, fi.Size())
	if err != nil {
		return nil, err
	}
	var notes []string
	if len(pkgs) >= rpmMaxPackages {
		notes = append(notes, fmt.Sprintf("stopped after %d packages", rpmMaxPackages))
	}
	if bad > 0 {
		notes = append(notes, fmt.Sprintf("%d package headers not readable", bad))
	}
	if wal, err := os.Stat(p + "-wal"); err == nil && wal.Size() > 0 {
		notes = append(notes, "write-ahead log not empty: the newest changes may be missing")
	}
	if len(notes) > 0 {
		return pkgs, fmt.Errorf("%w: %s", ErrParse, strings.Join(notes, "; "))
	}
	return pkgs, nil
}

// parseRPMSqlite walks the Packages table (hnum INTEGER PRIMARY KEY, blob
// BLOB) of an rpm sqlite database and parses every header blob; bad counts
// the blobs that did not parse. It stops after rpmMaxPackages packages.
func parseRPMSqlite(r io.ReaderAt, size int64) (pkgs []Software, bad int, err error) {
	db, err := openSQLite(r, size)
	if err != nil {
		return nil, 0, err
	}
	root, err := db.tableRoot("Packages")
	if err != nil {
		return nil, 0, err
	}
	err = db.scanTable(root, func(_ int64, payload []byte) error {
		cols, err := sqliteRecord(payload, 2)
		if err != nil {
			bad++
			return nil
		}
		sw, err := parseRPMHeader(cols[1].blob())
		if err != nil {
			bad++
			return nil
		}
		pkgs = append(pkgs, sw)
		if len(pkgs) >= rpmMaxPackages {
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, 0, err
	}
	return pkgs, bad, nil
}

// RPM header tags and types (rpm's rpmtag.h).
const (
	rpmTagName        = 1000
	rpmTagVersion     = 1001
	rpmTagRelease     = 1002
	rpmTagEpoch       = 1003
	rpmTagInstallTime = 1008
	rpmTagVendor      = 1011
	rpmTagArch        = 1022

	rpmTypeInt32       = 4
	rpmTypeString      = 6
	rpmTypeStringArray = 8
	rpmTypeI18NString  = 9

	rpmMaxIndex    = 1 << 16  // index entries in one header
	rpmMaxData     = 64 << 20 // data store of one header
	rpmMaxPackages = 50000    // rows read from one database; real ones hold < 10000
)

// parseRPMHeader decodes an rpm header blob as stored in the rpm database
// (no lead, no magic): index count and data length (big-endian int32),
// 16-byte index entries (tag, type, offset, count), then the data store.
// It returns name, [epoch:]version-release, arch, vendor and install date.
func parseRPMHeader(b []byte) (Software, error) {
	if len(b) < 8 {
		return Software{}, fmt.Errorf("%w: rpm header: %d bytes", ErrParse, len(b))
	}
	il, dl := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if il == 0 || il > rpmMaxIndex || dl > rpmMaxData || uint64(len(b)) < 8+16*uint64(il)+uint64(dl) {
		return Software{}, fmt.Errorf("%w: rpm header: %d entries, %d data bytes in %d", ErrParse, il, dl, len(b))
	}
	index := b[8 : 8+16*il]
	data := b[8+16*il : 8+16*uint64(il)+uint64(dl)]
	var (
		sw                     = Software{Source: "rpm"}
		version, release       string
		epoch, installed       int64
		hasEpoch, hasInstalled bool
	)
	for i := 0; i < int(il); i++ {
		e := index[16*i:]
		tag := binary.BigEndian.Uint32(e)
		typ := binary.BigEndian.Uint32(e[4:])
		off := binary.BigEndian.Uint32(e[8:])
		if uint64(off) >= uint64(len(data)) {
			continue
		}
		switch tag {
		case rpmTagName, rpmTagVersion, rpmTagRelease, rpmTagVendor, rpmTagArch:
			if typ != rpmTypeString && typ != rpmTypeI18NString && typ != rpmTypeStringArray {
				continue
			}
			s := cString(data[off:])
			switch tag {
			case rpmTagName:
				sw.Name = s
			case rpmTagVersion:
				version = s
			case rpmTagRelease:
				release = s
			case rpmTagVendor:
				sw.Vendor = s
			case rpmTagArch:
				sw.Architecture = s
			}
		case rpmTagEpoch, rpmTagInstallTime:
			if typ != rpmTypeInt32 || uint64(off)+4 > uint64(len(data)) {
				continue
			}
			v := int64(binary.BigEndian.Uint32(data[off:]))
			if tag == rpmTagEpoch {
				epoch, hasEpoch = v, true
			} else {
				installed, hasInstalled = v, true
			}
		}
	}
	if sw.Name == "" {
		return Software{}, fmt.Errorf("%w: rpm header without a name", ErrParse)
	}
	sw.Version = version
	if release != "" {
		sw.Version += "-" + release
	}
	if hasEpoch && epoch != 0 {
		sw.Version = strconv.FormatInt(epoch, 10) + ":" + sw.Version
	}
	if hasInstalled && installed > 0 {
		sw.InstallDate = time.Unix(installed, 0).UTC().Format(time.DateOnly)
	}
	return sw, nil
}
