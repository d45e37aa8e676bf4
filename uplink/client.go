package uplink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// idlePoll is how often Run asks an empty Source again even without a Ready
// signal, in case a signal was missed.
const idlePoll = time.Second

// Message is one queued record handed to the uplink by a Source.
type Message struct {
	// Seq is the Source's sequence number, passed back to Source.Ack.
	Seq uint64
	// Class is the record class; it becomes the last topic level and must
	// be a valid topic level (see ErrInvalidClass).
	Class string
	// Data is one JSON record. It is copied into the batch payload and not
	// retained after Next's caller is done with it.
	Data []byte
}

// Source is the durable queue that Run drains. The agent adapts its buffer to
// it. Implementations must be safe for use by one Run goroutine while other
// goroutines add records. A Source that also has a method
// Drop(ctx context.Context, reason string, seqs ...uint64) error receives the
// messages that can never be published through it, with ReasonInvalidClass,
// instead of through Ack, so that it does not count them as delivered.
type Source interface {
	// Next returns up to max of the oldest messages with Seq > after, in Seq
	// order, without removing them, stopping before their Data would exceed
	// maxBytes in total (but returning at least one message if any exists).
	// An empty result means the queue holds nothing after after.
	Next(ctx context.Context, after uint64, max int, maxBytes int) ([]Message, error)
	// Ack removes the given messages; unknown sequence numbers are ignored.
	Ack(ctx context.Context, seqs ...uint64) error
	// Ready returns a channel that receives a value after messages are added.
	Ready() <-chan struct{}
}

// ReasonInvalidClass is the reason Run passes to the optional Drop method of
// a Source (see Source) for messages whose class cannot be a topic level.
const ReasonInvalidClass = "invalid_class"

// dropper is the optional method of a Source that removes messages without
// counting them as delivered. Run uses it for messages it can never publish
// (ReasonInvalidClass); a Source without it gets them through Ack.
type dropper interface {
	Drop(ctx context.Context, reason string, seqs ...uint64) error
}

// Stats is a snapshot of a Client's counters, for heartbeat records and
// metrics. Counters start at zero when the Client is created. It marshals to
// JSON with snake_case keys.
type Stats struct {
	// Connected reports whether a broker connection is up.
	Connected bool `json:"connected"`
	// Broker is the URL (without user information) of the current or last
	// connected broker.
	Broker string `json:"broker"`
	// Reconnects counts successful connections after the first one.
	Reconnects uint64 `json:"reconnects"`
	// BatchesPublished and RecordsPublished count batches acknowledged by the
	// broker (PUBACK) and the records in them, duplicates included.
	BatchesPublished uint64 `json:"batches_published"`
	RecordsPublished uint64 `json:"records_published"`
	// LastPublished is when the broker last acknowledged a batch; zero if
	// never.
	LastPublished time.Time `json:"last_published,omitzero"`
	// PublishErrors counts batches and Publish calls that failed: error
	// token, timeout or connection lost before the PUBACK.
	PublishErrors uint64 `json:"publish_errors"`
	// Dropped counts records removed from the Source (by its Drop method,
	// else by Ack) without being published because their class is not a
	// valid topic level.
	Dropped uint64 `json:"dropped"`
	// LastError is the text of the most recent error, "" if none.
	LastError string `json:"last_error,omitempty"`
	// LastErrorTime is when LastError happened.
	LastErrorTime time.Time `json:"last_error_time,omitzero"`
}

// Client publishes records to an MQTT broker at QoS 1. Create it with New,
// drain a Source with Run, and release it with Close. All methods are safe for
// concurrent use.
type Client struct {
	cfg    Config
	tlsCfg *tls.Config
	log    *slog.Logger
	gen    atomic.Uint64 // connection generation counter

	connectMu sync.Mutex // serialises stand-alone connects from Publish

	mu        sync.Mutex
	cur       *conn
	running   bool
	runCancel context.CancelFunc
	runDone   chan struct{}
	closed    bool
	connected bool // at least one connection succeeded
	stats     Stats

	bg tracker // abandoned connection attempts and paho Publish calls

	lim limiter // the bandwidth cap; used by Run's goroutine only
}

