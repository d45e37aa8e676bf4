package uplink

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults applied by New and Subscribe to zero-valued Config fields.
const (
	DefaultTopicPrefix     = "edgeward/v1"
	DefaultKeepAlive       = 10 * time.Second
	DefaultPingTimeout     = 5 * time.Second
	DefaultConnectTimeout  = 10 * time.Second
	DefaultPublishTimeout  = 30 * time.Second
	DefaultFlushTimeout    = 5 * time.Second
	DefaultMinBackoff      = 1 * time.Second
	DefaultMaxBackoff      = 30 * time.Second
	DefaultBatchMaxRecords = 500
	DefaultBatchMaxBytes   = 256 << 10
	DefaultInFlight        = 8
)

// MaxInFlight is the largest Config.InFlight that Validate accepts. The
// agent's configuration allows the same range (uplink.in_flight, 1 to 1024).
const MaxInFlight = 1024

// GzipTopicSuffix is appended to a class topic when Config.Gzip is set: a
// message on "{prefix}/{enterprise}/{site}/{agent_id}/{class}/gz" carries the
// gzip (RFC 1952) compression of the JSON array that would otherwise be
// published on the topic without the suffix.
const GzipTopicSuffix = "/gz"

// StatusOnline and StatusOffline are the retained payloads of the status
// topic (Config.StatusTopic).
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// TLSConfig selects the broker-side TLS settings. It is used only for broker
// URLs with a TLS scheme (ssl://, tls://, mqtts://). The zero value verifies
// the broker against the system roots with TLS 1.2 or later.
type TLSConfig struct {
	// CAFile is a PEM file of CA certificates that the broker certificate
	// must chain to. Empty means the system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key for mutual
	// TLS. Both or neither must be set.
	CertFile, KeyFile string
	// ServerName overrides the host name checked in the broker certificate.
	// Empty means the host of the broker URL.
	ServerName string
	// InsecureSkipVerify disables verification of the broker certificate.
	// Only for tests and labs: it allows any man in the middle.
	InsecureSkipVerify bool
}

// Config configures a Client. Zero-valued durations and sizes take the
// Default* constants. A Config is a value: New copies it, and later changes
// by the caller have no effect.
type Config struct {
	// Brokers lists broker URLs: tcp://host:port (or mqtt://) for plain
	// MQTT, ssl://, tls:// or mqtts://host:port for MQTT over TLS. Several
	// URLs mean failover: each connection attempt tries them in order and
	// keeps the first that accepts. At least one is required.
	Brokers []string
	// ClientID is the MQTT client identifier. Empty means "edgeward-" +
	// AgentID. Two clients with the same id evict each other at the broker.
	ClientID string
	// TopicPrefix is the first topic levels; default "edgeward/v1".
	TopicPrefix string
	// Enterprise, Site and AgentID are the topic levels after the prefix.
	// All three are required and must not contain '/', '+', '#' or NUL.
	Enterprise, Site, AgentID string
	// Username and Password authenticate to the broker; empty means none.
	// The password is never logged (see Config.LogValue).
	Username string
	Password string
	// TLS is used for TLS broker URLs.
	TLS TLSConfig
	// KeepAlive is the MQTT keep-alive interval (default 10s): after this
	// long without receiving anything the client sends a PINGREQ.
	KeepAlive time.Duration
	// PingTimeout is how long the broker has to answer a PINGREQ before
	// the connection is declared dead, dropped and reopened (default 5s). A
	// link that goes silent is thus noticed within about KeepAlive +
	// PingTimeout, plus paho's check period (KeepAlive/4, at most 5s),
	// whatever PublishTimeout says. The PINGRESP queues behind the PUBLISH
	// bytes already sent, so on a thin link PingTimeout must exceed the time
	// one batch takes to cross it; BytesPerSecond sizes batches to a quarter
	// of a second of the cap.
	PingTimeout time.Duration
	// ConnectTimeout bounds one connection attempt to one broker, TCP, TLS
	// and CONNACK included (default 10s).
	ConnectTimeout time.Duration
	// PublishTimeout bounds the wait for the PUBACK of one message (default
	// 30s). A batch that is not acknowledged in time drops the connection and
	// everything unacknowledged is sent again on the next one.
	PublishTimeout time.Duration
	// FlushTimeout bounds the flush that Run attempts after its context is
	// cancelled: waiting for the PUBACKs of batches in flight and publishing
	// the retained "offline" status (default 5s).
	FlushTimeout time.Duration
	// MinBackoff and MaxBackoff bound the jittered exponential backoff
	// between reconnect attempts and between failed Source reads (default
	// 1s and 30s).
	MinBackoff, MaxBackoff time.Duration
	// BatchMaxRecords and BatchMaxBytes bound one batch. A batch is one MQTT
	// message: a JSON array of records of one class. BatchMaxBytes counts the
	// record bytes plus the array brackets and commas, before compression;
	// a single record larger than BatchMaxBytes is sent alone (default 500
	// records, 256 KiB).
	BatchMaxRecords int
	BatchMaxBytes   int
	// InFlight is the number of batches that may wait for their PUBACK at
	// the same time (default 8, at most MaxInFlight).
	InFlight int
	// BytesPerSecond caps the bytes per second written to the broker
	// connection: MQTT packets whole (PUBLISH headers, CONNECT, PINGREQ) and
	// TLS records, not TCP/IP headers; 0 means no cap. It is a token bucket
	// holding a quarter of a second of the cap, charged before each PUBLISH,
	// so any window of T seconds carries at most (T + 0.25) s worth of the
	// cap: 105% over 5 s. Batches are cut to fit the bucket; only a single
	// record larger than the bucket exceeds it, sent alone when the bucket
	// is full.
	BytesPerSecond int64
	// Gzip compresses every batch with gzip and publishes it on the class
	// topic plus GzipTopicSuffix ("/gz").
	Gzip bool
	// Logger receives connection events and errors; nil means discard.
	Logger *slog.Logger
}

