package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in YAML as a Go duration string with a
// unit: "500ms", "15m", "1h30m", "720h". A whole number of days may be
// written as "30d" (30*24h), optionally followed by a Go duration ("1d12h").
// Bare numbers ("15", 15) are rejected because their unit is a guess.
// Negative values parse; Validate rejects them where they make no sense.
type Duration time.Duration

// ParseDuration parses a duration string as described on Duration.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty duration")
	}
	if _, err := strconv.ParseFloat(t, 64); err == nil {
		return 0, fmt.Errorf("missing unit in %s (write e.g. %s)", quote(t), quote(t+"s"))
	}
	neg := false
	body := t
	if body[0] == '-' || body[0] == '+' {
		neg = body[0] == '-'
		body = body[1:]
	}
	var days int64
	if i := strings.IndexByte(body, 'd'); i >= 0 {
		n, err := strconv.ParseInt(body[:i], 10, 64)
		if err != nil || n > int64(1<<63-1)/int64(24*time.Hour) {
			return 0, fmt.Errorf("malformed duration %s (days must be a whole number: \"30d\")", quote(t))
		}
		days, body = n, body[i+1:]
	}
	var rest time.Duration
	if body != "" {
		d, err := time.ParseDuration(body)
		if err != nil {
			return 0, fmt.Errorf("malformed duration %s (use a unit: ms, s, m, h or d)", quote(t))
		}
		if d < 0 {
			return 0, fmt.Errorf("malformed duration %s", quote(t))
		}
		rest = d
	}
	total := time.Duration(days)*24*time.Hour + rest
	if total < rest {
		return 0, fmt.Errorf("duration %s is too large", quote(t))
	}
	if neg {
		total = -total
	}
	return Duration(total), nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.String without trailing zero units:
// "15m", "720h", "1h30m", "1m30s", "500ms", "0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalYAML writes d as its string form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes d as its string form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON accepts a duration string; numbers are rejected.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode duration: want a string such as \"15m\", got %s", b)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("decode duration: %w", err)
	}
	*d = v
	return nil
}
