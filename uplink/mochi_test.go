package uplink_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/edgeward/edgeward/uplink"
)

// The TestMochi* tests run the uplink against the embedded mochi-mqtt
// broker with TLS, mutual TLS and a broker restart. They need no external
// program, so they are the broker tests of the Windows lane (where
// mosquitto, a Linux program, cannot be started), and they run on Linux too.

// mochiBroker is an embedded broker on a fixed loopback port that can be
// stopped and started again on the same port; every batch published to it
// is handed to got.
type mochiBroker struct {
	t    testing.TB
	addr string
	tls  *tls.Config
	got  *collector

	mu  sync.Mutex
	srv *mochi.Server
}

// startMochiTLS starts a broker for mode (plainTLS, serverTLS or mutualTLS
// with the certificates of p) and returns it running.
func startMochiTLS(t testing.TB, mode tlsMode, p *pki) *mochiBroker {
	t.Helper()
	b := &mochiBroker{t: t, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), got: newCollector()}
	if mode != plainTLS {
		cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
		if err != nil {
			t.Fatalf("load server certificate: %v", err)
		}
		b.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if mode == mutualTLS {
			pem, err := os.ReadFile(p.CA)
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			b.tls.ClientCAs, b.tls.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
	}
	b.start()
	t.Cleanup(b.stop)
	return b
}

// URL is the broker URL for the uplink.
func (b *mochiBroker) URL() string {
	if b.tls != nil {
		return "ssl://" + b.addr
	}
	return "tcp://" + b.addr
}

// start serves on b.addr, retrying while the port is still being released
// by the previous instance.
func (b *mochiBroker) start() {
	b.t.Helper()
	s := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler), InlineClient: true})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		b.t.Fatalf("add hook: %v", err)
	}
	var ln net.Listener
	deadline := time.Now().Add(waitFor)
	for {
		var err error
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("listen on %s again: %v", b.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b.tls != nil {
		ln = tls.NewListener(ln, b.tls)
	}
	if err := s.AddListener(listeners.NewNet("t", ln)); err != nil {
		b.t.Fatalf("add listener: %v", err)
	}
	if err := s.Serve(); err != nil {
		b.t.Fatalf("serve: %v", err)
	}
	err := s.Subscribe("edgeward/#", 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		b.got.add(pk.TopicName, pk.Payload)
	})
	if err != nil {
		b.t.Fatalf("inline subscribe: %v", err)
	}
	b.mu.Lock()
	b.srv = s
	b.mu.Unlock()
}

// stop closes the broker and every client connection; it may be called
// more than once.
func (b *mochiBroker) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		_ = b.srv.Close()
		b.srv = nil
	}
}

func TestMochiTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	for _, tc := range []struct {
		name      string
		mode      tlsMode
		tls       uplink.TLSConfig
		delivered bool
		errHas    string // in Stats.LastError when not delivered
	}{
		{"server-tls", serverTLS, uplink.TLSConfig{CAFile: p.CA}, true, ""},
		{"mutual-tls", mutualTLS, uplink.TLSConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}, true, ""},
		{"wrong-ca", serverTLS, uplink.TLSConfig{CAFile: p.OtherCA}, false, "certificate"},
		{"mtls-without-client-cert", mutualTLS, uplink.TLSConfig{CAFile: p.CA}, false, "connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startMochiTLS(t, tc.mode, p)
			cfg := baseConfig(b.URL())
			cfg.TLS = tc.tls
			src := newMemSource()
			const n = 50
			putRecords(src, "tls", n, 10)
			c, err := uplink.New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer c.Close()
			stop := runClient(t, c, src)
			if tc.delivered {
				waitEmpty(t, src)
				b.got.waitDistinct(t, n)
				stop()
				return
			}
			deadline := time.Now().Add(waitFor)
			for c.Stats().LastError == "" && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			stop()
			st := c.Stats()
			t.Logf("refused as expected: %s", st.LastError)
			if !strings.Contains(st.LastError, tc.errHas) {
				t.Errorf("LastError = %q, want it to mention %q", st.LastError, tc.errHas)
			}
			if st.RecordsPublished != 0 || src.Acked() != 0 || src.Len() != n || b.got.distinct() != 0 {
				t.Errorf("refused connection delivered something: stats %+v, acked %d, queued %d, broker got %d",
					st, src.Acked(), src.Len(), b.got.distinct())
			}
		})
	}
}

// TestMochiReconnect stops the mutual-TLS broker while records are being
// published and starts it again on the same port: the client reconnects
// by itself, every record arrives in order of first arrival per class, and
// the source ends empty.
func TestMochiReconnect(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b := startMochiTLS(t, mutualTLS, p)
	cfg := baseConfig(b.URL())
	cfg.TLS = uplink.TLSConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}
	cfg.BatchMaxRecords = 10
	cfg.InFlight = 4
	src := newMemSource()
	c, err := uplink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	runClient(t, c, src)

	const n = 1500
	want := map[string][]string{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a steady producer that keeps going through the outage
		defer wg.Done()
		for i := range n {
			class := classes[i%len(classes)]
			id := fmt.Sprintf("r-%05d", i)
			src.Put(class, id, 50)
			want[class] = append(want[class], id)
			if i%15 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	b.got.waitDistinct(t, 150)
	b.stop()
	deadline := time.Now().Add(waitFor)
	for c.Stats().Connected {
		if time.Now().After(deadline) {
			t.Fatal("client still connected after the broker stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.start()
	wg.Wait()

	b.got.waitDistinct(t, n)
	waitEmpty(t, src)
	for _, class := range classes {
		if diff := cmp.Diff(want[class], b.got.firstOrder(class)); diff != "" {
			t.Errorf("class %s first-arrival order (-want +got):\n%s", class, diff)
		}
	}
	st := c.Stats()
	if st.Reconnects == 0 {
		t.Errorf("stats = %+v, want at least one reconnect", st)
	}
	checkDuplicates(t, b.got, st, cfg, 0)
}
