// Package config holds the agent's configuration: the YAML schema, its
// defaults, strict decoding with file:line error messages, validation, secret
// redaction and the effective-config printer behind `edgeward check-config`.
//
// Lifecycle: Default() → decode the file over it (keys that are absent or
// null keep their default; an explicit empty list such as `brokers: []`
// replaces the default) → derived defaults (agent id from the machine id,
// client id, password from EDGEWARD_MQTT_PASSWORD or password_file) →
// Validate (pure) → locate each problem in the file. Load and Parse run all
// of it; Validate alone is pure and fast.
//
// Relative paths in the file (buffer.path, password_file, tls files,
// passive.files) are relative to the agent's working directory, not to the
// config file.
//
// Guarantees: every error names the file, the line of the key, the dotted
// key and, for enums, the allowed values. A Secret never appears in fmt,
// slog, JSON or YAML output. The package has no package-level mutable state;
// a Loader is safe for concurrent use.
package config

import (
	"log/slog"
	"time"
)

// Config is the whole agent configuration. The zero value is not useful: start
// from Default() or Load. A Config is a plain value; copies share the maps in
// BaselineConfig and the slices, so treat a loaded Config as read-only.
type Config struct {
	Agent      AgentConfig      `yaml:"agent" json:"agent"`
	Buffer     BufferConfig     `yaml:"buffer" json:"buffer"`
	Uplink     UplinkConfig     `yaml:"uplink" json:"uplink"`
	Collectors CollectorsConfig `yaml:"collectors" json:"collectors"`
	Log        LogConfig        `yaml:"log" json:"log"`
	Metrics    MetricsConfig    `yaml:"metrics" json:"metrics"`
	Limits     LimitsConfig     `yaml:"limits" json:"limits"`
	Advisories AdvisoriesConfig `yaml:"advisories" json:"advisories"`
}

// AdvisoriesConfig locates the known-vulnerability advisory list matched
// against identified devices and host software.
type AdvisoriesConfig struct {
	// File is an advisory list (JSON, the format of `edgeward advisories
	// update`) used instead of the embedded one. "" means the file that
	// `edgeward advisories update` installs next to the buffer
	// (advisories.json) when it exists, else the embedded list.
	File string `yaml:"file" json:"file"`
}

// AgentConfig identifies this agent in every record and MQTT topic. Each value
// is one topic segment, so it may not contain '/', '+', '#' or control
// characters.
type AgentConfig struct {
	// ID is the agent id; "" means DefaultAgentID() (machine id, else
	// hostname), filled in by Load and Parse.
	ID string `yaml:"id" json:"id"`
	// Enterprise is the enterprise code; "" means "default".
	Enterprise string `yaml:"enterprise" json:"enterprise"`
	// Site is the site (plant) code; "" means "default".
	Site string `yaml:"site" json:"site"`
}

// BufferConfig configures the bbolt durable queue.
type BufferConfig struct {
	// Path of the bbolt file; default /var/lib/edgeward/buffer.db
	// (Windows: %ProgramData%\edgeward\buffer.db).
	Path string `yaml:"path" json:"path"`
	// MaxBytes caps the queued payload; at least 1MiB; default 256MiB.
	MaxBytes Size `yaml:"max_bytes" json:"max_bytes"`
	// MaxAge drops queued records older than this; 0 means no age cap;
	// default 720h (30 days).
	MaxAge Duration `yaml:"max_age" json:"max_age"`
}

