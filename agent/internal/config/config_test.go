package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/edgeward/edgeward/agent/internal/config"
)

// configsDir is the repository's configs/ directory, from this package.
var configsDir = filepath.Join("..", "..", "..", "configs")

// TestLoadShippedConfigs loads every configs/*.yaml through the real Load, so
// that the shipped examples cannot rot.
func TestLoadShippedConfigs(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(configsDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"edgeward.example.yaml", "local.yaml", "workstation.yaml", "gateway.yaml"} {
		if _, err := os.Stat(filepath.Join(configsDir, want)); err != nil {
			t.Errorf("missing shipped config: %v", err)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			c, err := testLoader().Load(f)
			if err != nil {
				t.Fatalf("Load(%s):\n%v", f, err)
			}
			var buf bytes.Buffer
			if err := config.WriteEffective(&buf, c); err != nil {
				t.Fatalf("WriteEffective: %v", err)
			}
		})
	}
}

// TestShippedConfigsIntent checks what each role config promises.
func TestShippedConfigsIntent(t *testing.T) {
	t.Parallel()
	load := func(name string) config.Config {
		t.Helper()
		c, err := testLoader().Load(filepath.Join(configsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	local := load("local.yaml")
	if diff := cmp.Diff([]string{"tcp://127.0.0.1:1883"}, local.Uplink.Brokers); diff != "" {
		t.Errorf("local brokers (-want +got):\n%s", diff)
	}
	if local.Buffer.Path != "./var/buffer.db" || !local.Collectors.Host.Enabled || !local.Collectors.Baseline.Enabled ||
		local.Collectors.Passive.Enabled || local.Log.Level != config.LevelInfo || local.Log.Format != config.FormatText {
		t.Errorf("local.yaml does not match its brief: %+v", local)
	}
	ws := load("workstation.yaml")
	if !ws.Collectors.Host.Enabled || !ws.Collectors.Baseline.Enabled || ws.Collectors.Passive.Enabled ||
		ws.Collectors.Baseline.Role != config.RoleWorkstation {
		t.Errorf("workstation.yaml: want host+baseline, no capture, role workstation; got %+v", ws.Collectors)
	}
	gw := load("gateway.yaml")
	if !gw.Collectors.Passive.Enabled || !cmp.Equal(gw.Collectors.Passive.Interfaces, []string{"eth0"}) {
		t.Errorf("gateway.yaml: want capture on eth0, got %+v", gw.Collectors.Passive)
	}
	for _, b := range gw.Uplink.Brokers {
		if !config.IsTLSBroker(b) {
			t.Errorf("gateway.yaml broker %q is not TLS", b)
		}
	}
	if gw.Uplink.TLS.CertFile == "" || gw.Uplink.TLS.KeyFile == "" || gw.Uplink.TLS.CAFile == "" {
		t.Errorf("gateway.yaml: want mutual TLS, got %+v", gw.Uplink.TLS)
	}
}

// TestExampleIsTheDefaults checks that the reference file states exactly the
// built-in defaults.
func TestExampleIsTheDefaults(t *testing.T) {
	t.Parallel()
	got, err := testLoader().Load(filepath.Join(configsDir, "edgeward.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := testLoader().Parse("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want.Buffer.Path = "/var/lib/edgeward/buffer.db" // the example shows the Linux default
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("example differs from defaults (-want +got):\n%s", diff)
	}
}

// TestExampleDocumentsEveryKey checks that every key of Config appears in the
// reference file, found by walking its YAML nodes.
func TestExampleDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(configsDir, "edgeward.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	keys := yamlKeys(reflect.TypeFor[config.Config](), "")
	if len(keys) < 50 {
		t.Fatalf("found only %d keys in Config: %v", len(keys), keys)
	}
	for _, k := range keys {
		n := doc.Content[0]
		for _, part := range strings.Split(k, ".") {
			n = mappingChild(n, part)
			if n == nil {
				t.Errorf("edgeward.example.yaml does not document %s", k)
				break
			}
		}
	}
}

// mappingChild returns the value of key in mapping n, or nil.
func mappingChild(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// yamlKeys lists the dotted keys a user may write, leaves and sections.
func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || f.Type == reflect.TypeFor[config.Secret]() {
			continue
		}
		k := prefix + name
		keys = append(keys, k)
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, yamlKeys(f.Type, k+".")...)
		}
	}
	return keys
}

// TestDefaults pins every default value.
func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := testLoader().Parse("empty.yaml", []byte("# nothing set\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := config.Default()
	tests := []struct {
		key  string
		got  any
		want any
	}{
		{"agent.id (derived)", c.Agent.ID, "test-agent"},
		{"agent.id (Default)", d.Agent.ID, ""},
		{"agent.enterprise", c.Agent.Enterprise, "default"},
		{"agent.site", c.Agent.Site, "default"},
		{"buffer.path", c.Buffer.Path, d.Buffer.Path},
		{"buffer.max_bytes", c.Buffer.MaxBytes, 256 * config.MiB},
		{"buffer.max_age", c.Buffer.MaxAge.D(), 720 * time.Hour},
		{"uplink.brokers", c.Uplink.Brokers, []string{"tcp://127.0.0.1:1883"}},
		{"uplink.topic_prefix", c.Uplink.TopicPrefix, "edgeward/v1"},
		{"uplink.client_id (derived)", c.Uplink.ClientID, "edgeward-test-agent"},
		{"uplink.client_id (Default)", d.Uplink.ClientID, ""},
		{"uplink.username", c.Uplink.Username, ""},
		{"uplink.password_file", c.Uplink.PasswordFile, ""},
		{"uplink.password", c.Uplink.Password.Reveal(), ""},
		{"uplink.tls", c.Uplink.TLS, config.TLSConfig{}},
		{"uplink.heartbeat", c.Uplink.Heartbeat.D(), 60 * time.Second},
		{"uplink.keepalive", c.Uplink.KeepAlive.D(), 10 * time.Second},
		{"uplink.ping_timeout", c.Uplink.PingTimeout.D(), 5 * time.Second},
		{"uplink.batch_max_records", c.Uplink.BatchMaxRecords, 500},
		{"uplink.batch_max_bytes", c.Uplink.BatchMaxBytes, 256 * config.KiB},
		{"uplink.in_flight", c.Uplink.InFlight, 8},
		{"uplink.bytes_per_second", c.Uplink.BytesPerSecond, config.Size(0)},
		{"uplink.gzip", c.Uplink.Gzip, false},
		{"collectors.host.enabled", c.Collectors.Host.Enabled, true},
		{"collectors.host.interval", c.Collectors.Host.Interval.D(), 15 * time.Minute},
		{"collectors.baseline.enabled", c.Collectors.Baseline.Enabled, true},
		{"collectors.baseline.interval", c.Collectors.Baseline.Interval.D(), 6 * time.Hour},
		{"collectors.baseline.role", c.Collectors.Baseline.Role, config.RoleAuto},
		{"collectors.baseline.site_policy", c.Collectors.Baseline.SitePolicy, map[string]any{}},
		{"collectors.baseline.self_declared", c.Collectors.Baseline.SelfDeclared, map[string]any{}},
		{"collectors.passive.enabled", c.Collectors.Passive.Enabled, false},
		{"collectors.passive.interfaces", c.Collectors.Passive.Interfaces, []string(nil)},
		{"collectors.passive.files", c.Collectors.Passive.Files, []string(nil)},
		{"collectors.passive.ports", c.Collectors.Passive.Ports, config.PortsConfig{Modbus: []int{502}, OPCUA: []int{4840}}},
		{"collectors.passive.snaplen", c.Collectors.Passive.Snaplen, 262144},
		{"collectors.passive.max_flows", c.Collectors.Passive.MaxFlows, 65536},
		{"collectors.passive.flow_idle_timeout", c.Collectors.Passive.FlowIdleTimeout.D(), 5 * time.Minute},
		{"collectors.passive.summary_interval", c.Collectors.Passive.SummaryInterval.D(), 5 * time.Minute},
		{"collectors.passive.promiscuous", c.Collectors.Passive.Promiscuous, false},
		{"collectors.passive.ports.any_tcp", c.Collectors.Passive.Ports.AnyTCP, false},
		{"collectors.passive.attribute_local", c.Collectors.Passive.AttributeLocal, true},
		{"log.level", c.Log.Level, config.LevelInfo},
		{"log.format", c.Log.Format, config.FormatText},
		{"metrics.listen", c.Metrics.Listen, ""},
		{"limits.memory", c.Limits.Memory, 64 * config.MiB},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.key, diff)
			}
		})
	}
}

