package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// BrokerSchemes lists the accepted broker URL schemes: tcp is plain MQTT,
// ssl, tls and mqtts are MQTT over TLS; read-only.
var BrokerSchemes = []string{"tcp", "ssl", "tls", "mqtts"}

// Validation bounds.
const (
	MinBufferBytes  = 1 * MiB
	MaxInFlight     = 1024
	MaxBatchRecords = 100000
	MinBatchBytes   = 1 * KiB
	MaxBatchBytes   = 128 * MiB
	// MaxInFlightBytes bounds in_flight × batch_max_bytes: the payload the
	// uplink may hold in memory at once.
	MaxInFlightBytes = 256 * MiB
	MinBytesPerSec   = 1 * KiB
	MinMemoryLimit   = 16 * MiB
	MinSnaplen       = 64
	MaxSnaplen       = 262144
	MaxFlows         = 10000000
	MaxKeepAlive     = Duration(65535 * time.Second)
	MaxPingTimeout   = Duration(10 * time.Minute)
	MinInterval      = Duration(time.Second)
	// MaxActivePerMinute and MaxActiveTimeout bound active identification.
	MaxActivePerMinute = 600
	MaxActiveTimeout   = Duration(5 * time.Minute)
	maxSegmentLength   = 128
)

// Validate checks c without any I/O and returns every problem found, joined
// with errors.Join; each is an *Error with Key and Msg set (File and Line are
// added by Load and Parse, which know the file). It expects the derived
// defaults to be filled in (Agent.ID in particular), as Load and Parse do:
// Default().Validate() reports an empty agent.id.
func (c *Config) Validate() error {
	errs := c.validate()
	if len(errs) == 0 {
		return nil
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// checker accumulates validation problems.
type checker struct{ errs []*Error }

func (k *checker) add(key, format string, args ...any) {
	k.errs = append(k.errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid})
}

func (k *checker) intRange(key string, got, lo, hi int) {
	if got < lo || got > hi {
		k.add(key, "must be between %d and %d, got %d", lo, hi, got)
	}
}

func (k *checker) minDuration(key string, got, lo Duration) {
	if got < 0 {
		k.add(key, "must not be negative, got %s", got)
		return
	}
	if got < lo {
		k.add(key, "must be at least %s, got %s", lo, got)
	}
}

func (k *checker) enum(key, got string, allowed []string) {
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	k.add(key, "must be one of %s, got %s", strings.Join(allowed, ", "), quote(got))
}

// segment checks a value that becomes one MQTT topic level.
func (k *checker) segment(key, s string) {
	switch {
	case s == "":
		k.add(key, "must not be empty")
	case len(s) > maxSegmentLength:
		k.add(key, "must be at most %d bytes, got %d", maxSegmentLength, len(s))
	case strings.ContainsAny(s, "/+#"):
		k.add(key, "must not contain '/', '+' or '#' (it is an MQTT topic level), got %s", quote(s))
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		k.add(key, "must not contain spaces or control characters, got %s", quote(s))
	}
}

func (c *Config) validate() []*Error {
	k := &checker{}
	if c.Agent.ID == "" {
		k.add("agent.id", "must not be empty (no machine id or hostname was found; set agent.id)")
	} else {
		k.segment("agent.id", c.Agent.ID)
	}
	k.segment("agent.enterprise", c.Agent.Enterprise)
	k.segment("agent.site", c.Agent.Site)

	if c.Buffer.Path == "" {
		k.add("buffer.path", "must not be empty")
	}
	if c.Buffer.MaxBytes < MinBufferBytes {
		k.add("buffer.max_bytes", "must be at least %s, got %s", MinBufferBytes, c.Buffer.MaxBytes)
	}
	k.minDuration("buffer.max_age", c.Buffer.MaxAge, 0)

	c.Uplink.validate(k, c.Agent.ID)
	c.Collectors.validate(k)

	k.enum("log.level", string(c.Log.Level), enumStrings(LogLevels))
	k.enum("log.format", string(c.Log.Format), enumStrings(LogFormats))
	if c.Metrics.Listen != "" {
		if err := checkLoopback(c.Metrics.Listen); err != nil {
			k.add("metrics.listen", "must be a loopback address:port such as 127.0.0.1:9464 (%v), got %s", err, quote(c.Metrics.Listen))
		}
	}
	if c.Limits.Memory != 0 && c.Limits.Memory < MinMemoryLimit {
		k.add("limits.memory", "must be 0 (off) or at least %s, got %s", MinMemoryLimit, c.Limits.Memory)
	}
	return k.errs
}

// validate checks the uplink; agentID is used to avoid reporting a bad agent
// id twice through the client id derived from it.
func (u *UplinkConfig) validate(k *checker, agentID string) {
	seen := make(map[string]int, len(u.Brokers))
	for i, b := range u.Brokers {
		key := fmt.Sprintf("uplink.brokers[%d]", i)
		if err := checkBroker(b); err != nil {
			k.add(key, "%v", err)
			continue
		}
		norm := strings.ToLower(b)
		if j, dup := seen[norm]; dup {
			k.add(key, "duplicate broker %s (same as uplink.brokers[%d])", quote(b), j)
			continue
		}
		seen[norm] = i
	}
	p := u.TopicPrefix
	switch {
	case p == "":
		k.add("uplink.topic_prefix", "must not be empty")
	case strings.ContainsAny(p, "+#"):
		k.add("uplink.topic_prefix", "must not contain MQTT wildcards '+' or '#', got %s", quote(p))
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//"):
		k.add("uplink.topic_prefix", "must not start or end with '/' or contain empty levels, got %s", quote(p))
	case strings.HasPrefix(p, "$"):
		k.add("uplink.topic_prefix", "must not start with '$' (reserved for broker topics), got %s", quote(p))
	case strings.IndexFunc(p, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		k.add("uplink.topic_prefix", "must not contain spaces or control characters, got %s", quote(p))
	}
	if strings.IndexFunc(u.ClientID, unicode.IsControl) >= 0 && u.ClientID != ClientIDPrefix+agentID {
		k.add("uplink.client_id", "must not contain control characters")
	}
	if u.Password != "" && u.Username == "" {
		k.add("uplink.username", "must be set when a password is configured (MQTT sends a password only with a username)")
	}
	switch {
	case u.TLS.CertFile != "" && u.TLS.KeyFile == "":
		k.add("uplink.tls.cert_file", "is set but uplink.tls.key_file is empty; a client certificate needs both")
	case u.TLS.KeyFile != "" && u.TLS.CertFile == "":
		k.add("uplink.tls.key_file", "is set but uplink.tls.cert_file is empty; a client certificate needs both")
	}
	k.minDuration("uplink.heartbeat", u.Heartbeat, MinInterval)
	k.minDuration("uplink.keepalive", u.KeepAlive, MinInterval)
	if u.KeepAlive > MaxKeepAlive {
		k.add("uplink.keepalive", "must be at most %s, got %s", MaxKeepAlive, u.KeepAlive)
	}
	k.minDuration("uplink.ping_timeout", u.PingTimeout, MinInterval)
	if u.PingTimeout > MaxPingTimeout {
		k.add("uplink.ping_timeout", "must be at most %s, got %s", MaxPingTimeout, u.PingTimeout)
	}
	k.intRange("uplink.batch_max_records", u.BatchMaxRecords, 1, MaxBatchRecords)
	if u.BatchMaxBytes < MinBatchBytes || u.BatchMaxBytes > MaxBatchBytes {
		k.add("uplink.batch_max_bytes", "must be between %s and %s, got %s", MinBatchBytes, MaxBatchBytes, u.BatchMaxBytes)
	}
	k.intRange("uplink.in_flight", u.InFlight, 1, MaxInFlight)
	if u.InFlight >= 1 && u.BatchMaxBytes > 0 && Size(u.InFlight)*u.BatchMaxBytes > MaxInFlightBytes {
		k.add("uplink.in_flight", "in_flight × batch_max_bytes must be at most %s (the uplink holds that much in memory), got %d × %s",
			MaxInFlightBytes, u.InFlight, u.BatchMaxBytes)
	}
	if u.BytesPerSecond != 0 && u.BytesPerSecond < MinBytesPerSec {
		k.add("uplink.bytes_per_second", "must be 0 (unlimited) or at least %s, got %s", MinBytesPerSec, u.BytesPerSecond)
	}
}

// checkBroker checks one broker URL; the error text is the whole message.
func checkBroker(b string) error {
	if b == "" {
		return errors.New("must not be empty")
	}
	if !strings.Contains(b, "://") {
		return fmt.Errorf("must be a URL such as \"tcp://host:1883\" or \"tls://host:8883\", got %s", quote(b))
	}
	u, err := url.Parse(b)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("malformed broker URL %s: %w", quote(b), err)
	}
	if !isBrokerScheme(strings.ToLower(u.Scheme)) {
		return fmt.Errorf("scheme must be one of %s, got %s", strings.Join(BrokerSchemes, ", "), quote(u.Scheme))
	}
	if u.User != nil {
		return fmt.Errorf("must not contain credentials; use uplink.username and uplink.password_file, got %s", quote(redactURL(u)))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("missing host in %s", quote(b))
	}
	port := u.Port()
	if port == "" {
		return fmt.Errorf("missing port in %s (e.g. :1883 for tcp, :8883 for tls)", quote(b))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port must be between 1 and 65535 in %s", quote(b))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must not have a path, query or fragment, got %s", quote(b))
	}
	return nil
}

