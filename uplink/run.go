package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// flight is a batch handed to the connection's sender, then waiting for its
// PUBACK.
type flight struct {
	gen      uint64 // connection generation that sent it
	class    string
	topic    string
	payload  []byte
	seqs     []uint64
	sent     chan struct{} // closed by the sender once tok or err is set
	tok      mqtt.Token    // nil if the sender did not publish (err set)
	err      error
	deadline time.Time // for the PUBACK, counted from the hand-over
}

// done reports whether f's outcome is known.
func (f *flight) done() bool {
	select {
	case <-f.sent:
		return f.tok == nil || tokenDone(f.tok)
	default:
		return false
	}
}

// wait returns a channel that is closed when f makes progress: sent, or,
// once sent, done.
func (f *flight) wait() <-chan struct{} {
	select {
	case <-f.sent:
		if f.tok == nil {
			return f.sent
		}
		return f.tok.Done()
	default:
		return f.sent
	}
}

// startSender starts the goroutine that calls paho's Publish for cn in
// order. paho's Publish can block up to its write timeout when the connection
// drops at the wrong moment, so the drain loop never calls it itself and
// keeps watching the connection. The goroutine exits when sendq is closed.
func (c *Client) startSender(cn *conn, sendq <-chan *flight) {
	c.bg.Go(func() {
		for f := range sendq {
			if cn.isLost() {
				f.err = cn.err() // publishing now could block in paho
			} else {
				f.tok = cn.cli.Publish(f.topic, 1, false, f.payload)
			}
			f.payload = nil
			close(f.sent)
		}
	})
}

// Run connects to the first broker that accepts (trying Config.Brokers in
// order, with jittered exponential backoff between rounds) and drains src
// until ctx is cancelled: it reads the oldest messages, publishes them as
// batches at QoS 1 with at most Config.InFlight batches unacknowledged, and
// acknowledges a batch's sequence numbers to src only after its PUBACK
// arrived on the connection that sent it. After any connection loss, publish
// error or PUBACK timeout it drops the connection, reconnects and reads src
// again from the start, so everything unacknowledged is sent again.
//
// When ctx is cancelled Run waits up to Config.FlushTimeout for the PUBACKs
// of batches in flight (acknowledging those that arrive), publishes the
// retained "offline" status, disconnects and returns nil. It returns
// ErrClosed after Close and ErrRunning if another Run is active; it never
// returns because of a broker or Source error (see Stats.LastError).
func (c *Client) Run(ctx context.Context, src Source) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.running:
		c.mu.Unlock()
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	c.running, c.runCancel, c.runDone = true, cancel, done
	standalone := c.cur
	c.cur = nil
	c.mu.Unlock()
	defer func() {
		cancel()
		c.mu.Lock()
		c.running, c.runCancel, c.runDone = false, nil, nil
		c.mu.Unlock()
		close(done)
	}()
	if standalone != nil {
		// A connection opened by Publish: Run opens its own.
		standalone.cli.Disconnect(250)
		standalone.drop(ErrClosed)
	}

	attempt := 0
	for {
		cn, err := c.dialAll(ctx, c.cfg.ClientID)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.recordErr(err)
			d := backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
			// Warn on the first failure and every tenth after it, so that a
			// long outage does not flood the log; the rest at Debug.
			level := slog.LevelDebug
			if attempt%10 == 0 {
				level = slog.LevelWarn
			}
			c.log.Log(ctx, level, "no broker reachable, backing off", "err", err, "retry_in", d, "attempt", attempt+1)
			attempt++
			if !sleep(ctx, d) {
				return nil
			}
			continue
		}
		c.mu.Lock()
		c.setConnLocked(cn)
		c.mu.Unlock()

		up := time.Now()
		delivered, err := c.drain(ctx, cn, src)
		if ctx.Err() != nil {
			return nil // drain flushed and shut down
		}
		cn.drop(err)
		c.mu.Lock()
		if c.cur == cn {
			c.cur = nil
			c.stats.Connected = false
		}
		c.mu.Unlock()
		c.recordErr(err)
		if delivered || time.Since(up) >= c.cfg.KeepAlive {
			// The broker was reachable a moment ago: retry at the shortest
			// backoff. A broker that drops every connection at once (before
			// delivering anything or a keep-alive period) backs off as usual.
			attempt = 0
		}
		d := backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
		c.log.Warn("broker connection ended, reconnecting", "broker", cn.broker, "err", err, "retry_in", d)
		attempt++
		if !sleep(ctx, d) {
			return nil
		}
	}
}