// LogValue implements slog.LogValuer. It logs the broker URLs without any
// user information and never the password.
func (c Config) LogValue() slog.Value {
	brokers := make([]string, len(c.Brokers))
	for i, b := range c.Brokers {
		brokers[i] = redactURL(b)
	}
	return slog.GroupValue(
		slog.Any("brokers", brokers),
		slog.String("client_id", c.ClientID),
		slog.String("topic_prefix", c.TopicPrefix),
		slog.String("enterprise", c.Enterprise),
		slog.String("site", c.Site),
		slog.String("agent_id", c.AgentID),
		slog.String("username", c.Username),
		slog.Bool("password_set", c.Password != ""),
		slog.Bool("gzip", c.Gzip),
	)
}

// Topic returns the topic of a record class:
// "{prefix}/{enterprise}/{site}/{agent_id}/{class}", with the default prefix
// when TopicPrefix is empty. It does not add GzipTopicSuffix.
func (c Config) Topic(class string) string {
	prefix := c.TopicPrefix
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	return prefix + "/" + c.Enterprise + "/" + c.Site + "/" + c.AgentID + "/" + class
}

// StatusTopic returns Topic("status"). While the agent is connected it holds
// the retained payload "online"; the broker replaces it with the retained
// "offline" last will when the connection dies, and the Client publishes a
// retained "offline" itself when it shuts down cleanly. Status records (class
// "status") share this topic; subscribers tell them apart because records are
// JSON arrays.
func (c Config) StatusTopic() string { return c.Topic("status") }