// UplinkConfig configures the MQTT publisher.
type UplinkConfig struct {
	// Brokers are tried in order for failover: URLs with scheme tcp (plain)
	// or ssl, tls, mqtts (TLS), host and port, no credentials or path. An
	// empty list means no uplink: the agent keeps buffering and never fails
	// for it. Default [tcp://127.0.0.1:1883].
	Brokers []string `yaml:"brokers" json:"brokers"`
	// TopicPrefix starts every topic
	// {prefix}/{enterprise}/{site}/{agent_id}/{class}; default edgeward/v1.
	TopicPrefix string `yaml:"topic_prefix" json:"topic_prefix"`
	// ClientID is the MQTT client id; "" means "edgeward-<agent id>".
	ClientID string `yaml:"client_id" json:"client_id"`
	// Username for the broker; "" sends none.
	Username string `yaml:"username" json:"username"`
	// PasswordFile holds the broker password (trailing newlines are
	// stripped). The environment variable EDGEWARD_MQTT_PASSWORD, when set and
	// non-empty, wins over the file, and the file is then not read.
	PasswordFile string `yaml:"password_file" json:"password_file"`
	// Password is resolved by Load from EDGEWARD_MQTT_PASSWORD or
	// PasswordFile. It cannot be written in the file.
	Password Secret `yaml:"password,omitempty" json:"password,omitempty"`
	// TLS configures ssl/tls/mqtts brokers.
	TLS TLSConfig `yaml:"tls" json:"tls"`
	// Heartbeat is the interval of agent.heartbeat status records; at least
	// 1s; default 60s.
	Heartbeat Duration `yaml:"heartbeat" json:"heartbeat"`
	// KeepAlive is the MQTT keepalive; 1s to 65535s; default 10s. A silent
	// dead link is noticed within about keepalive + ping_timeout + keepalive/4
	// (the check period, at most 5s).
	KeepAlive Duration `yaml:"keepalive" json:"keepalive"`
	// PingTimeout is how long the broker has to answer a PINGREQ before the
	// link is declared dead and reopened; 1s to 10m; default 5s. The answer
	// queues behind the bytes already sent, so on a thin link it must exceed
	// the time one batch takes to cross it (a quarter second of
	// bytes_per_second).
	PingTimeout Duration `yaml:"ping_timeout" json:"ping_timeout"`
	// BatchMaxRecords caps the records in one published batch; 1 to 100000;
	// default 500.
	BatchMaxRecords int `yaml:"batch_max_records" json:"batch_max_records"`
	// BatchMaxBytes caps the payload of one batch; 1KiB to 128MiB; default
	// 256KiB.
	BatchMaxBytes Size `yaml:"batch_max_bytes" json:"batch_max_bytes"`
	// InFlight is the number of unacknowledged QoS 1 publishes; 1 to 1024;
	// default 8.
	InFlight int `yaml:"in_flight" json:"in_flight"`
	// BytesPerSecond caps the uplink bandwidth; 0 means unlimited; otherwise
	// at least 1KiB. Default 0.
	BytesPerSecond Size `yaml:"bytes_per_second" json:"bytes_per_second"`
	// Gzip compresses each batch payload; default false.
	Gzip bool `yaml:"gzip" json:"gzip"`
}

// TLSConfig configures TLS 1.2+ to the broker. All paths are PEM files.
type TLSConfig struct {
	// CAFile verifies the broker; "" uses the system roots.
	CAFile string `yaml:"ca_file" json:"ca_file"`
	// CertFile and KeyFile are the client certificate for mTLS; both or
	// neither.
	CertFile string `yaml:"cert_file" json:"cert_file"`
	KeyFile  string `yaml:"key_file" json:"key_file"`
	// ServerName overrides the name checked in the broker certificate.
	ServerName string `yaml:"server_name" json:"server_name"`
	// InsecureSkipVerify disables certificate verification (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify" json:"insecure_skip_verify"`
}

// CollectorsConfig enables and tunes each collector.
type CollectorsConfig struct {
	Host     HostConfig     `yaml:"host" json:"host"`
	Baseline BaselineConfig `yaml:"baseline" json:"baseline"`
	Passive  PassiveConfig  `yaml:"passive" json:"passive"`
	Active   ActiveConfig   `yaml:"active" json:"active"`
}

// ActiveConfig configures active identification in `run`: read-only
// requests (Modbus FC 43/14, OPC UA GetEndpoints and an anonymous BuildInfo
// read) to servers seen by the passive collector or listed in Targets,
// inside Allow and Ports only.
type ActiveConfig struct {
	// Enabled turns active identification on; default false (edgeward
	// sends nothing to a PLC unless this is set).
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Allow lists the networks (CIDR, "10.1.2.0/24", "10.1.2.7/32") a
	// server must be in to be identified; empty allows nothing.
	Allow []string `yaml:"allow" json:"allow"`
	// Ports lists the server ports that may be identified; default
	// [502, 4840].
	Ports []int `yaml:"ports" json:"ports"`
	// Targets are servers identified even if never seen:
	// modbus://IP[:port][/unit] or opc.tcp://IP[:port][/path], each inside
	// Allow and Ports. Host names are refused.
	Targets []string `yaml:"targets" json:"targets"`
	// PerMinute caps the identifications started per minute, all servers
	// together; 1 to 600; default 6.
	PerMinute int `yaml:"per_minute" json:"per_minute"`
	// Interval is how long an identification stands before the server is
	// identified again; at least 1m; default 24h.
	Interval Duration `yaml:"interval" json:"interval"`
	// Timeout bounds one identification; 1s to 5m; default 5s.
	Timeout Duration `yaml:"timeout" json:"timeout"`
}

