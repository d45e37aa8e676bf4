package passive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive/modbus"
)

// Collector is the passive network collector: it replays Config.Files
// once each (see the package documentation for how a restart resumes),
// captures
// Config.Interfaces live, and emits asset, flow and threat records. It is
// safe for one Run at a time; Stats may be called concurrently with Run.
type Collector struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex // guards eng, sources and files
	eng     *Engine    // the engine in use: a file's while it is replayed, then the live capture's
	sources map[string]Source
	files   []FileProgress
	// mem keeps the files' checkpoints when the Emitter does not
	// (collectors.Checkpointer), so that a Run restarted in this process
	// does not read a finished file again.
	mem memCheckpoints
	// learnedGen is the generation of the live engine's learned state
	// (modbus.Analyzer.Learned) last stored; only emit uses it.
	learnedGen uint64
	// owners returns the socket table reader for local process
	// attribution (nil: none on this system); a test seam.
	owners func() socketOwners
}

var _ collectors.Collector = (*Collector)(nil)

// New returns a Collector for cfg (zero fields take their defaults). It
// validates cfg and opens nothing; Run opens the sources.
func New(cfg Config, log *slog.Logger) (*Collector, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	eng, err := NewEngine(cfg, log)
	if err != nil {
		return nil, err
	}
	c := &Collector{
		cfg: cfg.withDefaults(), log: log.With("collector", "passive"), eng: eng, sources: map[string]Source{},
		owners: newSocketOwners,
	}
	for _, path := range cfg.Files {
		c.files = append(c.files, FileProgress{Path: path, State: FilePending})
	}
	return c, nil
}

// Name returns "passive".
func (c *Collector) Name() string { return "passive" }