func isBrokerScheme(s string) bool {
	for _, x := range BrokerSchemes {
		if s == x {
			return true
		}
	}
	return false
}

// IsTLSBroker reports whether a valid broker URL uses TLS (ssl, tls or
// mqtts).
func IsTLSBroker(broker string) bool {
	u, err := url.Parse(broker)
	if err != nil {
		return false
	}
	s := strings.ToLower(u.Scheme)
	return s == "ssl" || s == "tls" || s == "mqtts"
}

func redactURL(u *url.URL) string {
	c := *u
	c.User = url.User(Redacted)
	return c.String()
}

// checkLoopback checks that addr is host:port with a loopback host.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("not host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("bad port")
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return errors.New("host is not loopback")
	}
	return nil
}

func (c *CollectorsConfig) validate(k *checker) {
	k.minDuration("collectors.host.interval", c.Host.Interval, MinInterval)
	k.minDuration("collectors.baseline.interval", c.Baseline.Interval, MinInterval)
	k.enum("collectors.baseline.role", string(c.Baseline.Role), enumStrings(Roles))

	p := &c.Passive
	if p.Enabled && len(p.Interfaces) == 0 && len(p.Files) == 0 {
		k.add("collectors.passive", "is enabled but interfaces and files are both empty; name at least one capture source")
	}
	uniqueNonEmpty(k, "collectors.passive.interfaces", p.Interfaces)
	uniqueNonEmpty(k, "collectors.passive.files", p.Files)
	ports(k, "collectors.passive.ports.modbus", p.Ports.Modbus)
	ports(k, "collectors.passive.ports.opcua", p.Ports.OPCUA)
	k.intRange("collectors.passive.snaplen", p.Snaplen, MinSnaplen, MaxSnaplen)
	k.intRange("collectors.passive.max_flows", p.MaxFlows, 1, MaxFlows)
	k.minDuration("collectors.passive.flow_idle_timeout", p.FlowIdleTimeout, MinInterval)
	k.minDuration("collectors.passive.summary_interval", p.SummaryInterval, MinInterval)
	k.minDuration("collectors.passive.learn_period", p.LearnPeriod, 0)
	c.Active.validate(k, p.Enabled)
}

