package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/edgeward/edgeward/agent/internal/config"
)

// testLoader is a Loader with a fixed agent id and an empty environment, so
// that tests do not depend on the machine or on the process environment.
func testLoader() config.Loader {
	return config.Loader{
		AgentID:   func() string { return "test-agent" },
		LookupEnv: func(string) (string, bool) { return "", false },
	}
}

const agentYAML = "configs/agent.yaml"

// TestParseMalformed checks that every kind of mistake is reported with the
// exact "file:line: key" prefix (and, for enums, the allowed values), and with
// the right category sentinel.
func TestParseMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want string // exact prefix of err.Error()
		kind error
	}{
		{
			name: "in_flight zero on line 14",
			yaml: "# edgeward\nagent:\n  id: gw-1\n  enterprise: e\n  site: s\nbuffer:\n  path: /tmp/x.db\nuplink:\n  brokers:\n    - tcp://127.0.0.1:1883\n  topic_prefix: edgeward/v1\n  heartbeat: 60s\n  keepalive: 30s\n  in_flight: 0\n",
			want: "configs/agent.yaml:14: uplink.in_flight: must be between 1 and 1024, got 0",
			kind: config.ErrInvalid,
		},
		{
			name: "in-flight memory over the bound",
			yaml: "uplink:\n  batch_max_bytes: 1MiB\n  in_flight: 512\n",
			want: "configs/agent.yaml:3: uplink.in_flight: in_flight × batch_max_bytes must be at most 256MiB (the uplink holds that much in memory), got 512 × 1MiB",
			kind: config.ErrInvalid,
		},
		{
			name: "enum log level",
			yaml: "log:\n  level: loud\n",
			want: `configs/agent.yaml:2: log.level: must be one of debug, info, warn, error, got "loud"`,
			kind: config.ErrInvalid,
		},
		{
			name: "enum log format",
			yaml: "log: {level: debug, format: xml}\n",
			want: `configs/agent.yaml:1: log.format: must be one of text, json, got "xml"`,
			kind: config.ErrInvalid,
		},
		{
			name: "enum baseline role",
			yaml: "collectors:\n  baseline:\n    enabled: true\n    role: plc\n",
			want: `configs/agent.yaml:4: collectors.baseline.role: must be one of auto, workstation, operator, gateway, server, portable, got "plc"`,
			kind: config.ErrInvalid,
		},
		{
			name: "unknown top-level key",
			yaml: "agent:\n  id: a\nagnet:\n  id: b\n",
			want: "configs/agent.yaml:3: agnet: unknown key (allowed: agent, buffer, uplink, collectors, log, metrics, limits, advisories)",
			kind: config.ErrUnknownKey,
		},
		{
			name: "unknown nested key",
			yaml: "collectors:\n  host:\n    enabled: true\n    intervall: 5m\n",
			want: "configs/agent.yaml:4: collectors.host.intervall: unknown key (allowed: enabled, interval)",
			kind: config.ErrUnknownKey,
		},
		{
			name: "unknown key in flow mapping",
			yaml: "uplink:\n  tls: {ca_file: /a, verify: true}\n",
			want: "configs/agent.yaml:2: uplink.tls.verify: unknown key (allowed: ca_file, cert_file, key_file, server_name, insecure_skip_verify)",
			kind: config.ErrUnknownKey,
		},
		{
			name: "inline password refused",
			yaml: "uplink:\n  username: u\n  password: hunter2\n",
			want: "configs/agent.yaml:3: uplink.password: cannot be set in the file; use uplink.password_file or the EDGEWARD_MQTT_PASSWORD environment variable",
			kind: config.ErrInvalid,
		},
		{
			name: "duplicate key",
			yaml: "agent:\n  id: a\n  site: s\n  id: b\n",
			want: "configs/agent.yaml:4: agent.id: duplicate key (first set on line 2)",
			kind: config.ErrDuplicateKey,
		},
		{
			name: "duplicate section",
			yaml: "log:\n  level: info\nmetrics: {}\nlog:\n  level: debug\n",
			want: "configs/agent.yaml:4: log: duplicate key (first set on line 1)",
			kind: config.ErrDuplicateKey,
		},
		{
			name: "string where list expected",
			yaml: "uplink:\n  brokers: tcp://127.0.0.1:1883\n",
			want: `configs/agent.yaml:2: uplink.brokers: must be a list, got string "tcp://127.0.0.1:1883"`,
			kind: config.ErrType,
		},
		{
			name: "list where string expected",
			yaml: "collectors:\n  passive:\n    interfaces:\n      - eth0\n      - [eth1]\n",
			want: "configs/agent.yaml:5: collectors.passive.interfaces[1]: must be a string, got a list",
			kind: config.ErrType,
		},
		{
			name: "scalar where mapping expected",
			yaml: "collectors: host\n",
			want: `configs/agent.yaml:1: collectors: must be a mapping, got string "host"`,
			kind: config.ErrType,
		},
		{
			name: "quoted integer",
			yaml: "uplink:\n  in_flight: \"8\"\n",
			want: `configs/agent.yaml:2: uplink.in_flight: must be an integer, got string "8"`,
			kind: config.ErrType,
		},
		{
			name: "yes is not a boolean",
			yaml: "uplink:\n  gzip: yes\n",
			want: `configs/agent.yaml:2: uplink.gzip: must be true or false, got string "yes"`,
			kind: config.ErrType,
		},
		{
			name: "attribute_local is a boolean",
			yaml: "collectors:\n  passive:\n    attribute_local: \"no\"\n",
			want: `configs/agent.yaml:3: collectors.passive.attribute_local: must be true or false, got string "no"`,
			kind: config.ErrType,
		},
		{
			name: "site_policy must be a mapping",
			yaml: "collectors:\n  baseline:\n    site_policy: [a, b]\n",
			want: "configs/agent.yaml:3: collectors.baseline.site_policy: must be a mapping, got a list",
			kind: config.ErrType,
		},
		{
			name: "duration without unit",
			yaml: "collectors:\n  host:\n    interval: 15\n",
			want: `configs/agent.yaml:3: collectors.host.interval: must be a duration with a unit such as "15m" or "6h", got integer 15`,
			kind: config.ErrType,
		},
		{
			name: "quoted duration without unit",
			yaml: "collectors:\n  baseline:\n    interval: \"6\"\n",
			want: `configs/agent.yaml:3: collectors.baseline.interval: invalid duration: missing unit in "6" (write e.g. "6s")`,
			kind: config.ErrInvalid,
		},
		{
			name: "negative duration",
			yaml: "buffer:\n  max_age: -5m\n",
			want: "configs/agent.yaml:2: buffer.max_age: must not be negative, got -5m",
			kind: config.ErrInvalid,
		},
		{
			name: "negative learn period",
			yaml: "collectors:\n  passive:\n    learn_period: -1m\n",
			want: "configs/agent.yaml:3: collectors.passive.learn_period: must not be negative, got -1m",
			kind: config.ErrInvalid,
		},
		{
			name: "heartbeat below 1s",
			yaml: "uplink:\n  heartbeat: 500ms\n",
			want: "configs/agent.yaml:2: uplink.heartbeat: must be at least 1s, got 500ms",
			kind: config.ErrInvalid,
		},
		{
			name: "keepalive above MQTT maximum",
			yaml: "uplink:\n  keepalive: 24h\n",
			want: "configs/agent.yaml:2: uplink.keepalive: must be at most 18h12m15s, got 24h",
			kind: config.ErrInvalid,
		},
		{
			name: "ping_timeout below 1s",
			yaml: "uplink:\n  ping_timeout: 200ms\n",
			want: "configs/agent.yaml:2: uplink.ping_timeout: must be at least 1s, got 200ms",
			kind: config.ErrInvalid,
		},
		{
			name: "ping_timeout above 10m",
			yaml: "uplink:\n  ping_timeout: 1h\n",
			want: "configs/agent.yaml:2: uplink.ping_timeout: must be at most 10m, got 1h",
			kind: config.ErrInvalid,
		},
		{
			name: "max_bytes below 1MiB",
			yaml: "buffer:\n  path: /tmp/b.db\n  max_bytes: 512KiB\n",
			want: "configs/agent.yaml:3: buffer.max_bytes: must be at least 1MiB, got 512KiB",
			kind: config.ErrInvalid,
		},
		{
			name: "size with unknown unit",
			yaml: "buffer:\n  max_bytes: 10XB\n",
			want: `configs/agent.yaml:2: buffer.max_bytes: invalid size "10XB": unknown unit (use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB): "XB"`,
			kind: config.ErrInvalid,
		},
		{
			name: "negative size",
			yaml: "limits:\n  memory: -1\n",
			want: "configs/agent.yaml:2: limits.memory: must not be negative, got -1",
			kind: config.ErrInvalid,
		},
		{
			name: "memory limit too small",
			yaml: "limits:\n  memory: 8MiB\n",
			want: "configs/agent.yaml:2: limits.memory: must be 0 (off) or at least 16MiB, got 8MiB",
			kind: config.ErrInvalid,
		},
		{
			name: "bandwidth cap too small",
			yaml: "uplink:\n  bytes_per_second: 100\n",
			want: "configs/agent.yaml:2: uplink.bytes_per_second: must be 0 (unlimited) or at least 1KiB, got 100B",
			kind: config.ErrInvalid,
		},
		{
			name: "batch_max_records zero",
			yaml: "uplink:\n  batch_max_records: 0\n",
			want: "configs/agent.yaml:2: uplink.batch_max_records: must be between 1 and 100000, got 0",
			kind: config.ErrInvalid,
		},
		{
			name: "broker unsupported scheme",
			yaml: "uplink:\n  brokers:\n    - tcp://a.example:1883\n    - ws://b.example:8080\n",
			want: `configs/agent.yaml:4: uplink.brokers[1]: scheme must be one of tcp, ssl, tls, mqtts, got "ws"`,
			kind: config.ErrInvalid,
		},
		{
			name: "broker without scheme",
			yaml: "uplink:\n  brokers: [localhost:1883]\n",
			want: `configs/agent.yaml:2: uplink.brokers[0]: must be a URL such as "tcp://host:1883" or "tls://host:8883", got "localhost:1883"`,
			kind: config.ErrInvalid,
		},
		{
			name: "broker without port",
			yaml: "uplink:\n  brokers:\n    - tls://broker.example\n",
			want: `configs/agent.yaml:3: uplink.brokers[0]: missing port in "tls://broker.example" (e.g. :1883 for tcp, :8883 for tls)`,
			kind: config.ErrInvalid,
		},
		{
			name: "malformed broker URL",
			yaml: "uplink:\n  brokers:\n    - tcp://[::1:1883\n",
			want: `configs/agent.yaml:3: uplink.brokers[0]: malformed broker URL "tcp://[::1:1883": missing ']' in host`,
			kind: config.ErrInvalid,
		},
		{
			name: "broker with path",
			yaml: "uplink:\n  brokers: [\"tcp://b.example:1883/mqtt\"]\n",
			want: `configs/agent.yaml:2: uplink.brokers[0]: must not have a path, query or fragment, got "tcp://b.example:1883/mqtt"`,
			kind: config.ErrInvalid,
		},
		{
			name: "duplicate broker",
			yaml: "uplink:\n  brokers:\n    - tcp://b.example:1883\n    - TCP://B.example:1883\n",
			want: `configs/agent.yaml:4: uplink.brokers[1]: duplicate broker "TCP://B.example:1883" (same as uplink.brokers[0])`,
			kind: config.ErrInvalid,
		},
		{
			name: "topic prefix with wildcard",
			yaml: "uplink:\n  topic_prefix: edgeward/#\n",
			want: `configs/agent.yaml:2: uplink.topic_prefix: must not contain MQTT wildcards '+' or '#', got "edgeward/#"`,
			kind: config.ErrInvalid,
		},
		{
			name: "site is not one topic level",
			yaml: "agent:\n  enterprise: e1\n  site: plant/a\n",
			want: `configs/agent.yaml:3: agent.site: must not contain '/', '+' or '#' (it is an MQTT topic level), got "plant/a"`,
			kind: config.ErrInvalid,
		},
		{
			name: "cert_file without key_file",
			yaml: "uplink:\n  tls:\n    ca_file: /etc/ca.pem\n    cert_file: /etc/c.pem\n",
			want: "configs/agent.yaml:4: uplink.tls.cert_file: is set but uplink.tls.key_file is empty; a client certificate needs both",
			kind: config.ErrInvalid,
		},
		{
			name: "key_file without cert_file",
			yaml: "uplink:\n  tls:\n    key_file: /etc/k.pem\n",
			want: "configs/agent.yaml:3: uplink.tls.key_file: is set but uplink.tls.cert_file is empty; a client certificate needs both",
			kind: config.ErrInvalid,
		},
		{
			name: "metrics on all interfaces",
			yaml: "log: {level: info}\nmetrics:\n  listen: 0.0.0.0:9464\n",
			want: `configs/agent.yaml:3: metrics.listen: must be a loopback address:port such as 127.0.0.1:9464 (host is not loopback), got "0.0.0.0:9464"`,
			kind: config.ErrInvalid,
		},
		{
			name: "metrics without host",
			yaml: "metrics:\n  listen: \":9464\"\n",
			want: `configs/agent.yaml:2: metrics.listen: must be a loopback address:port such as 127.0.0.1:9464 (host is not loopback), got ":9464"`,
			kind: config.ErrInvalid,
		},
		{
			name: "passive enabled without sources",
			yaml: "collectors:\n  host: {enabled: false}\n  passive:\n    enabled: true\n",
			want: "configs/agent.yaml:3: collectors.passive: is enabled but interfaces and files are both empty; name at least one capture source",
			kind: config.ErrInvalid,
		},
		{
			name: "port out of range",
			yaml: "collectors:\n  passive:\n    ports:\n      modbus: [502, 70000]\n",
			want: "configs/agent.yaml:4: collectors.passive.ports.modbus[1]: must be between 1 and 65535, got 70000",
			kind: config.ErrInvalid,
		},
		{
			name: "snaplen too small",
			yaml: "collectors:\n  passive:\n    snaplen: 10\n",
			want: "configs/agent.yaml:3: collectors.passive.snaplen: must be between 64 and 262144, got 10",
			kind: config.ErrInvalid,
		},
		{
			name: "integer out of range",
			yaml: "uplink:\n  in_flight: 99999999999999999999\n",
			want: "configs/agent.yaml:2: uplink.in_flight: integer 99999999999999999999 is out of range",
			kind: config.ErrInvalid,
		},
		{
			name: "syntax error unclosed flow list",
			yaml: "agent:\n  id: a\nuplink:\n  brokers: [tcp://a:1\n",
			want: "configs/agent.yaml:4: invalid YAML: ",
			kind: config.ErrSyntax,
		},
		{
			name: "syntax error tab indentation",
			yaml: "agent:\n\tid: a\n",
			want: "configs/agent.yaml:2: invalid YAML: ",
			kind: config.ErrSyntax,
		},
		{
			name: "active enabled without allowlist",
			yaml: "collectors:\n  active:\n    enabled: true\n    targets: []\n",
			want: "configs/agent.yaml:2: collectors.active.allow: is empty while active identification is enabled",
			kind: config.ErrInvalid,
		},
		{
			name: "active enabled with nothing to identify",
			yaml: "collectors:\n  active:\n    enabled: true\n    allow: [10.0.0.0/24]\n",
			want: "configs/agent.yaml:2: collectors.active: is enabled but has no server to identify",
			kind: config.ErrInvalid,
		},
		{
			name: "active bad network",
			yaml: "collectors:\n  active:\n    allow: [10.0.0.0/24, 10.0.0.300/8]\n",
			want: "configs/agent.yaml:3: collectors.active.allow[1]: must be a network in CIDR form",
			kind: config.ErrInvalid,
		},
		{
			name: "active target outside the allowlist",
			yaml: "collectors:\n  active:\n    allow: [10.0.0.0/24]\n    targets:\n      - modbus://10.0.0.5/3\n      - modbus://10.0.1.5\n",
			want: "configs/agent.yaml:6: collectors.active.targets[1]: \"modbus://10.0.1.5\": the address is in no network of collectors.active.allow",
			kind: config.ErrInvalid,
		},
		{
			name: "active target on another port",
			yaml: "collectors:\n  active:\n    allow: [10.0.0.0/24]\n    targets: [opc.tcp://10.0.0.5:4841/ua]\n",
			want: "configs/agent.yaml:4: collectors.active.targets[0]: \"opc.tcp://10.0.0.5:4841/ua\": port 4841 is not in collectors.active.ports",
			kind: config.ErrInvalid,
		},
		{
			name: "active target by name",
			yaml: "collectors:\n  active:\n    allow: [10.0.0.0/24]\n    targets: [opc.tcp://plc1:4840]\n",
			want: "configs/agent.yaml:4: collectors.active.targets[0]: \"opc.tcp://plc1:4840\": the host must be an IP address",
			kind: config.ErrInvalid,
		},
		{
			name: "active broadcast unit",
			yaml: "collectors:\n  active:\n    allow: [10.0.0.0/24]\n    targets: [modbus://10.0.0.5/0]\n",
			want: "configs/agent.yaml:4: collectors.active.targets[0]: \"modbus://10.0.0.5/0\": the unit must be 1 to 255",
			kind: config.ErrInvalid,
		},
		{
			name: "active rate",
			yaml: "collectors:\n  active:\n    per_minute: 0\n",
			want: "configs/agent.yaml:3: collectors.active.per_minute: must be between 1 and 600, got 0",
			kind: config.ErrInvalid,
		},
		{
			name: "two documents",
			yaml: "agent: {id: a}\n---\nlog: {level: info}\n",
			want: "configs/agent.yaml:2: more than one YAML document; write the configuration as one document",
			kind: config.ErrSyntax,
		},
		{
			name: "top level is a list",
			yaml: "- agent\n",
			want: "configs/agent.yaml:1: the top level must be a mapping of sections (agent, buffer, uplink, ...), got a list",
			kind: config.ErrType,
		},
		{
			name: "anchor on unknown key",
			yaml: "base: &b {enabled: true}\n",
			want: "configs/agent.yaml:1: base: unknown key (allowed: ",
			kind: config.ErrUnknownKey,
		},
		{
			name: "merge keys refused",
			yaml: "agent:\n  <<: {id: a}\n",
			want: "configs/agent.yaml:2: agent: merge keys (<<) are not supported",
			kind: config.ErrSyntax,
		},
		{
			name: "unknown alias",
			yaml: "collectors:\n  host: *nope\n",
			want: `configs/agent.yaml:2: collectors.host: unknown alias "*nope"`,
			kind: config.ErrSyntax,
		},
		{
			name: "duplicate key deep in a free map",
			yaml: "collectors:\n  baseline:\n    self_declared:\n      ops:\n        - {id: a, id: b}\n",
			want: "configs/agent.yaml:5: collectors.baseline.self_declared.ops[0].id: duplicate key (first set on line 5)",
			kind: config.ErrDuplicateKey,
		},
		{
			name: "alias inside a free map",
			yaml: "collectors:\n  baseline:\n    site_policy:\n      a: &x [1]\n      b: *x\n",
			want: "configs/agent.yaml:5: collectors.baseline.site_policy.b: aliases (*name) are not supported inside this mapping",
			kind: config.ErrInvalid,
		},
	}
	if len(tests) < 25 {
		t.Fatalf("want at least 25 malformed cases, have %d", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := testLoader().Parse(agentYAML, []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want prefix %q", tc.yaml, tc.want)
			}
			if got := err.Error(); !strings.HasPrefix(got, tc.want) {
				t.Errorf("Parse(%q) error:\n got %q\nwant prefix %q", tc.yaml, got, tc.want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error", err)
			}
			if ce.File != agentYAML || ce.Line == 0 {
				t.Errorf("first error File=%q Line=%d, want %q and a line", ce.File, ce.Line, agentYAML)
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("errors.Is(err, %v) = false; err = %v", tc.kind, err)
			}
		})
	}
}