// withDefaults returns c with the defaults filled in.
func (c Config) withDefaults() Config {
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if c.ClientID == "" && c.AgentID != "" {
		c.ClientID = "edgeward-" + c.AgentID
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.KeepAlive, DefaultKeepAlive)
	setDur(&c.PingTimeout, DefaultPingTimeout)
	setDur(&c.ConnectTimeout, DefaultConnectTimeout)
	setDur(&c.PublishTimeout, DefaultPublishTimeout)
	setDur(&c.FlushTimeout, DefaultFlushTimeout)
	setDur(&c.MinBackoff, DefaultMinBackoff)
	setDur(&c.MaxBackoff, DefaultMaxBackoff)
	if c.BatchMaxRecords == 0 {
		c.BatchMaxRecords = DefaultBatchMaxRecords
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = DefaultBatchMaxBytes
	}
	if c.InFlight == 0 {
		c.InFlight = DefaultInFlight
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first field of c that cannot work, wrapped in
// ErrInvalidConfig. It checks values only; it does no I/O and does not read
// the TLS files (New does). Zero values that take a default are accepted.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if len(c.Brokers) == 0 {
		return bad("brokers: at least one broker url is required")
	}
	for i, b := range c.Brokers {
		if _, err := parseBroker(b); err != nil {
			return bad("brokers[%d]: %w", i, err)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"enterprise", c.Enterprise}, {"site", c.Site}, {"agent_id", c.AgentID},
	} {
		if f.v == "" {
			return bad("%s: required", f.name)
		}
		if !validLevel(f.v) {
			return bad("%s: must not contain '/', '+', '#' or NUL, got %q", f.name, f.v)
		}
	}
	if p := c.TopicPrefix; p != "" && (strings.ContainsAny(p, "+#\x00") || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/")) {
		return bad("topic_prefix: must not contain '+', '#' or NUL nor start or end with '/', got %q", p)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return bad("tls: cert_file and key_file must be set together")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"keep_alive", c.KeepAlive}, {"ping_timeout", c.PingTimeout}, {"connect_timeout", c.ConnectTimeout},
		{"publish_timeout", c.PublishTimeout}, {"flush_timeout", c.FlushTimeout},
		{"min_backoff", c.MinBackoff}, {"max_backoff", c.MaxBackoff},
	} {
		if d.v < 0 {
			return bad("%s: must not be negative, got %s", d.name, d.v)
		}
	}
	if c.KeepAlive > 0 && c.KeepAlive < time.Second {
		// MQTT counts it in whole seconds: paho would turn it into 0 (no
		// pings), and an idle link would look dead.
		return bad("keep_alive: at least 1s, got %s", c.KeepAlive)
	}
	if c.MinBackoff > 0 && c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff {
		return bad("min_backoff %s is greater than max_backoff %s", c.MinBackoff, c.MaxBackoff)
	}
	if c.BatchMaxRecords < 0 || c.BatchMaxBytes < 0 || c.InFlight < 0 || c.BytesPerSecond < 0 {
		return bad("batch_max_records, batch_max_bytes, in_flight and bytes_per_second must not be negative")
	}
	if c.InFlight > MaxInFlight {
		return bad("in_flight: at most %d, got %d", MaxInFlight, c.InFlight)
	}
	return nil
}

// validLevel reports whether s can be used as one MQTT topic level.
func validLevel(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/+#\x00")
}

// parseBroker checks a broker URL and returns it parsed.
func parseBroker(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse broker url %q: %w", redactURL(raw), err)
	}
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
	default:
		return nil, fmt.Errorf("broker url %q: scheme must be tcp, mqtt, ssl, tls or mqtts", redactURL(raw))
	}
	if u.Hostname() == "" || u.Port() == "" {
		return nil, fmt.Errorf("broker url %q: host and port are required", redactURL(raw))
	}
	return u, nil
}

// isTLSBroker reports whether a (valid) broker URL uses TLS.
func isTLSBroker(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "ssl", "tls", "mqtts":
		return true
	}
	return false
}

// redactURL returns raw without user information, for logs and errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(raw, "@") {
			return "<unparsable url>"
		}
		return raw
	}
	u.User = nil
	return u.String()
}

// loadTLS builds the client TLS configuration, reading the files named in t.
// Errors wrap ErrTLSFiles and name the file.
func loadTLS(t TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // explicit opt-in, documented
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: read ca_file \"%s\": %w", ErrTLSFiles, t.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: ca_file \"%s\": no PEM certificate found", ErrTLSFiles, t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: load cert_file \"%s\" and key_file \"%s\": %w", ErrTLSFiles, t.CertFile, t.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