// drain publishes from src on cn until the connection fails (the error is
// returned) or ctx is cancelled (then it flushes, shuts the connection down
// and returns nil). delivered reports whether any batch was acknowledged.
func (c *Client) drain(ctx context.Context, cn *conn, src Source) (delivered bool, err error) {
	var (
		after     uint64    // highest Seq read on this connection
		pending   []batch   // read, not yet published
		sendAt    time.Time // when pending[0] may be sent (bandwidth cap)
		window    []*flight // published, waiting for PUBACK, in publish order
		idle      bool      // the last Next returned nothing
		nextFails int
		retryAt   time.Time // next Next after a Source error
		inFlight  = c.cfg.InFlight
		maxBytes  = c.batchBytes()
		sendq     = make(chan *flight, inFlight) // holds only flights in window
		acks      = c.startAcker(src, inFlight)
	)
	// busy is the window's occupancy: batches waiting for their PUBACK and
	// batches acknowledged by the broker but not yet by src.
	busy := func() int { return len(window) + int(acks.pending.Load()) }
	c.startSender(cn, sendq)
	defer close(sendq)
	defer acks.close() // the next connection reads src after every ack landed
	for {
		// Settle acknowledged batches strictly in publish order: a batch
		// after a failed one is never acked, so per-class order survives.
		for len(window) > 0 && window[0].done() {
			if err := c.settle(cn, window[0], acks); err != nil {
				return delivered, err
			}
			delivered = true
			window[0] = nil
			window = window[1:]
		}
		if ctx.Err() != nil {
			c.flush(cn, window, acks)
			return delivered, nil
		}
		if cn.isLost() {
			c.countPublishErrors(len(window))
			return delivered, cn.err()
		}
		now := time.Now()
		if len(window) > 0 && now.After(window[0].deadline) {
			c.countPublishErrors(len(window))
			return delivered, fmt.Errorf("publish %s batch: %w", window[0].class, ErrPublishTimeout)
		}
		c.chargeWire(cn, now)
		if silent := cn.wire.silentFor(now); silent > c.linkTimeout() {
			// paho's keep-alive should have noticed; this also catches a
			// PINGREQ stuck behind a write that never completes.
			c.countPublishErrors(len(window))
			return delivered, fmt.Errorf("%w: nothing received for %s", ErrConnectionLost, silent.Round(time.Second))
		}

		// Read.
		if len(pending) == 0 && !idle && busy() < inFlight && !now.Before(retryAt) {
			msgs, err := src.Next(ctx, after, c.cfg.BatchMaxRecords, maxBytes)
			switch {
			case err != nil && ctx.Err() != nil:
				continue
			case err != nil:
				err = fmt.Errorf("read source: %w", err)
				c.recordErr(err)
				retryAt = now.Add(backoff(nextFails, c.cfg.MinBackoff, c.cfg.MaxBackoff))
				nextFails++
				c.log.Warn("source read failed", "err", err, "retry_at", retryAt)
			case len(msgs) == 0:
				nextFails = 0
				idle = true
			default:
				nextFails = 0
				for _, m := range msgs {
					after = max(after, m.Seq)
				}
				var bad []Message
				pending, bad = splitBatches(msgs, c.cfg.BatchMaxRecords, maxBytes)
				c.dropInvalid(ctx, src, bad)
			}
		}

		// Publish.
		sendAt = time.Time{}
		for len(pending) > 0 && busy() < inFlight {
			b := &pending[0]
			if b.topic == "" { // first look at this batch: compress once
				b.topic = c.cfg.Topic(b.class)
				if c.cfg.Gzip {
					b.topic += GzipTopicSuffix
					b.payload = gzipBytes(b.payload)
				}
			}
			now := time.Now()
			size := publishSize(b.topic, len(b.payload))
			if d := c.lim.delay(now, size); d > 0 {
				sendAt = now.Add(d)
				break
			}
			c.lim.charge(now, size)
			cn.charged += int64(size)
			f := &flight{
				gen: cn.gen, class: b.class, topic: b.topic, payload: b.payload, seqs: b.seqs,
				sent: make(chan struct{}), deadline: now.Add(c.cfg.PublishTimeout),
			}
			window = append(window, f)
			sendq <- f // never blocks: sendq holds at most len(window)-1 < inFlight
			pending[0] = batch{}
			pending = pending[1:]
		}
		if len(pending) == 0 && !idle && busy() < inFlight && !time.Now().Before(retryAt) {
			continue // read more at once
		}

		// Wait for something to change.
		wake := time.Now().Add(idlePoll)
		var headDone <-chan struct{}
		if len(window) > 0 {
			headDone = window[0].wait()
			wake = earliest(wake, window[0].deadline)
		}
		var ready <-chan struct{}
		if idle {
			ready = src.Ready()
		}
		if retryAt.After(now) {
			wake = earliest(wake, retryAt)
		}
		if !sendAt.IsZero() {
			wake = earliest(wake, sendAt)
		}
		timer := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
		case <-cn.lost:
		case <-headDone:
		case <-acks.acked:
		case <-ready:
			idle = false
		case <-timer.C:
			idle = false
		}
		timer.Stop()
	}
}

