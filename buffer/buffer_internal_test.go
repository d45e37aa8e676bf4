package buffer

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

func TestMmapSizeFor(t *testing.T) {
	t.Parallel()
	limit := int64(initialMmapCap)
	if is32bit {
		limit = min(limit, 256<<20)
	}
	tests := []struct {
		name     string
		maxBytes int64
		want     int64
	}{
		{"no cap", 0, min(256<<20, limit)},
		{"small cap", 1 << 20, min(2<<20, limit)},
		{"huge cap", 100 << 30, limit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := int64(mmapSizeFor(tc.maxBytes)); got != tc.want {
				t.Fatalf("mmapSizeFor(%d) = %d, want %d", tc.maxBytes, got, tc.want)
			}
		})
	}
}

// TestMaxBytesClamp32 checks the 32-bit clamp; run it with GOARCH=386 (or on
// arm) to exercise the clamped branch.
func TestMaxBytesClamp32(t *testing.T) {
	t.Parallel()
	for _, requested := range []int64{0, 1 << 30, 100 << 20} {
		var logs bytes.Buffer
		b, err := Open(filepath.Join(t.TempDir(), "b.db"), Options{
			MaxBytes: requested,
			Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		want, wantLog := requested, false
		if is32bit && (requested == 0 || requested > MaxBytes32) {
			want, wantLog = MaxBytes32, true
		}
		if b.maxBytes != want {
			t.Errorf("requested %d: effective max bytes %d, want %d", requested, b.maxBytes, want)
		}
		if got := strings.Count(logs.String(), "clamped"); got != map[bool]int{true: 1, false: 0}[wantLog] {
			t.Errorf("requested %d: %d clamp log lines, want log=%v: %s", requested, got, wantLog, logs.String())
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
