package opcua_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	d := opcua.DefaultConfig()
	tests := []struct {
		name string
		in   opcua.Config
		want opcua.Config
	}{
		{"zero takes defaults", opcua.Config{}, d},
		{"negative takes defaults", opcua.Config{MaxArrayLen: -1, Window: -time.Second}, d},
		{"set fields kept", opcua.Config{MaxArrayLen: 10, BruteForceThreshold: 3, Window: time.Hour},
			func() opcua.Config {
				c := d
				c.MaxArrayLen, c.BruteForceThreshold, c.Window = 10, 3, time.Hour
				return c
			}()},
		{"chunk buffer holds at least the headers", opcua.Config{MaxChunkSize: 1},
			func() opcua.Config { c := d; c.MaxChunkSize = 32; return c }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, opcua.NewAnalyzer(tc.in).Config()); diff != "" {
				t.Errorf("effective config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeServiceID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		ns      uint16
		id      uint32
		wantErr error
	}{
		{"two-byte", "0055", 0, 85, nil},
		{"four-byte ReadRequest", "01007702", 0, 631, nil},
		{"numeric", "0200007702000000", 0, 631, nil},
		{"numeric ns 2", "020200e8030000", 2, 1000, nil},
		{"string NodeId names no service", "0301000100000061", 0, 0, opcua.ErrNoService},
		{"truncated four-byte", "010077", 0, 0, opcua.ErrTruncated},
		{"unknown encoding", "0f", 0, 0, opcua.ErrEncoding},
		{"empty", "", 0, 0, opcua.ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns, id, err := opcua.DecodeServiceID(mustHex(t, tc.in))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if ns != tc.ns || id != tc.id {
				t.Errorf("DecodeServiceID = %d, %d, want %d, %d", ns, id, tc.ns, tc.id)
			}
		})
	}
}
