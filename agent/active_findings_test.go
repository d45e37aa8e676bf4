package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/probe"
	"github.com/edgeward/edgeward/collectors/schematest"
)

// TestActiveFindings runs the active collector against the project's own
// test servers behind recording proxies: gopcua's OPC UA server (policy
// None and anonymous tokens offered), the FC 43 identity device reached as
// two units, and simonvetter's Modbus server (which refuses FC 43). Every
// target is identified at least twice; the findings come out as threat
// records with source "active", valid against the schema, one per server and
// kind however many units and identifications made them.
func TestActiveFindings(t *testing.T) {
	t.Parallel()
	device := record(t, "127.0.0.1", startIdentityDevice(t))
	simon := record(t, "127.0.0.1", startSVModbus(t))
	uaSrv := record(t, "127.0.0.1", "")
	uaSrv.forward(trimScheme(startProbeOPCUA(t, int(uaSrv.addr.Port()))))
	uaURL := "opc.tcp://" + uaSrv.addr.String()
	a, err := newActiveCollector(activeSettings{
		policy: probe.Policy{
			Allow:     []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			Ports:     []uint16{device.addr.Port(), simon.addr.Port(), uaSrv.addr.Port()},
			PerMinute: 1200, Interval: 200 * time.Millisecond, Timeout: 10 * time.Second,
		},
		targets: []string{uaURL, "modbus://" + device.addr.String() + "/1", "modbus://" + device.addr.String() + "/2", "modbus://" + simon.addr.String() + "/1"},
	}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.every = 50 * time.Millisecond

	var mu sync.Mutex
	var threats []collectors.Record
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- a.Run(ctx, collectors.RecordFunc(func(_ context.Context, r collectors.Record) error {
			if r.Class == collectors.ClassThreat {
				mu.Lock()
				threats = append(threats, r)
				mu.Unlock()
			}
			return nil
		}))
	}()
	deadline := time.Now().Add(60 * time.Second)
	for len(uaSrv.conns()) < 2 || len(device.conns()) < 4 || len(simon.conns()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("identifications: OPC UA %d, device %d, simonvetter %d; want each target twice", len(uaSrv.conns()), len(device.conns()), len(simon.conns()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}

	var got []string
	for _, r := range threats {
		raw, err := schematest.Validate(r)
		if err != nil {
			t.Errorf("%s record fails the schema: %v\n%s", r.Kind, err, raw)
		}
		var body struct {
			Kind, Severity, Source, Server, Target, Message string
		}
		if err := json.Unmarshal(raw, &struct{ Body any }{&body}); err != nil {
			t.Fatal(err)
		}
		if body.Kind != r.Kind || body.Severity != string(r.Severity) || body.Message == "" || r.Key != "active|"+body.Server+"|"+r.Kind {
			t.Errorf("record %s: key %q, body %+v", r.Kind, r.Key, body)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", r.Severity, r.Kind, body.Source, body.Server))
	}
	sort.Strings(got)
	want := []string{
		"high opcua.security_none active " + uaSrv.addr.String(),
		"info modbus.identity_unauthenticated active " + device.addr.String(),
		"medium opcua.anonymous_token active " + uaSrv.addr.String(),
	}
	if !slices.Equal(got, want) {
		t.Errorf("threat records\n got %q\nwant %q", got, want)
	}
}

// TestActiveFindingRecords checks what reaches the wire for a finding the
// gopcua test server cannot produce (a user-name token without encryption on
// a None endpoint) and the reporting rule: the same finding about the same
// server is held back, counted, until it changes or findingRepeat passes.
func TestActiveFindingRecords(t *testing.T) {
	t.Parallel()
	a := &activeCollector{reported: newReportGate(findingRepeat, maxFindingsSeen)}
	at := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	result := func(target string, at time.Time, tokens ...probe.UserToken) probe.Result {
		server, err := probe.TargetServer(target)
		if err != nil {
			t.Fatal(err)
		}
		// A server advertises the same endpoints whichever path is asked.
		eps := []probe.Endpoint{{URL: "opc.tcp://" + server, SecurityPolicyURI: ua.SecurityPolicyURINone, SecurityMode: "None", UserTokens: tokens}}
		return probe.Result{Target: target, Time: at, Findings: probe.OPCUAFindings(target, eps, at)}
	}
	userName := probe.UserToken{Type: "UserName", PolicyID: "username_none"}
	kinds := func(recs []collectors.Record) []string {
		var out []string
		for _, r := range recs {
			b := r.Body.(probe.Threat)
			out = append(out, fmt.Sprintf("%s %s %s %d", r.Kind, r.Severity, b.Server, b.Suppressed))
			if raw, err := schematest.Validate(r); err != nil {
				t.Errorf("%s record fails the schema: %v\n%s", r.Kind, err, raw)
			}
		}
		return out
	}
	steps := []struct {
		name string
		r    probe.Result
		want []string
	}{
		{"first identification", result("opc.tcp://10.0.0.5:4840", at, userName),
			[]string{"opcua.security_none high 10.0.0.5:4840 0", "opcua.username_unencrypted high 10.0.0.5:4840 0"}},
		{"same server through another path", result("opc.tcp://10.0.0.5:4840/ua", at.Add(time.Minute), userName), nil},
		{"same findings an hour later", result("opc.tcp://10.0.0.5:4840", at.Add(time.Hour), userName), nil},
		{"another server", result("opc.tcp://10.0.0.6:4840", at.Add(time.Hour), userName),
			[]string{"opcua.security_none high 10.0.0.6:4840 0", "opcua.username_unencrypted high 10.0.0.6:4840 0"}},
		{"a finding that changed", result("opc.tcp://10.0.0.5:4840", at.Add(2*time.Hour), userName, probe.UserToken{Type: "Anonymous"}),
			[]string{"opcua.anonymous_token medium 10.0.0.5:4840 0"}},
		{"a day later", result("opc.tcp://10.0.0.5:4840", at.Add(26*time.Hour), userName, probe.UserToken{Type: "Anonymous"}),
			[]string{"opcua.security_none high 10.0.0.5:4840 3", "opcua.username_unencrypted high 10.0.0.5:4840 3", "opcua.anonymous_token medium 10.0.0.5:4840 0"}},
	}
	for _, s := range steps {
		if got := kinds(a.findingRecords(s.r)); !slices.Equal(got, s.want) {
			t.Errorf("%s: records %q, want %q", s.name, got, s.want)
		}
	}
}