// Run replays the configured files (each once: see the package
// documentation), then captures on every configured interface until ctx is
// cancelled, emitting events every second and asset and flow records
// every SummaryInterval and once more at the end. A file that cannot be
// opened (missing, unreadable: fs.ErrNotExist, fs.ErrPermission; not a
// capture: ErrUnknownFormat) is logged as an error and skipped, never
// retried by this Collector; the others are replayed. With files only, Run
// then returns why files could not be opened, or else idles until ctx is
// cancelled, so that a supervisor does not start it again. Run returns nil
// on cancellation, ErrNoSources when nothing is configured, and an error
// when an interface cannot be opened or an emit fails (a Run started
// again then resumes the file where the last stored checkpoint left it).
func (c *Collector) Run(ctx context.Context, emit collectors.Emitter) error {
	if len(c.cfg.Files) == 0 && len(c.cfg.Interfaces) == 0 {
		return ErrNoSources
	}
	cp, ok := emit.(collectors.Checkpointer)
	if !ok {
		c.mem.emit = emit
		cp = &c.mem
	}
	for i := range c.cfg.Files {
		if err := c.replayFile(ctx, emit, cp, i); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	if len(c.cfg.Interfaces) == 0 {
		if err := c.fileErrors(); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
	return c.runLive(ctx, emit, cp)
}

// runLive captures on the configured interfaces with a fresh engine, which
// starts with what the last live capture learned (learnedCheckpoint).
func (c *Collector) runLive(ctx context.Context, emit collectors.Emitter, cp collectors.Checkpointer) error {
	eng, err := NewEngine(c.cfg, c.log)
	if err != nil {
		return err
	}
	c.restoreLearned(ctx, cp, eng)
	c.mu.Lock()
	c.eng = eng
	c.mu.Unlock()
	attr := c.startAttribution()
	g, gctx := errgroup.WithContext(ctx)
	opts := LiveOptions{SnapLen: c.cfg.SnapLen, Promiscuous: c.cfg.Promiscuous, Ports: livePorts(c.cfg.Ports), AnyTCP: c.cfg.Ports.AnyTCP}
	for _, ifc := range c.cfg.Interfaces {
		src, err := OpenLive(ifc, opts)
		if err != nil {
			c.closeSources()
			_ = g.Wait() // the readers already started end on their closed sources
			return err   // OpenLive's errors name the interface
		}
		c.mu.Lock()
		c.sources[ifc] = src
		c.mu.Unlock()
		g.Go(func() error { return c.read(gctx, ifc, src) })
	}
	if attr != nil {
		// Started once every source is open: an open failure above waits
		// only for readers that end on their closed sources.
		g.Go(func() error { attr.run(gctx, &c.mu); return nil })
		for _, ifc := range c.cfg.Interfaces {
			c.startSynTap(gctx, g, ifc, opts, attr)
		}
	}
	g.Go(func() error {
		// Flush and hand over events every second (gap timeouts, idle
		// connections; threats without delay); emit assets and flows every
		// SummaryInterval.
		t := time.NewTicker(time.Second)
		defer t.Stop()
		next := time.Now().Add(c.cfg.SummaryInterval)
		for {
			select {
			case <-gctx.Done():
				return nil
			case now := <-t.C:
				if attr != nil {
					attr.tick(now)
				}
				if err := c.emit(gctx, emit, cp, now, !now.Before(next)); err != nil {
					return err
				}
				if !now.Before(next) {
					next = now.Add(c.cfg.SummaryInterval)
				}
			}
		}
	})
	err = g.Wait()
	c.closeSources()
	c.mu.Lock()
	c.eng.Flush(time.Time{})
	c.mu.Unlock()
	if ctx.Err() != nil {
		// Best effort: hand over what was seen since the last summary.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := c.emit(fctx, emit, cp, time.Now(), true); err != nil {
			c.log.Warn("emit final records", "err", err)
		}
		return nil
	}
	return err
}

// startAttribution turns local process attribution on for the live capture
// about to start (Config.AttributeLocal, and a socket table on this
// system) and reads this host's addresses. It returns nil when
// attribution is off; the caller runs the attributor's worker.
func (c *Collector) startAttribution() *attributor {
	if !c.cfg.AttributeLocal {
		return nil
	}
	o := c.owners()
	if o == nil {
		return nil
	}
	c.mu.Lock()
	c.eng.attributeLocal(o, c.log)
	a := c.eng.attr
	c.mu.Unlock()
	a.tick(time.Now())
	return a
}

// startSynTap starts the SYN tap of interface ifc in g, where the system
// has one (Linux). Without it, connections are still looked up when the
// capture hands their first segment over, only later.
func (c *Collector) startSynTap(ctx context.Context, g *errgroup.Group, ifc string, opts LiveOptions, a *attributor) {
	tap, err := openSynTap(ifc, opts)
	if err != nil {
		c.log.Warn("no SYN tap: connections shorter than the capture's delivery delay may stay unattributed", "interface", ifc, "err", err)
		return
	}
	if tap != nil {
		g.Go(func() error { tap.run(ctx, a); return nil })
	}
}

// livePorts returns the ports the live capture filter passes: 502 and 4840
// always, plus the configured Modbus and OPC UA ports, sorted, without
// duplicates.
func livePorts(p Ports) []uint16 {
	out := liveDefaultPorts()
	out = append(out, p.Modbus...)
	out = append(out, p.OPCUA...)
	slices.Sort(out)
	return slices.Compact(out)
}

// read feeds one live source to the engine until ctx ends.
func (c *Collector) read(ctx context.Context, ifc string, src Source) error {
	for {
		p, err := src.ReadPacket(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("capture on %q: %w", ifc, err)
		}
		c.mu.Lock()
		c.eng.Process(p)
		c.mu.Unlock()
	}
}

// emit flushes the live engine and emits the events due at now, with the
// asset and flow records when all is set. When the engine learned
// something since the last store, the learned state goes with the last
// batch, in one durable step: a stored writer's first-write event is
// stored too.
func (c *Collector) emit(ctx context.Context, emit collectors.Emitter, cp collectors.Checkpointer, now time.Time, all bool) error {
	c.mu.Lock()
	c.eng.Flush(now)
	c.eng.SetCaptureStats(c.captureStats())
	var recs []collectors.Record
	if all {
		recs = c.eng.Records(now)
	} else {
		recs = c.eng.Events()
	}
	gen := c.eng.mb.LearnedGeneration()
	var learned *modbus.Learned
	if gen != c.learnedGen {
		l := c.eng.mb.Learned()
		learned = &l
	}
	c.mu.Unlock()
	var state []byte
	if learned != nil {
		var err error
		if state, err = json.Marshal(learned); err != nil {
			return fmt.Errorf("encode the learned state: %w", err)
		}
	}
	for len(recs) > 0 || state != nil { // in batches: one buffer transaction each
		n := min(len(recs), maxBatchRecords)
		last := n == len(recs) && state != nil
		var err error
		if last {
			err = cp.EmitCheckpoint(ctx, learnedCheckpoint, state, recs...)
		} else {
			err = emit.Emit(ctx, recs[:n]...)
		}
		if err != nil {
			return fmt.Errorf("emit %d records: %w", len(recs), err)
		}
		if last {
			state, c.learnedGen = nil, gen
		}
		recs = recs[n:]
	}
	return nil
}

// learnedCheckpoint is the Checkpointer name under which the live capture
// keeps what its Modbus analyzer learned (modbus.Learned, JSON).
const learnedCheckpoint = "passive.learned"

// restoreLearned gives eng what the last live capture learned. A state that
// cannot be read is logged and left out: the capture starts learning
// afresh. Either way emit then stores eng's state when it changes.
func (c *Collector) restoreLearned(ctx context.Context, cp collectors.Checkpointer, eng *Engine) {
	defer func() { c.learnedGen = eng.mb.LearnedGeneration() }()
	b, err := cp.Checkpoint(ctx, learnedCheckpoint)
	var l modbus.Learned
	if err == nil && b != nil {
		err = json.Unmarshal(b, &l)
	}
	if err != nil {
		c.log.Warn("the Modbus writers learned before are not restored: every writer's first write is reported as from a new master again", "err", err)
		return
	}
	if b == nil {
		return
	}
	eng.mb.Restore(l)
	c.log.Info("restored the Modbus writers learned before", "writers", len(l.Writers), "learning_began", l.Start)
}

// captureStats sums the sources' counters; c.mu must be held.
func (c *Collector) captureStats() SourceStats {
	var s SourceStats
	for _, src := range c.sources {
		st := src.Stats()
		s.Packets += st.Packets
		s.Dropped += st.Dropped
		s.IfDropped += st.IfDropped
	}
	return s
}

func (c *Collector) closeSources() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, src := range c.sources {
		if err := src.Close(); err != nil {
			c.log.Warn("close capture", "interface", name, "err", err)
		}
	}
}

// Stats returns the counters of the engine in use (a file's while it is
// replayed, then the live capture's) including capture drops, and the
// progress of every file, for the heartbeat. It is safe to call while Run
// is running.
func (c *Collector) Stats() EngineStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eng.SetCaptureStats(c.captureStats())
	st := c.eng.Stats()
	st.Files = slices.Clone(c.files)
	return st
}
