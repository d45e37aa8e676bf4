package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/agent/internal/config"
	"github.com/edgeward/edgeward/uplink"
)

// TestNewSettings checks the one mapping from user config to runtime
// settings, field by field, so that a mix-up (say, keepalive copied into
// heartbeat) fails here.
func TestNewSettings(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("test.yaml", []byte(`
agent: {id: gw-01, enterprise: acme, site: plant-1}
buffer: {path: /tmp/x/buffer.db, max_bytes: 2MiB, max_age: 48h}
uplink:
  brokers: [tcp://127.0.0.1:1883, ssl://10.0.0.1:8883]
  topic_prefix: ew/v1
  client_id: cid
  username: u
  tls: {ca_file: ca.pem, server_name: broker.local}
  heartbeat: 7s
  keepalive: 11s
  ping_timeout: 4s
  batch_max_records: 13
  batch_max_bytes: 17KiB
  in_flight: 3
  bytes_per_second: 64KiB
  gzip: true
collectors:
  host: {enabled: true, interval: 2m}
  baseline: {enabled: true, interval: 3h, role: gateway}
  passive: {enabled: true, interfaces: [eth1], files: [a.pcap], ports: {modbus: [502, 5020], opcua: [4840], any_tcp: true},
            snaplen: 1600, max_flows: 99, flow_idle_timeout: 9m, summary_interval: 8m, promiscuous: true,
            attribute_local: false, learn_period: 30m}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := newSettings(c, "host-a", "1.2.3")

	wantAgent := map[string]string{"id": "gw-01", "enterprise": "acme", "site": "plant-1", "hostname": "host-a", "version": "1.2.3"}
	gotAgent := map[string]string{"id": s.agent.ID, "enterprise": s.agent.Enterprise, "site": s.agent.Site, "hostname": s.agent.Hostname, "version": s.agent.Version}
	if d := cmp.Diff(wantAgent, gotAgent); d != "" {
		t.Errorf("agent (-want +got):\n%s", d)
	}
	if s.bufPath != "/tmp/x/buffer.db" || s.buffer.MaxBytes != 2<<20 || s.buffer.MaxAge != 48*time.Hour {
		t.Errorf("buffer: path %q max_bytes %d max_age %v", s.bufPath, s.buffer.MaxBytes, s.buffer.MaxAge)
	}
	wantUp := uplink.Config{
		Brokers: []string{"tcp://127.0.0.1:1883", "ssl://10.0.0.1:8883"}, ClientID: "cid", TopicPrefix: "ew/v1",
		Enterprise: "acme", Site: "plant-1", AgentID: "gw-01", Username: "u",
		TLS:       uplink.TLSConfig{CAFile: "ca.pem", ServerName: "broker.local"},
		KeepAlive: 11 * time.Second, PingTimeout: 4 * time.Second, BatchMaxRecords: 13, BatchMaxBytes: 17 << 10, InFlight: 3,
		BytesPerSecond: 64 << 10, Gzip: true,
	}
	gotUp := s.uplink
	gotUp.Logger = nil
	if d := cmp.Diff(wantUp, gotUp, cmp.AllowUnexported(uplink.Config{})); d != "" {
		t.Errorf("uplink (-want +got):\n%s", d)
	}
	if s.heartbeat != 7*time.Second {
		t.Errorf("heartbeat = %v, want 7s", s.heartbeat)
	}
	if s.host.Interval != 2*time.Minute || s.host.Key != "gw-01" || s.host.Root != "/" {
		t.Errorf("host = %+v", s.host)
	}
	if s.baseline.Interval != 3*time.Hour || s.baseline.Role != "gateway" || !s.baseline.Enabled || s.baseline.Root != "/" {
		t.Errorf("baseline = %+v", s.baseline)
	}
	p := s.passive
	if !p.Enabled || !cmp.Equal(p.Interfaces, []string{"eth1"}) || !cmp.Equal(p.Files, []string{"a.pcap"}) ||
		!cmp.Equal(p.Ports.Modbus, []uint16{502, 5020}) || !cmp.Equal(p.Ports.OPCUA, []uint16{4840}) || !p.Ports.AnyTCP ||
		p.SnapLen != 1600 || p.MaxFlows != 99 || p.FlowIdleTimeout != 9*time.Minute ||
		p.SummaryInterval != 8*time.Minute || !p.Promiscuous || p.AttributeLocal || p.Modbus.LearnPeriod != 30*time.Minute {
		t.Errorf("passive = %+v", p)
	}
}

// TestSettingsAttributeLocal maps collectors.passive.attribute_local, whose
// default (true) differs from the zero value of passive.Config's field.
func TestSettingsAttributeLocal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		want       bool
	}{
		{"default", "", true},
		{"on", "collectors: {passive: {attribute_local: true}}", true},
		{"off", "collectors: {passive: {attribute_local: false}}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Parse("test.yaml", []byte("agent: {id: gw-01}\n"+tc.yaml+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := newSettings(c, "host-a", "1.2.3").passive.AttributeLocal; got != tc.want {
				t.Errorf("passive.AttributeLocal = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSettingsAtConfigLimitsAreAccepted: every value that the config
// validation accepts must also be accepted by the component it configures,
// or `check-config` passes and `run` fails at start. The uplink used to cap
// in_flight at 1000 while the config allows up to config.MaxInFlight (1024).
func TestSettingsAtConfigLimitsAreAccepted(t *testing.T) {
	t.Parallel()
	// Each limit at its maximum, the others small enough that
	// in_flight × batch_max_bytes stays within config.MaxInFlightBytes.
	for _, lim := range []struct{ inFlight, records, bytes int64 }{
		{config.MaxInFlight, config.MaxBatchRecords, int64(config.MaxInFlightBytes) / config.MaxInFlight},
		{int64(config.MaxInFlightBytes / config.MaxBatchBytes), 1, int64(config.MaxBatchBytes)},
	} {
		c, err := config.Parse("test.yaml", []byte(fmt.Sprintf(`
agent: {id: gw-01}
uplink:
  brokers: [tcp://127.0.0.1:1883]
  in_flight: %d
  batch_max_records: %d
  batch_max_bytes: %d
`, lim.inFlight, lim.records, lim.bytes)))
		if err != nil {
			t.Fatal(err)
		}
		s := newSettings(c, "host-a", "1.2.3")
		if err := s.uplink.Validate(); err != nil {
			t.Errorf("uplink rejects a config that check-config accepts (%+v): %v", lim, err)
		}
	}
}
