package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/uplink"
)

// serveMetrics serves Prometheus-format self-metrics on addr (validated to be
// a loopback address by the config) until ctx is done.
func serveMetrics(ctx context.Context, addr string, buf *buffer.Buffer, up *uplink.Client, log *slog.Logger) error {
	set := metrics.NewSet()
	gauge := func(name string, f func(buffer.Stats) float64) {
		set.NewGauge(name, func() float64 { return f(buf.Stats()) })
	}
	gauge("edgeward_buffer_queued", func(s buffer.Stats) float64 { return float64(s.Queued) })
	gauge("edgeward_buffer_accepted_total", func(s buffer.Stats) float64 { return float64(s.Accepted) })
	gauge("edgeward_buffer_delivered_total", func(s buffer.Stats) float64 { return float64(s.Delivered) })
	gauge("edgeward_buffer_coalesced_total", func(s buffer.Stats) float64 { return float64(s.Coalesced) })
	gauge("edgeward_buffer_bytes", func(s buffer.Stats) float64 { return float64(s.Bytes) })
	gauge("edgeward_buffer_file_bytes", func(s buffer.Stats) float64 { return float64(s.FileBytes) })
	// Drops by reason: the buffer's own reasons, and "other" for the
	// uplink's (records the platform can never take).
	reasons := []string{buffer.ReasonMaxBytes, buffer.ReasonMaxAge, buffer.ReasonMaxEntries, buffer.ReasonCorrupt, buffer.ReasonDiskFull}
	for _, reason := range reasons {
		gauge(fmt.Sprintf("edgeward_buffer_dropped_total{reason=%q}", reason), func(s buffer.Stats) float64 { return float64(s.Dropped[reason]) })
	}
	gauge(`edgeward_buffer_dropped_total{reason="other"}`, func(s buffer.Stats) float64 {
		var n uint64
		for r, v := range s.Dropped {
			if !slices.Contains(reasons, r) {
				n += v
			}
		}
		return float64(n)
	})
	if up != nil {
		set.NewGauge("edgeward_uplink_connected", func() float64 {
			if up.Stats().Connected {
				return 1
			}
			return 0
		})
		set.NewGauge("edgeward_uplink_records_published_total", func() float64 { return float64(up.Stats().RecordsPublished) })
		set.NewGauge("edgeward_uplink_reconnects_total", func() float64 { return float64(up.Stats().Reconnects) })
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		set.WritePrometheus(w)
		metrics.WriteProcessMetrics(w)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %q: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("serving metrics", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