// TestParseReportsEveryProblem checks that several problems are all reported,
// sorted by line.
func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	in := "log:\n  level: loud\nuplink:\n  in_flight: 0\n  gzip: 1\nagent:\n  site: a/b\n"
	_, err := testLoader().Parse("x.yaml", []byte(in))
	if err == nil {
		t.Fatal("Parse = nil error")
	}
	// Decoding errors (the type of gzip) stop before validation.
	if got, want := err.Error(), "x.yaml:5: uplink.gzip: must be true or false, got integer 1"; got != want {
		t.Errorf("decode error = %q, want %q", got, want)
	}
	in = strings.Replace(in, "gzip: 1", "gzip: true", 1)
	_, err = testLoader().Parse("x.yaml", []byte(in))
	want := "x.yaml:2: log.level: must be one of debug, info, warn, error, got \"loud\"\n" +
		"x.yaml:4: uplink.in_flight: must be between 1 and 1024, got 0\n" +
		"x.yaml:7: agent.site: must not contain '/', '+' or '#' (it is an MQTT topic level), got \"a/b\""
	if err == nil || err.Error() != want {
		t.Errorf("Parse error =\n%v\nwant\n%s", err, want)
	}
}

// TestValidateIsPure checks Validate on a hand-built Config: keys without
// file positions.
func TestValidateIsPure(t *testing.T) {
	t.Parallel()
	c := config.Default()
	err := c.Validate()
	if err == nil || err.Error() != "agent.id: must not be empty (no machine id or hostname was found; set agent.id)" {
		t.Fatalf("Default().Validate() = %v, want only the empty agent.id", err)
	}
	c.Agent.ID = "a1"
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	c.Uplink.InFlight = 2000
	var ce *config.Error
	if err := c.Validate(); !errors.As(err, &ce) || ce.Key != "uplink.in_flight" || ce.Line != 0 {
		t.Fatalf("Validate() = %v, want an *Error for uplink.in_flight without a line", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := testLoader().Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, config.ErrRead) {
		t.Fatalf("Load(missing) = %v, want ErrRead", err)
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load(missing) error %T is not *config.Error", err)
	}
}