// TestOverlay checks the rules of decoding over the defaults: absent and null
// keep the default, an explicit empty list replaces it, empty enterprise and
// client id are derived.
func TestOverlay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		get  func(config.Config) any
		want any
	}{
		{"null brokers keep the default", "uplink:\n  brokers:\n", func(c config.Config) any { return c.Uplink.Brokers }, []string{"tcp://127.0.0.1:1883"}},
		{"empty brokers mean no uplink", "uplink:\n  brokers: []\n", func(c config.Config) any { return c.Uplink.Brokers }, []string(nil)},
		{"list replaces, not appends", "collectors:\n  passive:\n    ports: {modbus: [5020]}\n", func(c config.Config) any { return c.Collectors.Passive.Ports }, config.PortsConfig{Modbus: []int{5020}, OPCUA: []int{4840}}},
		{"empty site is default", "agent: {site: \"\"}\n", func(c config.Config) any { return c.Agent.Site }, "default"},
		{"number as site keeps its spelling", "agent: {site: 042}\n", func(c config.Config) any { return c.Agent.Site }, "042"},
		{"explicit id", "agent: {id: Gw-7}\n", func(c config.Config) any { return c.Uplink.ClientID }, "edgeward-Gw-7"},
		{"explicit client id", "uplink: {client_id: plc-gw}\n", func(c config.Config) any { return c.Uplink.ClientID }, "plc-gw"},
		{"size as integer", "uplink: {batch_max_bytes: 4096}\n", func(c config.Config) any { return c.Uplink.BatchMaxBytes }, config.Size(4096)},
		{"size with unit", "uplink: {bytes_per_second: 64KiB}\n", func(c config.Config) any { return c.Uplink.BytesPerSecond }, 64 * config.KiB},
		{"days", "buffer: {max_age: 30d}\n", func(c config.Config) any { return c.Buffer.MaxAge.D() }, 720 * time.Hour},
		{"zero max_age", "buffer: {max_age: 0s}\n", func(c config.Config) any { return c.Buffer.MaxAge }, config.Duration(0)},
		{"memory limit off", "limits: {memory: 0}\n", func(c config.Config) any { return c.Limits.Memory }, config.Size(0)},
		{"free maps", "collectors:\n  baseline:\n    self_declared:\n      security_officer: true\n      drills: [2025-03, 2025-09]\n",
			func(c config.Config) any { return c.Collectors.Baseline.SelfDeclared },
			map[string]any{"security_officer": true, "drills": []any{"2025-03", "2025-09"}}},
		{"anchors and aliases", "collectors:\n  host: &on {enabled: true, interval: 1m}\n  baseline: *on\n", func(c config.Config) any { return c.Collectors.Baseline.Interval.D() }, time.Minute},
		{"byte order mark and CRLF", "\ufeff# written on Windows\r\nagent:\r\n  site: plant-b\r\n", func(c config.Config) any { return c.Agent.Site }, "plant-b"},
		{"ipv6 loopback metrics", "metrics: {listen: \"[::1]:9464\"}\n", func(c config.Config) any { return c.Metrics.Listen }, "[::1]:9464"},
		{"tls brokers", "uplink:\n  brokers: [ssl://a:8883, tls://b:8883, mqtts://c:8883]\n", func(c config.Config) any { return len(c.Uplink.Brokers) }, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := testLoader().Parse("overlay.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.yaml, err)
			}
			if diff := cmp.Diff(tc.want, tc.get(c)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteEffectiveRoundTrip checks that check-config output parses back to
// the same configuration.
func TestWriteEffectiveRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"gateway.yaml", "workstation.yaml", "local.yaml", "edgeward.example.yaml"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := testLoader().Load(filepath.Join(configsDir, name))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := config.WriteEffective(&buf, c); err != nil {
				t.Fatal(err)
			}
			back, err := testLoader().Parse("effective.yaml", buf.Bytes())
			if err != nil {
				t.Fatalf("Parse(effective): %v\n%s", err, buf.String())
			}
			if diff := cmp.Diff(c, back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s\n%s", diff, buf.String())
			}
		})
	}
}