// validate checks the active identification settings; passive says
// whether the passive collector supplies servers.
func (a *ActiveConfig) validate(k *checker, passive bool) {
	const key = "collectors.active"
	var nets []netip.Prefix
	for i, s := range a.Allow {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			k.add(fmt.Sprintf("%s.allow[%d]", key, i), "must be a network in CIDR form such as 10.1.2.0/24, got %q", s)
			continue
		}
		nets = append(nets, p.Masked())
	}
	ports(k, key+".ports", a.Ports)
	for i, t := range a.Targets {
		if err := activeTarget(t, nets, a.Ports); err != nil {
			k.add(fmt.Sprintf("%s.targets[%d]", key, i), "%q: %v", t, err)
		}
	}
	k.intRange(key+".per_minute", a.PerMinute, 1, MaxActivePerMinute)
	k.minDuration(key+".interval", a.Interval, Duration(time.Minute))
	k.minDuration(key+".timeout", a.Timeout, MinInterval)
	if a.Timeout > MaxActiveTimeout {
		k.add(key+".timeout", "must be at most %s, got %s", time.Duration(MaxActiveTimeout), time.Duration(a.Timeout))
	}
	if !a.Enabled {
		return
	}
	if len(a.Allow) == 0 {
		k.add(key+".allow", "is empty while active identification is enabled; list the networks it may reach")
	}
	if !passive && len(a.Targets) == 0 {
		k.add(key, "is enabled but has no server to identify; enable collectors.passive or list targets")
	}
}

// activeTarget checks an active identification target: a modbus:// or
// opc.tcp:// URL whose host is an IP address inside nets and whose port
// (502 or 4840 by default) is one of ports.
func activeTarget(s string, nets []netip.Prefix, ports []int) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "modbus" && u.Scheme != "opc.tcp") || u.Host == "" || u.User != nil {
		return errors.New("want modbus://IP[:port][/unit] or opc.tcp://IP[:port][/path]")
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return errors.New("the host must be an IP address")
	}
	port := 4840
	if u.Scheme == "modbus" {
		port = 502
		if p := strings.TrimPrefix(u.Path, "/"); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 255 {
				return errors.New("the unit must be 1 to 255")
			}
		}
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return errors.New("bad port")
		}
	}
	if !slices.ContainsFunc(nets, func(n netip.Prefix) bool { return n.Contains(ip.Unmap()) }) {
		return errors.New("the address is in no network of collectors.active.allow")
	}
	if !slices.Contains(ports, port) {
		return fmt.Errorf("port %d is not in collectors.active.ports", port)
	}
	return nil
}

func uniqueNonEmpty(k *checker, key string, list []string) {
	seen := make(map[string]int, len(list))
	for i, s := range list {
		ek := fmt.Sprintf("%s[%d]", key, i)
		if s == "" {
			k.add(ek, "must not be empty")
			continue
		}
		if j, dup := seen[s]; dup {
			k.add(ek, "duplicate %s (same as %s[%d])", quote(s), key, j)
			continue
		}
		seen[s] = i
	}
}

func ports(k *checker, key string, list []int) {
	seen := make(map[int]int, len(list))
	for i, p := range list {
		ek := fmt.Sprintf("%s[%d]", key, i)
		if p < 1 || p > 65535 {
			k.add(ek, "must be between 1 and 65535, got %d", p)
			continue
		}
		if j, dup := seen[p]; dup {
			k.add(ek, "duplicate port %d (same as %s[%d])", p, key, j)
			continue
		}
		seen[p] = i
	}
}

func enumStrings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
