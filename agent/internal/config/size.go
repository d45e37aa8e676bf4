package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes. In YAML it is written either as a plain integer
// (bytes) or as a string with a unit: "512B", "64KiB", "256MiB", "1GiB" (binary,
// powers of 1024) or "10KB", "10MB", "1GB" (decimal, powers of 1000). Units
// are case-insensitive and a fraction is allowed ("1.5GiB"); a bare "K", "M"
// or "G" is rejected as ambiguous. Negative sizes are rejected. The zero
// value is 0 bytes; what 0 means is documented on each field.
type Size int64

// Common sizes.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	TiB Size = 1 << 40
)

// sizeUnits maps a lowercase unit to its multiplier; read-only.
var sizeUnits = map[string]uint64{
	"":    1,
	"b":   1,
	"kb":  1e3,
	"kib": 1 << 10,
	"mb":  1e6,
	"mib": 1 << 20,
	"gb":  1e9,
	"gib": 1 << 30,
	"tb":  1e12,
	"tib": 1 << 40,
}

// errSizeUnit is the detail given for an unknown or ambiguous unit.
var errSizeUnit = errors.New("unknown unit (use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB)")

// ParseSize parses a human size such as "64KiB", "10MB", "1.5GiB" or "1234".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty size")
	}
	if t[0] == '-' {
		return 0, errors.New("must not be negative")
	}
	if t[0] == '+' {
		t = t[1:]
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, errors.New("missing number")
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%w: %s", errSizeUnit, quote(t[i:]))
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, errors.New("too large")
		}
		return Size(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed number %s", quote(num))
	}
	v := f * float64(mult)
	if v >= math.MaxInt64 {
		return 0, errors.New("too large")
	}
	return Size(v), nil
}

// Bytes returns s as an int64 number of bytes.
func (s Size) Bytes() int64 { return int64(s) }

// String formats s with the largest unit that divides it exactly: binary
// units first ("256MiB"), then decimal ("10MB"), else bytes ("1000B" is
// "1KB", "1234" stays "1234B"). ParseSize(s.String()) == s for every s >= 0.
func (s Size) String() string {
	if s == 0 {
		return "0"
	}
	if s < 0 {
		return strconv.FormatInt(int64(s), 10) + "B"
	}
	for _, u := range [...]struct {
		name string
		mult Size
	}{{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}} {
		if s%u.mult == 0 {
			return strconv.FormatInt(int64(s/u.mult), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalYAML writes s as its human string.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON writes s as its human string.
func (s Size) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON accepts a number of bytes or a human string.
func (s *Size) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("decode size: want a number of bytes or a string such as \"64KiB\", got %s", b)
		}
		if n < 0 {
			return errors.New("decode size: must not be negative")
		}
		*s = Size(n)
		return nil
	}
	v, err := ParseSize(str)
	if err != nil {
		return fmt.Errorf("decode size %q: %w", str, err)
	}
	*s = v
	return nil
}