// batchBytes is the largest batch payload: Config.BatchMaxBytes, or less
// under a bandwidth cap so that one PUBLISH fits the cap's bucket.
func (c *Client) batchBytes() int {
	if c.lim.rate <= 0 {
		return c.cfg.BatchMaxBytes
	}
	room := c.lim.burstBytes() - publishSize(c.cfg.Topic("baseline")+GzipTopicSuffix, 0)
	return max(min(c.cfg.BatchMaxBytes, room), 1)
}

// chargeWire charges the bandwidth cap with the bytes cn wrote beyond the
// PUBLISH sizes already charged: CONNECT, the status messages, PINGREQs,
// TLS handshakes and record overhead.
func (c *Client) chargeWire(cn *conn, now time.Time) {
	if cn.wire == nil {
		return
	}
	if w := cn.wire.written.Load(); w > cn.charged {
		c.lim.charge(now, int(w-cn.charged))
		cn.charged = w
	}
}

// linkTimeout is how long a connection may stay silent before drain gives it
// up: the keep-alive, paho's check period twice, and the ping timeout. paho
// itself notices sooner unless its PINGREQ write is stuck.
func (c *Client) linkTimeout() time.Duration {
	check := 5 * time.Second // paho's keep-alive check period
	if c.cfg.KeepAlive <= 10*time.Second {
		check = c.cfg.KeepAlive / 4
	}
	return c.cfg.KeepAlive + 2*check + c.cfg.PingTimeout
}

// settle handles a completed batch: an error ends the connection, success
// counts it and hands its sequence numbers to the acker.
func (c *Client) settle(cn *conn, f *flight, acks *acker) error {
	err := f.err
	if err == nil {
		err = f.tok.Error()
	}
	if err != nil {
		c.countPublishErrors(1)
		return fmt.Errorf("publish %s batch: %w", f.class, err)
	}
	if f.gen != cn.gen { // cannot happen with one paho client per connection; kept as a guard
		c.countPublishErrors(1)
		return fmt.Errorf("publish %s batch: %w: acknowledged on another connection", f.class, ErrConnectionLost)
	}
	c.mu.Lock()
	c.stats.BatchesPublished++
	c.stats.RecordsPublished += uint64(len(f.seqs))
	c.stats.LastPublished = time.Now()
	c.mu.Unlock()
	acks.push(f.seqs)
	return nil
}

