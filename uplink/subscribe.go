package uplink

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// maxGunzip bounds the decompressed size of one "/gz" message in Subscribe.
const maxGunzip = 64 << 20

// Subscribe connects with cfg (failover, TLS and credentials as for Run),
// subscribes to filter at QoS 1 and calls handle for every message until ctx
// is done, then returns nil. Messages on topics ending in GzipTopicSuffix are
// decompressed and passed to handle with the suffix removed from the topic;
// a message that does not decompress is logged and skipped. handle is called
// from one goroutine at a time and must not block for long.
//
// The session is clean and the client reconnects (and resubscribes) on its
// own after a loss; messages published while it is disconnected are missed.
// Its client id is Config.ClientID + "-listen" (unless ClientID already ends
// in "-listen"), or a random
// "edgeward-listen-…" id when ClientID is empty, so that it never evicts the
// agent itself. It returns an error if cfg is invalid or no broker accepts
// the first connection.
func Subscribe(ctx context.Context, cfg Config, filter string, handle func(topic string, payload []byte)) error {
	c, err := New(cfg)
	if err != nil {
		return err
	}
	id := cfg.ClientID
	if id == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		id = "edgeward-listen-" + hex.EncodeToString(b[:])
	} else if !strings.HasSuffix(id, "-listen") {
		id += "-listen"
	}
	msgs := make(chan mqtt.Message, 256)
	onMsg := func(_ mqtt.Client, m mqtt.Message) {
		select {
		case msgs <- m:
		case <-ctx.Done():
		}
	}
	opts := c.clientOptions("", id)
	opts.Servers = nil
	for _, b := range c.cfg.Brokers {
		opts.AddBroker(b)
	}
	opts.SetAutoReconnect(true).
		SetMaxReconnectInterval(c.cfg.MaxBackoff).
		SetOrderMatters(true).
		SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			conn, _, err := c.openNet(u)
			return conn, err
		}).
		SetOnConnectHandler(func(cl mqtt.Client) {
			// Resubscribe after every (re)connect: the session is clean.
			// paho runs this handler in its own goroutine: waiting is fine.
			tok := cl.Subscribe(filter, 1, onMsg)
			if tok.WaitTimeout(c.cfg.PublishTimeout) && tok.Error() != nil {
				c.log.Error("subscribe failed", "filter", filter, "err", tok.Error())
			}
		})
	cli := mqtt.NewClient(opts)
	tok := cli.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		<-tok.Done() // bounded by ConnectTimeout per broker
		cli.Disconnect(0)
		return nil
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("connect for subscribe: %w", connectError(err))
	}
	defer cli.Disconnect(250)
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			topic, payload := m.Topic(), m.Payload()
			if strings.HasSuffix(topic, GzipTopicSuffix) {
				raw, err := gunzip(payload)
				if err != nil {
					c.log.Warn("skip undecodable message", "topic", topic, "err", err)
					continue
				}
				topic, payload = strings.TrimSuffix(topic, GzipTopicSuffix), raw
			}
			handle(topic, payload)
		}
	}
}

// gunzip decompresses b, refusing output larger than maxGunzip.
func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("gunzip payload: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxGunzip+1))
	if err != nil {
		return nil, fmt.Errorf("gunzip payload: %w", err)
	}
	if len(out) > maxGunzip {
		return nil, fmt.Errorf("gunzip payload: larger than %d bytes", maxGunzip)
	}
	return out, nil
}
