package host

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// The glibc struct utmp on Linux (x86_64, arm64 and 32-bit arm alike): 384
// bytes, little-endian on every target edgeward ships for.
const (
	utmpSize        = 384
	utmpUserProcess = 7
	utmpOffType     = 0
	utmpOffLine     = 8
	utmpLenLine     = 32
	utmpOffUser     = 44
	utmpLenUser     = 32
	utmpOffHost     = 76
	utmpLenHost     = 256
	utmpOffTvSec    = 340
)

// parseUtmp returns the login sessions (USER_PROCESS entries) of a utmp
// file. A trailing partial record is an error; the complete records before
// it are still returned.
func parseUtmp(b []byte) ([]User, error) {
	var out []User
	for off := 0; off+utmpSize <= len(b); off += utmpSize {
		rec := b[off : off+utmpSize]
		if int32(binary.LittleEndian.Uint32(rec[utmpOffType:])) != utmpUserProcess {
			continue
		}
		u := User{
			Name:     cString(rec[utmpOffUser : utmpOffUser+utmpLenUser]),
			Terminal: cString(rec[utmpOffLine : utmpOffLine+utmpLenLine]),
			Host:     cString(rec[utmpOffHost : utmpOffHost+utmpLenHost]),
		}
		if sec := int32(binary.LittleEndian.Uint32(rec[utmpOffTvSec:])); sec > 0 {
			u.Started = time.Unix(int64(sec), 0).UTC()
		}
		if u.Name == "" {
			continue
		}
		out = append(out, u)
	}
	if rest := len(b) % utmpSize; rest != 0 {
		return out, fmt.Errorf("%w: utmp: %d trailing bytes", ErrParse, rest)
	}
	return out, nil
}

// cString returns b up to its first NUL byte.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
