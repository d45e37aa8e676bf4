package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/edgeward/edgeward/agent/internal/config"
	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/uplink"
)

func cmdRun(ctx context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "run", "[-c FILE]")
	if err := fs.parse(args); err != nil {
		return err
	}
	c, err := loadRunConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(env.stderr, c.Log)
	if managed, err := runUnderManager(c, *cfgPath, log); managed {
		return err
	}
	return runAgent(ctx, c, *cfgPath, log)
}

// newLogger builds the agent's structured logger.
func newLogger(w io.Writer, c config.LogConfig) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level.SlogLevel()}
	if c.Format == config.FormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// runAgent is the daemon: it opens the buffer, starts the collectors, the
// heartbeat and the uplink, and on ctx cancellation stops them: the
// collectors stop and the uplink starts its bounded flush (in-flight PUBACKs,
// retained "offline") at the same time; runAgent waits for the collectors,
// then for the uplink, writes the final stats snapshot and closes the
// buffer. Records still queued stay in the buffer for the next start.
// cfgPath is the -c argument ("" for the default), for the hint that tells
// how to see the records.
func runAgent(ctx context.Context, c config.Config, cfgPath string, log *slog.Logger) error {
	start := time.Now()
	setMemorySettings(c)
	hostname, _ := os.Hostname()
	s := newSettings(c, hostname, Version)
	s.buffer.Logger = log.With("component", "buffer")
	buf, err := buffer.Open(s.bufPath, s.buffer)
	if err != nil {
		return fmt.Errorf("open buffer: %w", err)
	}
	defer buf.Close()

	rec := &recorder{buf: buf, agent: s.agent, now: time.Now}
	advisories, err := loadAdvisories(c.Advisories.File, s.bufPath, log)
	if err != nil {
		return err
	}
	log.Info("known-vulnerability advisories loaded", "list", advisories.Summary())
	emit := newVulnEmitter(rec, advisories, log)
	colls, err := buildCollectors(c, s, log)
	if err != nil {
		return err
	}
	log.Info("edgeward starting", "version", Version, "agent_id", s.agent.ID,
		"enterprise", s.agent.Enterprise, "site", s.agent.Site, "buffer", s.bufPath, "collectors", names(colls))
	cflag := ""
	if cfgPath != "" {
		cflag = " -c " + cfgPath
	}
	log.Info(fmt.Sprintf("see the records with 'edgeward buffer dump%s' (stored, not yet delivered) or 'edgeward listen%s' (as the broker receives them)", cflag, cflag))

	var up *uplink.Client
	if len(s.uplink.Brokers) == 0 {
		log.Warn("no uplink configured (uplink.brokers is empty): records are kept in the buffer until one is configured")
	} else {
		s.uplink.Logger = log
		if up, err = uplink.New(s.uplink); err != nil {
			return fmt.Errorf("configure uplink: %w", err)
		}
		defer up.Close()
	}

	collCtx, stopCollectors := context.WithCancel(ctx)
	defer stopCollectors()
	var wg sync.WaitGroup
	for _, col := range colls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			supervise(collCtx, col, withCycleLog(emit, col.Name(), log), log.With("collector", col.Name()))
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		reportRecoveries(collCtx, buf, rec, log)
	}()
	hb := &heartbeat{start: start, buf: buf, up: up, colls: colls, key: s.agent.ID}
	wg.Add(1)
	go func() {
		defer wg.Done()
		hb.run(collCtx, rec, s.heartbeat, log)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		publishStats(collCtx, buf, s.bufPath, log)
	}()
	if c.Metrics.Listen != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serveMetrics(collCtx, c.Metrics.Listen, buf, up, log); err != nil {
				log.Error("metrics endpoint stopped", "err", err)
			}
		}()
	}

	upDone := make(chan error, 1)
	if up != nil {
		go func() { upDone <- up.Run(ctx, bufferSource{buf}) }()
	} else {
		close(upDone)
	}

	<-ctx.Done()
	log.Info("shutting down")
	stopCollectors()
	if !waitTimeout(&wg, collectorStopTimeout) {
		log.Error("collectors did not stop in time; shutting down without them", "timeout", collectorStopTimeout)
	}
	if err := <-upDone; err != nil && !errors.Is(err, context.Canceled) {
		log.Error("uplink stopped", "err", err)
	}
	st := buf.Stats()
	if err := writeStatsFile(s.bufPath, st, time.Now()); err != nil {
		log.Warn("write final buffer stats", "err", err)
	}
	log.Info("stopped", "queued", st.Queued, "accepted", st.Accepted, "delivered", st.Delivered)
	return nil
}

