package config_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/agent/internal/config"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    config.Size
		wantErr bool
	}{
		{in: "1234", want: 1234},
		{in: "0", want: 0},
		{in: "512B", want: 512},
		{in: "64KiB", want: 64 << 10},
		{in: "256MiB", want: 256 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "2TiB", want: 2 << 40},
		{in: "10KB", want: 10000},
		{in: "10MB", want: 10000000},
		{in: "1GB", want: 1000000000},
		{in: "10mb", want: 10000000},
		{in: "64kib", want: 64 << 10},
		{in: " 2 MiB ", want: 2 << 20},
		{in: "1.5GiB", want: 3 << 29},
		{in: "0.5KiB", want: 512},
		{in: "+5KiB", want: 5 << 10},
		{in: "8388607TiB", want: 8388607 << 40},
		{in: "", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "-1MiB", wantErr: true},
		{in: "10XB", wantErr: true},
		{in: "5K", wantErr: true},
		{in: "5M", wantErr: true},
		{in: "MiB", wantErr: true},
		{in: "1.2.3MiB", wantErr: true},
		{in: "8388608TiB", wantErr: true},
		{in: "99999999999999999999", wantErr: true},
		{in: "1e3", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseSize(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseSize(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSize(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseSize(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   config.Size
		want string
	}{
		{0, "0"},
		{1, "1B"},
		{1234, "1234B"},
		{1000, "1KB"},
		{1024, "1KiB"},
		{256 * config.KiB, "256KiB"},
		{256 * config.MiB, "256MiB"},
		{1536 * config.MiB, "1536MiB"},
		{config.GiB, "1GiB"},
		{10000000, "10MB"},
		{3 * config.TiB, "3TiB"},
	}
	for _, tc := range tests {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
		}
		back, err := config.ParseSize(tc.in.String())
		if err != nil || back != tc.in {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (round trip)", tc.in.String(), back, err, tc.in)
		}
		js, err := json.Marshal(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON config.Size
		if err := json.Unmarshal(js, &fromJSON); err != nil || fromJSON != tc.in {
			t.Errorf("JSON round trip of %d via %s = %d, %v", tc.in, js, fromJSON, err)
		}
	}
	var n config.Size
	if err := json.Unmarshal([]byte("4096"), &n); err != nil || n != 4096 {
		t.Errorf("json number 4096 = %d, %v", n, err)
	}
	if err := json.Unmarshal([]byte("-1"), &n); err == nil {
		t.Error("json -1 accepted as a size")
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "15m", want: 15 * time.Minute},
		{in: "720h", want: 720 * time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "0s", want: 0},
		{in: "30d", want: 720 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "-5m", want: -5 * time.Minute},
		{in: " 6h ", want: 6 * time.Hour},
		{in: "15", wantErr: true},
		{in: "0", wantErr: true},
		{in: "1.5", wantErr: true},
		{in: "", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "1.5d", wantErr: true},
		{in: "d", wantErr: true},
		{in: "5 m", wantErr: true},
		{in: "1d-5h", wantErr: true},
		{in: "999999999d", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseDuration(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseDuration(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got.D()); diff != "" {
				t.Errorf("ParseDuration(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{720 * time.Hour, "720h"},
		{90 * time.Minute, "1h30m"},
		{15 * time.Minute, "15m"},
		{90 * time.Second, "1m30s"},
		{time.Hour + time.Second, "1h0m1s"},
		{500 * time.Millisecond, "500ms"},
		{-5 * time.Minute, "-5m"},
	}
	for _, tc := range tests {
		d := config.Duration(tc.in)
		if got := d.String(); got != tc.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tc.in, got, tc.want)
		}
		back, err := config.ParseDuration(d.String())
		if err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v (round trip)", d.String(), back, err, tc.in)
		}
		js, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON config.Duration
		if err := json.Unmarshal(js, &fromJSON); err != nil || fromJSON != d {
			t.Errorf("JSON round trip of %v via %s = %v, %v", tc.in, js, fromJSON, err)
		}
	}
	var d config.Duration
	if err := json.Unmarshal([]byte("15"), &d); err == nil {
		t.Error("json number accepted as a duration")
	}
}

func TestLogLevelSlog(t *testing.T) {
	t.Parallel()
	for _, l := range config.LogLevels {
		if got := l.SlogLevel().String(); got != map[config.LogLevel]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"}[l] {
			t.Errorf("%s.SlogLevel() = %s", l, got)
		}
	}
}
