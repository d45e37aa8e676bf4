package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/shirou/gopsutil/v3/common"
)

// Kind is the record kind of a host inventory.
const Kind = "host.inventory"

// DefaultInterval is the collection interval when Config.Interval is zero.
const DefaultInterval = 15 * time.Minute

// Config configures a Collector. The zero value is not valid: Key is
// required.
type Config struct {
	// Interval between two snapshots in Run. Zero or negative means
	// DefaultInterval (15m).
	Interval time.Duration
	// Root is the directory the host's file system is read under; "" means
	// "/". Every file read and gopsutil's HOST_PROC, HOST_SYS, HOST_ETC,
	// HOST_VAR, HOST_RUN, HOST_DEV and HOST_ROOT go through it. Ignored on
	// Windows.
	Root string
	// Key is the record key: the agent id. Required.
	Key string
}

// Collector takes host inventory snapshots. It is safe for concurrent use:
// it holds only its immutable configuration.
type Collector struct {
	cfg  Config
	root hostRoot
	env  common.EnvMap // read-only after New
	log  *slog.Logger
}

var _ collectors.Collector = (*Collector)(nil)

// New validates cfg, applies defaults and returns a Collector. It fails with
// ErrNoKey when cfg.Key is empty, and when cfg.Root is not a directory. A nil
// log discards.
func New(cfg Config, log *slog.Logger) (*Collector, error) {
	if cfg.Key == "" {
		return nil, fmt.Errorf("new host collector: %w", ErrNoKey)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Root == "" {
		cfg.Root = "/"
	}
	abs, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("new host collector: root \"%s\": %w", cfg.Root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("new host collector: root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("new host collector: root \"%s\" is not a directory", cfg.Root)
	}
	cfg.Root = abs
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := hostRoot(abs)
	return &Collector{
		cfg:  cfg,
		root: r,
		env: common.EnvMap{
			common.HostProcEnvKey: r.path("proc"),
			common.HostSysEnvKey:  r.path("sys"),
			common.HostEtcEnvKey:  r.path("etc"),
			common.HostVarEnvKey:  r.path("var"),
			common.HostRunEnvKey:  r.path("run"),
			common.HostDevEnvKey:  r.path("dev"),
			common.HostRootEnvKey: abs,
		},
		log: log.With("collector", "host"),
	}, nil
}

// Name returns "host".
func (c *Collector) Name() string { return "host" }

// part is one section of the inventory. fn fills its fields of inv, adding
// finer Unavailable entries itself; an error marks the whole field
// unavailable.
type part struct {
	field string
	fn    func(ctx context.Context, inv *Inventory) error
}

// Collect takes one snapshot. Parts that cannot be read are listed in
// Inventory.Unavailable; Collect itself fails only when ctx ends.
func (c *Collector) Collect(ctx context.Context) (*Inventory, error) {
	inv := &Inventory{OS: OSInfo{Family: runtime.GOOS}, collected: time.Now().UTC()}
	gctx := context.WithValue(ctx, common.EnvKey, c.env)
	parts := append(c.commonParts(), c.osParts()...)
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("collect host inventory: %w", err)
		}
		err := p.fn(gctx, inv)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("collect host inventory: %w", ctx.Err())
		}
		reason := err.Error()
		if errors.Is(err, collectors.ErrNotApplicable) {
			reason = "not supported on " + runtime.GOOS
		}
		inv.unavailable(p.field, reason)
		c.log.Debug("inventory field unavailable", "field", p.field, "err", err)
	}
	return inv, nil
}

// Record wraps inv in an asset record of kind host.inventory keyed by the
// agent id, timed at the snapshot. The record shares inv.
func (c *Collector) Record(inv *Inventory) collectors.Record {
	return collectors.Record{
		Class: collectors.ClassAsset,
		Kind:  Kind,
		Time:  inv.collected,
		Key:   c.cfg.Key,
		Body:  inv,
	}
}

// Run collects and emits a snapshot at once and then every Interval until
// ctx is cancelled, and returns nil then. A failed emit is logged and
// retried at the next tick.
func (c *Collector) Run(ctx context.Context, emit collectors.Emitter) error {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		c.collectAndEmit(ctx, emit)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// collectAndEmit takes one snapshot and emits it, logging failures.
func (c *Collector) collectAndEmit(ctx context.Context, emit collectors.Emitter) {
	start := time.Now()
	inv, err := c.Collect(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("collect host inventory", "err", err)
		}
		return
	}
	if err := emit.Emit(ctx, c.Record(inv)); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("emit host inventory", "err", err)
		}
		return
	}
	c.log.Debug("host inventory emitted", "took", time.Since(start),
		"software", len(inv.Software), "services", len(inv.Services),
		"listening", len(inv.Listening), "unavailable", len(inv.Unavailable))
}
