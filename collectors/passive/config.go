package passive

import (
	"fmt"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/modbus"
	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// Config configures the passive collector and its Engine. The zero value of
// a numeric field means its default (see DefaultConfig); a boolean's zero
// value is false whatever its default.
type Config struct {
	// Enabled turns the collector on in `edgeward run`.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Interfaces are captured live (OpenLive), Files are replayed once.
	Interfaces []string `yaml:"interfaces" json:"interfaces"`
	Files      []string `yaml:"files" json:"files"`
	// Ports are the server ports of each protocol.
	Ports Ports `yaml:"ports" json:"ports"`
	// SnapLen is the live capture snap length in bytes (default 65535).
	SnapLen int `yaml:"snap_len" json:"snap_len"`
	// Promiscuous puts live interfaces in promiscuous mode.
	Promiscuous bool `yaml:"promiscuous" json:"promiscuous"`
	// MaxFlows bounds the TCP connection table (default 65536); the least
	// recently used connection is evicted when it is full.
	MaxFlows int `yaml:"max_flows" json:"max_flows"`
	// FlowIdleTimeout ends a connection that saw no segment for this long
	// (default 5 minutes).
	FlowIdleTimeout time.Duration `yaml:"flow_idle_timeout" json:"flow_idle_timeout"`
	// SummaryInterval is how often asset and flow records are emitted
	// (default 1 minute).
	SummaryInterval time.Duration `yaml:"summary_interval" json:"summary_interval"`
	// MaxReassemblyBytes bounds the out-of-order bytes buffered over all
	// connections (default 64 MiB); each direction of a connection buffers
	// at most 64 KiB.
	MaxReassemblyBytes int64 `yaml:"max_reassembly_bytes" json:"max_reassembly_bytes"`
	// MemoryBudget bounds, in bytes, what the engine's tables hold together
	// (default 16 MiB; `edgeward run` and `edgeward replay` set it to a
	// quarter of limits.memory). Each table has a fixed share of it (see the
	// package documentation); MaxFlows, MaxReassemblyBytes and the
	// analyzers' MaxTableBytes and MaxBufferedBytes can only lower a
	// table's bound.
	MemoryBudget int64 `yaml:"memory_budget" json:"memory_budget"`
	// AttributeLocal attributes live-captured connections that start or end
	// on this host to the local process and user owning them (net.flow and
	// threat records carry local_process). DefaultConfig sets it; false
	// never reads the socket table. Replayed files are never attributed.
	AttributeLocal bool `yaml:"attribute_local" json:"attribute_local"`
	// Modbus configures the Modbus/TCP analyzer's tables and detections.
	Modbus modbus.Config `yaml:"modbus" json:"modbus"`
	// OPCUA configures the OPC UA Binary analyzer's limits, tables and
	// detections.
	OPCUA opcua.Config `yaml:"opcua" json:"opcua"`
}

// Ports lists the TCP server ports of each protocol. OPC UA is also
// recognised on any port from its Hello message: always in a replay, in a
// live capture only with AnyTCP (the capture filter passes only these ports
// otherwise).
type Ports struct {
	Modbus []uint16 `yaml:"modbus" json:"modbus"`
	OPCUA  []uint16 `yaml:"opcua" json:"opcua"`
	// AnyTCP makes live captures pass every TCP segment to the engine, so
	// OPC UA on ports outside OPCUA is recognised live too, at the cost of
	// copying all TCP traffic to user space. False (the default) passes the
	// configured ports only.
	AnyTCP bool `yaml:"any_tcp" json:"any_tcp"`
}

// Defaults of Config.
const (
	DefaultMaxFlows           = 65536
	DefaultFlowIdleTimeout    = 5 * time.Minute
	DefaultSummaryInterval    = time.Minute
	DefaultMaxReassemblyBytes = 64 << 20
	DefaultSnapLen            = 65535
)

// MinMemoryBudget is the least Config.MemoryBudget.
const MinMemoryBudget = 4 << 20

// DefaultConfig returns the defaults: disabled, Modbus on 502, OPC UA on
// 4840, snap length 65535, 65536 connections, 5 minutes idle timeout,
// summaries every minute, 64 MiB of out-of-order data in total, a memory
// budget of 16 MiB (which bounds the connections and the out-of-order data
// further), local process attribution on with the socket table read at
// most once a second.
func DefaultConfig() Config {
	return Config{
		Ports:              Ports{Modbus: []uint16{502}, OPCUA: []uint16{4840}},
		SnapLen:            DefaultSnapLen,
		MaxFlows:           DefaultMaxFlows,
		FlowIdleTimeout:    DefaultFlowIdleTimeout,
		SummaryInterval:    DefaultSummaryInterval,
		MaxReassemblyBytes: DefaultMaxReassemblyBytes,
		MemoryBudget:       DefaultMemoryBudget,
		AttributeLocal:     true,
		Modbus:             modbus.DefaultConfig(),
		OPCUA:              opcua.DefaultConfig(),
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Ports.Modbus == nil {
		c.Ports.Modbus = d.Ports.Modbus
	}
	if c.Ports.OPCUA == nil {
		c.Ports.OPCUA = d.Ports.OPCUA
	}
	if c.SnapLen == 0 {
		c.SnapLen = d.SnapLen
	}
	if c.MaxFlows == 0 {
		c.MaxFlows = d.MaxFlows
	}
	if c.FlowIdleTimeout == 0 {
		c.FlowIdleTimeout = d.FlowIdleTimeout
	}
	if c.SummaryInterval == 0 {
		c.SummaryInterval = d.SummaryInterval
	}
	if c.MaxReassemblyBytes == 0 {
		c.MaxReassemblyBytes = d.MaxReassemblyBytes
	}
	if c.MemoryBudget == 0 {
		c.MemoryBudget = d.MemoryBudget
	}
	return c
}

// Validate reports the first out-of-range field (after defaults are applied).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.SnapLen < 64 || c.SnapLen > 262144:
		return fmt.Errorf("%w: snap_len must be 64..262144, got %d", ErrInvalidConfig, c.SnapLen)
	case c.MaxFlows < 1:
		return fmt.Errorf("%w: max_flows must be positive, got %d", ErrInvalidConfig, c.MaxFlows)
	case c.FlowIdleTimeout < time.Second:
		return fmt.Errorf("%w: flow_idle_timeout must be at least 1s, got %s", ErrInvalidConfig, c.FlowIdleTimeout)
	case c.SummaryInterval < time.Second:
		return fmt.Errorf("%w: summary_interval must be at least 1s, got %s", ErrInvalidConfig, c.SummaryInterval)
	case c.MaxReassemblyBytes < 1<<16:
		return fmt.Errorf("%w: max_reassembly_bytes must be at least 65536, got %d", ErrInvalidConfig, c.MaxReassemblyBytes)
	case c.MemoryBudget < MinMemoryBudget:
		return fmt.Errorf("%w: memory_budget must be at least %d, got %d", ErrInvalidConfig, MinMemoryBudget, c.MemoryBudget)
	}
	for _, p := range c.Ports.Modbus {
		if p == 0 {
			return fmt.Errorf("%w: ports.modbus: port 0", ErrInvalidConfig)
		}
	}
	for _, p := range c.Ports.OPCUA {
		if p == 0 {
			return fmt.Errorf("%w: ports.opcua: port 0", ErrInvalidConfig)
		}
	}
	return nil
}