// tracker counts background goroutines. Unlike sync.WaitGroup it allows
// starting one while another goroutine waits.
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

// Go runs f in a new goroutine and counts it until f returns.
func (t *tracker) Go(f func()) {
	t.mu.Lock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
	go func() {
		defer func() {
			t.mu.Lock()
			t.n--
			if t.n == 0 {
				close(t.idle)
			}
			t.mu.Unlock()
		}()
		f()
	}()
}

// Idle returns a channel that is closed once no counted goroutine runs.
func (t *tracker) Idle() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return t.idle
}

// New validates cfg, fills in the defaults and loads the TLS files. It does
// not connect: Run and Publish do.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Brokers = append([]string(nil), cfg.Brokers...)
	c := &Client{cfg: cfg, log: cfg.Logger.With("component", "uplink"), lim: limiter{rate: cfg.BytesPerSecond}}
	for _, b := range cfg.Brokers {
		if isTLSBroker(b) {
			tc, err := loadTLS(cfg.TLS)
			if err != nil {
				return nil, err
			}
			c.tlsCfg = tc
			break
		}
	}
	return c, nil
}

// conn is one broker connection: one paho client that is never reconnected,
// so a token of this client can only complete on this connection. Its gen is
// the connection generation.
type conn struct {
	gen    uint64
	broker string // redacted URL
	cli    mqtt.Client

	lost    chan struct{} // closed when the connection is gone
	lostMu  sync.Mutex
	lostErr error
	raw     net.Conn  // network connection, closed to drop the link abruptly
	wire    *wireConn // the TCP connection under raw: byte counter, last read

	charged int64 // bytes of wire.written already charged to the bandwidth cap
}

func (cn *conn) markLost(err error) {
	cn.lostMu.Lock()
	defer cn.lostMu.Unlock()
	select {
	case <-cn.lost:
	default:
		cn.lostErr = err
		close(cn.lost)
	}
}

func (cn *conn) isLost() bool {
	select {
	case <-cn.lost:
		return true
	default:
		return false
	}
}

func (cn *conn) err() error {
	cn.lostMu.Lock()
	defer cn.lostMu.Unlock()
	if cn.lostErr == nil {
		return ErrConnectionLost
	}
	return fmt.Errorf("%w: %w", ErrConnectionLost, cn.lostErr)
}

// drop closes the network connection without an MQTT DISCONNECT, so that the
// broker publishes the last will ("offline").
func (cn *conn) drop(why error) {
	cn.lostMu.Lock()
	raw := cn.raw
	cn.lostMu.Unlock()
	if raw != nil {
		_ = raw.Close()
	}
	cn.markLost(why)
}

// shutdown publishes the retained "offline" status and disconnects cleanly,
// within deadline.
func (c *Client) shutdown(cn *conn, deadline time.Time) {
	if !cn.isLost() {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		if err := c.publishOn(ctx, cn, c.cfg.StatusTopic(), []byte(StatusOffline), true); err != nil {
			c.log.Warn("publish offline status", "broker", cn.broker, "err", err)
		}
		cancel()
		cn.cli.Disconnect(250)
	}
	cn.drop(ErrClosed)
	c.mu.Lock()
	if c.cur == cn {
		c.cur = nil
		c.stats.Connected = false
	}
	c.mu.Unlock()
}

