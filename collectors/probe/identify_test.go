package probe

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestIdentifierPolicy checks the allowlist: a target is allowed only as an
// IP address inside an allowed network, on an allowed port (the scheme's
// default when none is given); a refused target is never dialled.
func TestIdentifierPolicy(t *testing.T) {
	t.Parallel()
	id, err := NewIdentifier(Policy{
		Allow: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("fd00::/64")},
		Ports: []uint16{502, 4840},
	})
	if err != nil {
		t.Fatal(err)
	}
	dialled := 0
	id.modbus = func(context.Context, string) (*ModbusResult, error) { dialled++; return &ModbusResult{}, nil }
	id.opcua = func(context.Context, string) (*OPCUAResult, error) { dialled++; return &OPCUAResult{}, nil }
	for target, want := range map[string]error{
		"modbus://10.1.2.3":            nil,
		"modbus://10.1.2.3:502/7":      nil,
		"opc.tcp://10.1.2.3/ua/server": nil,
		"opc.tcp://[fd00::5]:4840":     nil,
		"modbus://10.1.3.3":            ErrNotAllowed,
		"modbus://10.1.2.3:503":        ErrNotAllowed,
		"opc.tcp://10.1.2.3:502":       nil, // an allowed port, whatever the protocol
		"opc.tcp://10.1.2.3:4841":      ErrNotAllowed,
		"opc.tcp://plc.local:4840":     ErrNotAllowed,
		"modbus://10.1.2.3/0":          ErrBroadcast,
		"http://10.1.2.3":              ErrTarget,
	} {
		if err := id.Allowed(target); !errors.Is(err, want) {
			t.Errorf("Allowed(%q) = %v, want %v", target, err, want)
		}
		if want != nil {
			if r := id.Identify(t.Context(), target); !errors.Is(r.Err, want) {
				t.Errorf("Identify(%q) error %v, want %v", target, r.Err, want)
			}
		}
	}
	if dialled != 0 {
		t.Errorf("%d refused targets were probed", dialled)
	}
	var none Identifier
	none.pol = Policy{Ports: []uint16{502}}
	if err := none.Allowed("modbus://10.1.2.3"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("an empty allowlist allowed a target: %v", err)
	}
}

// TestIdentifierRateAndInterval drives an Identifier on a fake clock: the
// identifications start at least a minute / PerMinute apart, all targets
// together, and a target is due again only after Interval.
func TestIdentifierRateAndInterval(t *testing.T) {
	t.Parallel()
	id, err := NewIdentifier(Policy{
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Ports: []uint16{502},
		PerMinute: 4, Interval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var slept []time.Duration
	var started []time.Time
	id.now = func() time.Time { return now }
	id.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil }
	id.modbus = func(context.Context, string) (*ModbusResult, error) {
		started = append(started, now)
		now = now.Add(2 * time.Second) // the exchange itself
		return &ModbusResult{}, nil
	}
	targets := []string{"modbus://10.0.0.1", "modbus://10.0.0.2", "modbus://10.0.0.1", "modbus://10.0.0.3:503", "modbus://10.0.0.4"}
	due := id.Due(targets)
	if diff := cmp.Diff([]string{"modbus://10.0.0.1", "modbus://10.0.0.2", "modbus://10.0.0.4"}, due); diff != "" {
		t.Errorf("due (-want +got):\n%s", diff)
	}
	for _, target := range due {
		if r := id.Identify(t.Context(), target); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	for i := 1; i < len(started); i++ {
		if gap := started[i].Sub(started[i-1]); gap < 15*time.Second {
			t.Errorf("identification %d started %v after the previous one, want at least 15s (4 per minute)", i, gap)
		}
	}
	if diff := cmp.Diff([]time.Duration{13 * time.Second, 13 * time.Second}, slept); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if got := id.Due(targets); len(got) != 0 {
		t.Errorf("due again within the interval: %v", got)
	}
	now = now.Add(time.Hour)
	if got := id.Due(targets); len(got) != 3 {
		t.Errorf("due after the interval: %v, want the 3 allowed targets", got)
	}
	// A cancelled wait ends the identification without probing.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	id.sleep = sleep
	id.next = now.Add(time.Hour)
	n := len(started)
	if r := id.Identify(ctx, "modbus://10.0.0.1"); !errors.Is(r.Err, context.Canceled) || len(started) != n {
		t.Errorf("cancelled wait: err %v, %d probes started", r.Err, len(started)-n)
	}
}

// TestIdentifierBounds checks that the remembered targets stay bounded.
func TestIdentifierBounds(t *testing.T) {
	t.Parallel()
	id, err := NewIdentifier(Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Ports: []uint16{502}})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxTracked + 10 {
		id.remember(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), base.Add(time.Duration(i)*time.Second))
	}
	if len(id.last) != maxTracked {
		t.Errorf("%d targets remembered, want the bound %d", len(id.last), maxTracked)
	}
	if _, ok := id.last["10.0.0.0"]; ok {
		t.Error("the oldest target was kept")
	}
}