// HostConfig configures the host inventory collector.
type HostConfig struct {
	// Enabled runs the collector; default true.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Interval between inventories; at least 1s; default 15m.
	Interval Duration `yaml:"interval" json:"interval"`
}

// Role is the host role used to pick baseline expectations.
type Role string

// The roles.
const (
	RoleAuto        Role = "auto"
	RoleWorkstation Role = "workstation"
	RoleGateway     Role = "gateway"
	RoleServer      Role = "server"
	RoleOperator    Role = "operator"
	RolePortable    Role = "portable"
)

// Roles lists the valid roles; read-only.
var Roles = []Role{RoleAuto, RoleWorkstation, RoleOperator, RoleGateway, RoleServer, RolePortable}

// BaselineConfig configures the baseline checks.
type BaselineConfig struct {
	// Enabled runs the checks; default true.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Interval between runs; at least 1s; default 6h.
	Interval Duration `yaml:"interval" json:"interval"`
	// Role is auto, workstation, operator, gateway, server or portable;
	// default auto (server on Linux, workstation on Windows).
	Role Role `yaml:"role" json:"role"`
	// SitePolicy is a free map validated by the baseline package; default
	// empty.
	SitePolicy map[string]any `yaml:"site_policy" json:"site_policy"`
	// SelfDeclared holds answers for organisational controls, validated by
	// the baseline package; default empty.
	SelfDeclared map[string]any `yaml:"self_declared" json:"self_declared"`
}

// PassiveConfig configures passive ICS traffic observation.
type PassiveConfig struct {
	// Enabled runs the capture; default false. When enabled, Interfaces or
	// Files must be non-empty.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Interfaces to capture live (AF_PACKET on Linux, Npcap on Windows).
	Interfaces []string `yaml:"interfaces" json:"interfaces"`
	// Files are pcap/pcapng files to replay as sources.
	Files []string `yaml:"files" json:"files"`
	// Ports are the server ports per protocol, added to the capture filter.
	Ports PortsConfig `yaml:"ports" json:"ports"`
	// Snaplen is the capture length per packet; 64 to 262144; default
	// 262144.
	Snaplen int `yaml:"snaplen" json:"snaplen"`
	// MaxFlows bounds the flow table (LRU); 1 to 10000000; default 65536.
	MaxFlows int `yaml:"max_flows" json:"max_flows"`
	// FlowIdleTimeout closes a flow after this much silence; at least 1s;
	// default 5m.
	FlowIdleTimeout Duration `yaml:"flow_idle_timeout" json:"flow_idle_timeout"`
	// SummaryInterval between flow summary records; at least 1s; default 5m.
	SummaryInterval Duration `yaml:"summary_interval" json:"summary_interval"`
	// LearnPeriod is how long, from the first packet of each capture
	// source, Modbus clients that write are learned as the plant's own
	// writers without a modbus.write_new_master event (a deployment's
	// first minutes would otherwise report every HMI and engineering
	// station as new). 0, the default, learns none silently.
	LearnPeriod Duration `yaml:"learn_period" json:"learn_period"`
	// Promiscuous puts the interfaces in promiscuous mode; default false.
	Promiscuous bool `yaml:"promiscuous" json:"promiscuous"`
	// AttributeLocal attributes live-captured connections of this host to
	// the local process and user that own them (looked up by exact
	// 4-tuple in the OS socket table when such a connection starts);
	// false never reads the socket table. Default true.
	AttributeLocal bool `yaml:"attribute_local" json:"attribute_local"`
}

// PortsConfig lists the TCP server ports per protocol; each 1 to 65535.
type PortsConfig struct {
	// Modbus ports; default [502].
	Modbus []int `yaml:"modbus" json:"modbus"`
	// OPCUA ports; default [4840]. OPC UA is also recognised on any port
	// from its Hello message: in replayed files always, on live interfaces
	// only with AnyTCP.
	OPCUA []int `yaml:"opcua" json:"opcua"`
	// AnyTCP makes the live capture filter pass all TCP traffic instead of
	// the ports above, so OPC UA on other ports is recognised live; default
	// false.
	AnyTCP bool `yaml:"any_tcp" json:"any_tcp"`
}

// LogLevel is the minimum level logged.
type LogLevel string

// The log levels.
const (
	LevelDebug LogLevel = "debug"
	LevelInfo  LogLevel = "info"
	LevelWarn  LogLevel = "warn"
	LevelError LogLevel = "error"
)