// dialAll tries each broker once, in order, and returns the first connection.
func (c *Client) dialAll(ctx context.Context, clientID string) (*conn, error) {
	var errs []error
	for _, b := range c.cfg.Brokers {
		cn, err := c.dial(ctx, b, clientID)
		if err == nil {
			return cn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.log.Debug("connect to broker failed", "broker", redactURL(b), "err", err)
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// dial connects to one broker and publishes the retained "online" status.
func (c *Client) dial(ctx context.Context, broker, clientID string) (*conn, error) {
	cn := &conn{gen: c.gen.Add(1), broker: redactURL(broker), lost: make(chan struct{})}
	opts := c.clientOptions(broker, clientID)
	opts.SetBinaryWill(c.cfg.StatusTopic(), []byte(StatusOffline), 1, true)
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) { cn.markLost(err) })
	opts.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		raw, wire, err := c.openNet(u)
		if err != nil {
			return nil, err
		}
		cn.lostMu.Lock()
		cn.raw, cn.wire = raw, wire
		cn.lostMu.Unlock()
		return raw, nil
	})
	cn.cli = mqtt.NewClient(opts)
	tok := cn.cli.Connect()
	timer := time.NewTimer(c.cfg.ConnectTimeout + 5*time.Second) // paho bounds it; this is a safety net
	defer timer.Stop()
	abandon := func() {
		c.bg.Go(func() {
			<-tok.Done()
			cn.drop(ErrClosed)
			cn.cli.Disconnect(0)
		})
	}
	select {
	case <-tok.Done():
	case <-ctx.Done():
		abandon()
		return nil, ctx.Err()
	case <-timer.C:
		abandon()
		return nil, fmt.Errorf("connect %s: timed out after %s", cn.broker, c.cfg.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect %s: %w", cn.broker, connectError(err))
	}
	pctx, cancel := context.WithTimeout(ctx, c.cfg.PublishTimeout)
	defer cancel()
	if err := c.publishOn(pctx, cn, c.cfg.StatusTopic(), []byte(StatusOnline), true); err != nil {
		cn.drop(err)
		return nil, fmt.Errorf("publish online status to %s: %w", cn.broker, err)
	}
	c.log.Info("connected to broker", "broker", cn.broker, "generation", cn.gen)
	return cn, nil
}

// clientOptions returns the paho options shared by the publisher and the
// subscriber: a memory store, a clean session and no automatic reconnect.
// TLS is done by openNet, installed as the custom connection function.
func (c *Client) clientOptions(broker, clientID string) *mqtt.ClientOptions {
	opts := mqtt.NewClientOptions().
		AddBroker(broker).
		SetClientID(clientID).
		SetCleanSession(true).
		SetStore(mqtt.NewMemoryStore()).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(c.cfg.KeepAlive).
		SetPingTimeout(c.cfg.PingTimeout).
		SetConnectTimeout(c.cfg.ConnectTimeout).
		SetWriteTimeout(c.cfg.PublishTimeout).
		SetProtocolVersion(4)
	if c.cfg.Username != "" {
		opts.SetUsername(c.cfg.Username)
		opts.SetPassword(c.cfg.Password)
	}
	return opts
}

// openNet opens the TCP or TLS connection to a broker. wire is the TCP
// connection under it, which counts the bytes.
func (c *Client) openNet(u *url.URL) (conn net.Conn, wire *wireConn, err error) {
	d := &net.Dialer{Timeout: c.cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	addr := u.Host
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err // "dial tcp ADDR: ..." names the address
	}
	wire = newWireConn(nc)
	if !isTLSBroker(u.String()) {
		return wire, wire, nil
	}
	tc := c.tlsCfg.Clone()
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	tlsConn := tls.Client(wire, tc)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ConnectTimeout)
	defer cancel()
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return tlsConn, wire, nil
}

// connectError drops paho's "network Error : " wrapper from a connect
// error: the network error it wraps says it all.
func connectError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && errors.Is(err, packets.ErrorNetworkError) {
		for _, e := range j.Unwrap() {
			if e != packets.ErrorNetworkError {
				return e
			}
		}
	}
	return err
}

