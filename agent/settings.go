package agent

import (
	"net/netip"
	"time"

	"github.com/edgeward/edgeward/agent/internal/config"
	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/baseline"
	"github.com/edgeward/edgeward/collectors/host"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/probe"
	"github.com/edgeward/edgeward/uplink"
)

// settings are the runtime settings of every component, derived from the
// user's configuration by one function (newSettings) so that the mapping is
// table-tested in one place.
type settings struct {
	agent     collectors.Agent
	bufPath   string
	buffer    buffer.Options
	uplink    uplink.Config
	heartbeat time.Duration
	host      host.Config
	baseline  baseline.Config
	passive   passive.Config
	active    activeSettings
}

// activeSettings configure active identification.
type activeSettings struct {
	policy  probe.Policy
	targets []string
}

// newSettings maps a loaded, validated config to runtime settings. hostname
// and version are stamped into every record.
func newSettings(c config.Config, hostname, version string) settings {
	s := settings{
		agent: collectors.Agent{
			ID:         c.Agent.ID,
			Enterprise: c.Agent.Enterprise,
			Site:       c.Agent.Site,
			Hostname:   hostname,
			Version:    version,
		},
		bufPath: c.Buffer.Path,
		buffer: buffer.Options{
			MaxBytes: c.Buffer.MaxBytes.Bytes(),
			MaxAge:   c.Buffer.MaxAge.D(),
		},
		uplink: uplink.Config{
			Brokers:     append([]string(nil), c.Uplink.Brokers...),
			ClientID:    c.Uplink.ClientID,
			TopicPrefix: c.Uplink.TopicPrefix,
			Enterprise:  c.Agent.Enterprise,
			Site:        c.Agent.Site,
			AgentID:     c.Agent.ID,
			Username:    c.Uplink.Username,
			Password:    c.Uplink.Password.Reveal(),
			TLS: uplink.TLSConfig{
				CAFile:             c.Uplink.TLS.CAFile,
				CertFile:           c.Uplink.TLS.CertFile,
				KeyFile:            c.Uplink.TLS.KeyFile,
				ServerName:         c.Uplink.TLS.ServerName,
				InsecureSkipVerify: c.Uplink.TLS.InsecureSkipVerify,
			},
			KeepAlive:       c.Uplink.KeepAlive.D(),
			PingTimeout:     c.Uplink.PingTimeout.D(),
			BatchMaxRecords: c.Uplink.BatchMaxRecords,
			BatchMaxBytes:   int(c.Uplink.BatchMaxBytes.Bytes()),
			InFlight:        c.Uplink.InFlight,
			BytesPerSecond:  c.Uplink.BytesPerSecond.Bytes(),
			Gzip:            c.Uplink.Gzip,
		},
		heartbeat: c.Uplink.Heartbeat.D(),
		host: host.Config{
			Interval: c.Collectors.Host.Interval.D(),
			Root:     "/",
			Key:      c.Agent.ID,
		},
		baseline: baseline.Config{
			Enabled:      c.Collectors.Baseline.Enabled,
			Interval:     c.Collectors.Baseline.Interval.D(),
			Role:         string(c.Collectors.Baseline.Role),
			Root:         "/",
			SitePolicy:   c.Collectors.Baseline.SitePolicy,
			SelfDeclared: c.Collectors.Baseline.SelfDeclared,
		},
	}
	p := passive.DefaultConfig()
	cp := c.Collectors.Passive
	p.Enabled = cp.Enabled
	p.Interfaces = append([]string(nil), cp.Interfaces...)
	p.Files = append([]string(nil), cp.Files...)
	p.Ports = passive.Ports{Modbus: ports(cp.Ports.Modbus), OPCUA: ports(cp.Ports.OPCUA), AnyTCP: cp.Ports.AnyTCP}
	p.SnapLen = cp.Snaplen
	p.Promiscuous = cp.Promiscuous
	p.AttributeLocal = cp.AttributeLocal
	p.MaxFlows = cp.MaxFlows
	p.FlowIdleTimeout = cp.FlowIdleTimeout.D()
	p.SummaryInterval = cp.SummaryInterval.D()
	p.Modbus.LearnPeriod = cp.LearnPeriod.D()
	// The passive tables get a quarter of limits.memory: the rest is the
	// garbage collector's headroom (see setMemorySettings), the batches of
	// records in flight, the buffer, the uplink and the other collectors.
	if m := c.Limits.Memory.Bytes() / 4; m > 0 {
		p.MemoryBudget = max(m, passive.MinMemoryBudget)
	}
	s.passive = p
	ca := c.Collectors.Active
	s.active = activeSettings{
		policy: probe.Policy{
			Ports: ports(ca.Ports), PerMinute: ca.PerMinute, Interval: ca.Interval.D(), Timeout: ca.Timeout.D(),
		},
		targets: append([]string(nil), ca.Targets...),
	}
	for _, n := range ca.Allow {
		if p, err := netip.ParsePrefix(n); err == nil { // validated
			s.active.policy.Allow = append(s.active.policy.Allow, p.Masked())
		}
	}
	return s
}

// ports converts validated port numbers (1..65535) to uint16.
func ports(in []int) []uint16 {
	out := make([]uint16, 0, len(in))
	for _, p := range in {
		out = append(out, uint16(p))
	}
	return out
}