// LogLevels lists the valid levels; read-only.
var LogLevels = []LogLevel{LevelDebug, LevelInfo, LevelWarn, LevelError}

// SlogLevel maps l to a slog.Level; an unknown level maps to Info.
func (l LogLevel) SlogLevel() slog.Level {
	switch l {
	case LevelDebug:
		return slog.LevelDebug
	case LevelWarn:
		return slog.LevelWarn
	case LevelError:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// LogFormat is the log encoding.
type LogFormat string

// The log formats.
const (
	FormatText LogFormat = "text"
	FormatJSON LogFormat = "json"
)

// LogFormats lists the valid formats; read-only.
var LogFormats = []LogFormat{FormatText, FormatJSON}

// LogConfig configures the agent's structured logs (log/slog, to stderr).
type LogConfig struct {
	// Level is debug, info, warn or error; default info.
	Level LogLevel `yaml:"level" json:"level"`
	// Format is text or json; default text.
	Format LogFormat `yaml:"format" json:"format"`
}

// MetricsConfig configures the Prometheus-format self-metrics endpoint.
type MetricsConfig struct {
	// Listen is a loopback host:port ("127.0.0.1:9464", "[::1]:9464",
	// "localhost:9464"); "" (default) opens no port.
	Listen string `yaml:"listen" json:"listen"`
}

// LimitsConfig bounds the agent's own resource use.
type LimitsConfig struct {
	// Memory bounds the agent's memory: the Go runtime's soft limit
	// (debug.SetMemoryLimit, unless GOMEMLIMIT is set) is Memory less a
	// quarter of it, at most 16MiB, left for the binary and the buffer's
	// memory map; the passive tables get a quarter of it. 0 means off,
	// otherwise at least 16MiB; default 64MiB.
	Memory Size `yaml:"memory" json:"memory"`
}

// Default values that are not obvious from Default itself.
const (
	// DefaultEnterprise and DefaultSite are used when the file leaves them
	// empty.
	DefaultEnterprise = "default"
	DefaultSite       = "default"
	// DefaultBroker is the default (only) broker URL.
	DefaultBroker = "tcp://127.0.0.1:1883"
	// ClientIDPrefix starts the default MQTT client id.
	ClientIDPrefix = "edgeward-"
	// PasswordEnv names the environment variable holding the broker
	// password; it wins over uplink.password_file.
	PasswordEnv = "EDGEWARD_MQTT_PASSWORD"
)

// Default returns the built-in configuration. Agent.ID and Uplink.ClientID are
// empty here; Load and Parse derive them. Each call returns fresh slices and
// maps.
func Default() Config {
	return Config{
		Agent: AgentConfig{Enterprise: DefaultEnterprise, Site: DefaultSite},
		Buffer: BufferConfig{
			Path:     defaultBufferPath(),
			MaxBytes: 256 * MiB,
			MaxAge:   Duration(720 * time.Hour),
		},
		Uplink: UplinkConfig{
			Brokers:         []string{DefaultBroker},
			TopicPrefix:     "edgeward/v1",
			Heartbeat:       Duration(60 * time.Second),
			KeepAlive:       Duration(10 * time.Second),
			PingTimeout:     Duration(5 * time.Second),
			BatchMaxRecords: 500,
			BatchMaxBytes:   256 * KiB,
			InFlight:        8,
		},
		Collectors: CollectorsConfig{
			Host: HostConfig{Enabled: true, Interval: Duration(15 * time.Minute)},
			Baseline: BaselineConfig{
				Enabled:      true,
				Interval:     Duration(6 * time.Hour),
				Role:         RoleAuto,
				SitePolicy:   map[string]any{},
				SelfDeclared: map[string]any{},
			},
			Passive: PassiveConfig{
				Ports:           PortsConfig{Modbus: []int{502}, OPCUA: []int{4840}},
				Snaplen:         262144,
				MaxFlows:        65536,
				FlowIdleTimeout: Duration(5 * time.Minute),
				SummaryInterval: Duration(5 * time.Minute),
				AttributeLocal:  true,
			},
			Active: ActiveConfig{
				Ports:     []int{502, 4840},
				PerMinute: 6,
				Interval:  Duration(24 * time.Hour),
				Timeout:   Duration(5 * time.Second),
			},
		},
		Log:    LogConfig{Level: LevelInfo, Format: FormatText},
		Limits: LimitsConfig{Memory: 64 * MiB},
	}
}