// publishOn publishes one QoS 1 message on cn and waits for its PUBACK.
func (c *Client) publishOn(ctx context.Context, cn *conn, topic string, payload []byte, retained bool) error {
	if cn.isLost() {
		return cn.err()
	}
	// paho's Publish can block up to its write timeout if the connection
	// drops at the wrong moment: call it aside and keep watching.
	tokc := make(chan mqtt.Token, 1)
	c.bg.Go(func() { tokc <- cn.cli.Publish(topic, 1, retained, payload) })
	timer := time.NewTimer(c.cfg.PublishTimeout)
	defer timer.Stop()
	var tok mqtt.Token
	select {
	case tok = <-tokc:
	case <-ctx.Done():
		return fmt.Errorf("publish %q: %w", topic, ctx.Err())
	case <-cn.lost:
		return fmt.Errorf("publish %q: %w", topic, cn.err())
	case <-timer.C:
		return fmt.Errorf("publish %q: %w", topic, ErrPublishTimeout)
	}
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return fmt.Errorf("publish %q: %w", topic, ctx.Err())
	case <-cn.lost:
		// The PUBACK may have arrived just before the loss.
		select {
		case <-tok.Done():
		default:
			return fmt.Errorf("publish %q: %w", topic, cn.err())
		}
	case <-timer.C:
		return fmt.Errorf("publish %q: %w", topic, ErrPublishTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("publish %q: %w", topic, err)
	}
	return nil
}

// Publish publishes payload on topic at QoS 1 and returns nil only after the
// broker's PUBACK arrived on the connection that sent it. It waits at most
// until ctx is done or Config.PublishTimeout passes. While Run is active it
// uses Run's connection and returns ErrNotConnected during a reconnect;
// otherwise it connects on first use (trying the brokers in order once).
// The payload is sent as is: Config.Gzip does not apply.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte, retained bool) error {
	cn, err := c.publishConn(ctx)
	if err != nil {
		c.recordErr(err)
		return err
	}
	if err := c.publishOn(ctx, cn, topic, payload, retained); err != nil {
		c.mu.Lock()
		c.stats.PublishErrors++
		c.mu.Unlock()
		c.recordErr(err)
		return err
	}
	return nil
}

// publishConn returns the live connection, connecting if Run is not active.
func (c *Client) publishConn(ctx context.Context) (*conn, error) {
	c.connectMu.Lock()
	defer c.connectMu.Unlock()
	c.mu.Lock()
	closed, running, cur := c.closed, c.running, c.cur
	c.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case cur != nil && !cur.isLost():
		return cur, nil
	case running:
		return nil, ErrNotConnected
	}
	cn, err := c.dialAll(ctx, c.cfg.ClientID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.running {
		go c.shutdown(cn, time.Now().Add(c.cfg.FlushTimeout))
		if c.closed {
			return nil, ErrClosed
		}
		return nil, ErrNotConnected
	}
	c.setConnLocked(cn)
	return cn, nil
}

func (c *Client) setConnLocked(cn *conn) {
	if c.connected {
		c.stats.Reconnects++
	}
	c.connected = true
	c.cur = cn
	c.stats.Connected = true
	c.stats.Broker = cn.broker
}

func (c *Client) recordErr(err error) {
	c.mu.Lock()
	c.stats.LastError = err.Error()
	c.stats.LastErrorTime = time.Now()
	c.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Close stops Run (waiting for its bounded flush), publishes the retained
// "offline" status on a connection that Publish opened, and disconnects.
// It is safe to call more than once and after a failed start; later calls
// return nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	running, cancel, done, cur := c.running, c.runCancel, c.runDone, c.cur
	c.mu.Unlock()
	if running {
		cancel()
		<-done
	} else if cur != nil {
		c.shutdown(cur, time.Now().Add(c.cfg.FlushTimeout))
	}
	// Background goroutines are abandoned connection attempts and paho
	// Publish calls of dead connections; paho bounds each by ConnectTimeout
	// or PublishTimeout (its write timeout). Wait for them, but no longer than
	// FlushTimeout: the stragglers finish on their own and touch nothing.
	t := time.NewTimer(c.cfg.FlushTimeout)
	defer t.Stop()
	select {
	case <-c.bg.Idle():
	case <-t.C:
		c.log.Debug("close: paho calls still pending, not waiting for them")
	}
	return nil
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
