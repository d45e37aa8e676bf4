package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is the text every formatting path shows instead of a non-empty
// Secret.
const Redacted = "[redacted]"

// Secret is a string that never prints itself: String, GoString, Format (all
// fmt verbs, including %v, %+v, %#v, %s, %q, %x and %d), LogValue (slog),
// MarshalJSON, MarshalText and MarshalYAML give "[redacted]" when the secret
// is non-empty and "" when it is empty. Use Reveal to get the value for the
// one place that needs it (the MQTT CONNECT packet).
type Secret string

// Reveal returns the secret in clear. Do not log or print the result.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string { return s.shown() }

// GoString returns the redacted form for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.shown()) }

// Format implements fmt.Formatter so that no verb prints the clear text.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.shown())
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
		_, _ = f.Write([]byte(s.shown()))
	default:
		_, _ = f.Write([]byte(s.shown()))
	}
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

// MarshalJSON writes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.shown()) }

// MarshalText writes the redacted form (used by encoders that fall back to
// encoding.TextMarshaler).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// MarshalYAML writes the redacted form.
func (s Secret) MarshalYAML() (any, error) { return s.shown(), nil }

var (
	_ fmt.Stringer   = Secret("")
	_ fmt.GoStringer = Secret("")
	_ fmt.Formatter  = Secret("")
	_ slog.LogValuer = Secret("")
	_ json.Marshaler = Secret("")
)