// acker acknowledges delivered batches to the Source in its own goroutine,
// so that the drain loop keeps publishing while the Source commits (an fsync
// per Ack for the buffer), and folds the batches that were settled meanwhile
// into one Ack. A failed Ack leaves the records queued: they are sent again
// after the next reconnect, a duplicate, not a loss.
//
// Batches handed to the acker count against the in-flight window until their
// Ack returns, so that a crash repeats at most Config.InFlight batches.
type acker struct {
	q       chan []uint64
	done    chan struct{}
	pending atomic.Int64  // batches handed over whose Ack has not returned
	acked   chan struct{} // receives a value after each Ack
}

func (c *Client) startAcker(src Source, depth int) *acker {
	a := &acker{q: make(chan []uint64, depth), done: make(chan struct{}), acked: make(chan struct{}, 1)}
	go func() {
		defer close(a.done)
		for seqs := range a.q {
			n := int64(1)
		more:
			for {
				select {
				case s, ok := <-a.q:
					if !ok {
						break more
					}
					seqs = append(seqs, s...)
					n++
				default:
					break more
				}
			}
			// Ack even while shutting down: the broker has the batches.
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.PublishTimeout)
			if err := src.Ack(ctx, seqs...); err != nil {
				err = fmt.Errorf("ack %d records: %w", len(seqs), err)
				c.recordErr(err)
				c.log.Warn("source ack failed", "err", err)
			}
			cancel()
			a.pending.Add(-n)
			select {
			case a.acked <- struct{}{}:
			default:
			}
		}
	}()
	return a
}

// push hands a delivered batch's sequence numbers to the acker.
func (a *acker) push(seqs []uint64) {
	a.pending.Add(1)
	a.q <- seqs
}

// close waits until every batch handed over is acknowledged to the Source.
func (a *acker) close() {
	close(a.q)
	<-a.done
}

// flush waits up to Config.FlushTimeout for the batches in flight, hands the
// leading ones that were acknowledged to the acker, then shuts cn down.
func (c *Client) flush(cn *conn, window []*flight, acks *acker) {
	deadline := time.Now().Add(c.cfg.FlushTimeout)
	timer := time.NewTimer(c.cfg.FlushTimeout)
	defer timer.Stop()
wait:
	for _, f := range window {
		for !f.done() {
			select {
			case <-f.wait():
			case <-cn.lost:
				if !f.done() {
					break wait
				}
			case <-timer.C:
				break wait
			}
		}
		if err := c.settle(cn, f, acks); err != nil {
			break
		}
	}
	if left := time.Until(deadline); left < time.Second {
		deadline = time.Now().Add(time.Second)
	}
	c.shutdown(cn, deadline)
	c.log.Info("uplink stopped", "broker", cn.broker)
}

// dropInvalid removes and counts messages that cannot be published: through
// the Source's Drop method when it has one, else through Ack.
func (c *Client) dropInvalid(ctx context.Context, src Source, bad []Message) {
	if len(bad) == 0 {
		return
	}
	seqs := make([]uint64, len(bad))
	for i, m := range bad {
		seqs[i] = m.Seq
	}
	err := fmt.Errorf("%w %q: dropped %d records", ErrInvalidClass, bad[0].Class, len(bad))
	c.log.Error("dropping records with an invalid class", "err", err)
	c.mu.Lock()
	c.stats.Dropped += uint64(len(bad))
	c.mu.Unlock()
	c.recordErr(err)
	var derr error
	if d, ok := src.(dropper); ok {
		derr = d.Drop(ctx, ReasonInvalidClass, seqs...)
	} else {
		derr = src.Ack(ctx, seqs...)
	}
	if derr != nil {
		c.recordErr(errors.Join(err, fmt.Errorf("remove dropped records: %w", derr)))
	}
}

func (c *Client) countPublishErrors(n int) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	c.stats.PublishErrors += uint64(n)
	c.mu.Unlock()
}

func tokenDone(t mqtt.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