// gcPercent is the garbage collector's target (GOGC) the agent runs with
// unless GOGC is set. The idle agent's heap is a megabyte or two of live data
// and, while a host or baseline scan runs, its garbage: with Go's default of
// 100 the heap grows to twice the live data (at least 4 MB) between
// collections, and the pages that garbage occupied stay resident after it is
// freed. At 50 the idle agent's start-up peak is 1.0-2.8 MiB lower (18.6-20.2
// -> 17.4-17.6 MiB VmHWM on a Debian host, docs/footprint.md); the capture path
// allocates less than one object per hundred packets, so replay and capture
// run as fast (measured with BenchmarkReplay and BenchmarkReplayMixed).
const gcPercent = 50

// setMemorySettings sets the Go runtime's soft memory limit from
// limits.memory unless GOMEMLIMIT is set: limits.memory less what the
// process's resident set holds outside the Go heap (the mapped binary, the
// buffer file's memory map), a quarter of it up to 16 MiB, so that the
// resident set stays near limits.memory. It sets the collector's target to
// gcPercent unless GOGC is set.
func setMemorySettings(c config.Config) {
	if m := c.Limits.Memory.Bytes(); m > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(m - min(m/4, 16<<20))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// collectorStopTimeout bounds how long shutdown waits for collectors that
// ignore cancellation; what they had emitted is already durable.
const collectorStopTimeout = 10 * time.Second

// waitTimeout waits for wg and reports whether it finished within d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// supervise runs one collector until ctx is done, restarting it with backoff
// when it fails, so that one failing collector never stops the others.
func supervise(ctx context.Context, col collectors.Collector, emit collectors.Emitter, log *slog.Logger) {
	backoff := time.Second
	for {
		err := col.Run(ctx, emit)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil: // its work is done (capture files replayed)
			log.Info("collector finished")
			return
		case errors.Is(err, collectors.ErrNotApplicable):
			log.Debug("collector not applicable on this host", "err", err)
			return
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission), errors.Is(err, passive.ErrUnknownFormat):
			// Retrying cannot help: a file or a privilege is missing.
			log.Error("collector stopped; fix the configuration or the permissions and restart the agent", "err", err)
			return
		}
		log.Error("collector stopped; restarting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Minute)
	}
}

func names(colls []collectors.Collector) []string {
	out := make([]string, len(colls))
	for i, c := range colls {
		out[i] = c.Name()
	}
	return out
}

// bufferSource adapts the buffer to the uplink's Source interface.
type bufferSource struct{ b *buffer.Buffer }

var _ uplink.Source = bufferSource{}

// Next implements uplink.Source.
func (s bufferSource) Next(ctx context.Context, after uint64, max, maxBytes int) ([]uplink.Message, error) {
	es, err := s.b.Next(ctx, after, max, maxBytes)
	if err != nil {
		return nil, err
	}
	out := make([]uplink.Message, len(es))
	for i, e := range es {
		out[i] = uplink.Message{Seq: e.Seq, Class: e.Stream, Data: e.Data}
	}
	return out, nil
}

// Ack implements uplink.Source: the broker has the records.
func (s bufferSource) Ack(ctx context.Context, seqs ...uint64) error { return s.b.Ack(ctx, seqs...) }

// Drop removes records the uplink can never publish, counted as dropped
// under reason rather than as delivered.
func (s bufferSource) Drop(ctx context.Context, reason string, seqs ...uint64) error {
	return s.b.Drop(ctx, reason, seqs...)
}

// Ready implements uplink.Source.
func (s bufferSource) Ready() <-chan struct{} { return s.b.Ready() }
