package uplink_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeward/edgeward/uplink"
	"github.com/edgeward/edgeward/uplink/uplinktest"
)

// waitFor is how long a test waits for an expected outcome before failing.
// It is a failure bound, not a speed assertion.
const waitFor = 90 * time.Second

// ---- in-memory Source ----

// memSource is a slice-backed queue implementing uplink.Source.
type memSource struct {
	mu      sync.Mutex
	entries []uplink.Message
	seq     uint64
	acked   int
	ready   chan struct{}
	nextErr error // returned once by Next, then cleared
}

var _ uplink.Source = (*memSource)(nil)

func newMemSource() *memSource { return &memSource{ready: make(chan struct{}, 1)} }

// Put appends one record of class whose JSON carries id.
func (s *memSource) Put(class, id string, pad int) uint64 {
	rec := fmt.Sprintf(`{"id":%q,"class":%q,"pad":%q}`, id, class, strings.Repeat("x", pad))
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.entries = append(s.entries, uplink.Message{Seq: seq, Class: class, Data: []byte(rec)})
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return seq
}

func (s *memSource) Next(_ context.Context, after uint64, max, maxBytes int) ([]uplink.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.nextErr; err != nil {
		s.nextErr = nil
		return nil, err
	}
	var out []uplink.Message
	size := 0
	for _, e := range s.entries {
		if e.Seq <= after {
			continue
		}
		if len(out) >= max || (len(out) > 0 && size+len(e.Data) > maxBytes) {
			break
		}
		size += len(e.Data)
		out = append(out, uplink.Message{Seq: e.Seq, Class: e.Class, Data: bytes.Clone(e.Data)})
	}
	return out, nil
}

func (s *memSource) Ack(_ context.Context, seqs ...uint64) error {
	del := make(map[uint64]bool, len(seqs))
	for _, q := range seqs {
		del[q] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.entries[:0]
	for _, e := range s.entries {
		if del[e.Seq] {
			s.acked++
			continue
		}
		kept = append(kept, e)
	}
	s.entries = kept
	return nil
}

func (s *memSource) Ready() <-chan struct{} { return s.ready }

func (s *memSource) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

func (s *memSource) Acked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// ---- brokers ----

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int { return uplinktest.FreePort(t) }

// startMochi starts an in-process broker on a free loopback port and returns
// its tcp:// URL.
func startMochi(t testing.TB) string { return uplinktest.StartMochi(t).URL() }

type tlsMode int

const (
	plainTLS tlsMode = iota // no TLS
	serverTLS
	mutualTLS
)

// pki holds certificate files generated for a test.
type pki struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey, OtherCA string
}

// startMosquitto starts mosquitto with persistence on a free loopback port,
// with TLS for serverTLS and mutualTLS (client certificates required).
func startMosquitto(t testing.TB, mode tlsMode, p *pki) *uplinktest.Mosquitto {
	t.Helper()
	o := uplinktest.MosquittoOptions{Persistence: true}
	if mode != plainTLS {
		o.CAFile, o.CertFile, o.KeyFile = p.CA, p.ServerCert, p.ServerKey
		o.RequireCertificate = mode == mutualTLS
	}
	return uplinktest.StartMosquitto(t, o)
}

// ---- certificates ----

// newPKI generates a CA, a server certificate for 127.0.0.1/localhost, a
// client certificate and an unrelated CA, as PEM files in a temp dir.
func newPKI(t testing.TB) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{
		CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey: filepath.Join(dir, "server.key"), ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey: filepath.Join(dir, "client.key"), OtherCA: filepath.Join(dir, "other-ca.pem"),
	}
	caKey, caCert := selfSignedCA(t, "edgeward test CA", p.CA)
	selfSignedCA(t, "unrelated CA", p.OtherCA)
	issue := func(cn string, certPath, keyPath string, usage x509.ExtKeyUsage, server bool) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("generate key: %v", err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatalf("create certificate: %v", err)
		}
		writePEM(t, certPath, "CERTIFICATE", der)
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatalf("marshal key: %v", err)
		}
		writePEM(t, keyPath, "EC PRIVATE KEY", kder)
	}
	issue("127.0.0.1", p.ServerCert, p.ServerKey, x509.ExtKeyUsageServerAuth, true)
	issue("edgeward-agent", p.ClientCert, p.ClientKey, x509.ExtKeyUsageClientAuth, false)
	return p
}

func selfSignedCA(t testing.TB, cn, path string) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate ca key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create ca: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse ca: %v", err)
	}
	writePEM(t, path, "CERTIFICATE", der)
	return key, cert
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// ---- subscriber ----

// record is the part of a test record the tests look at.
type record struct {
	ID    string `json:"id"`
	Class string `json:"class"`
}

// collector gathers the records received by a subscriber.
type collector struct {
	mu      sync.Mutex
	byClass map[string][]string // record ids in arrival order
	seen    map[string]int      // id -> times received
	bad     []string
	changed chan struct{}
}

func newCollector() *collector {
	return &collector{byClass: map[string][]string{}, seen: map[string]int{}, changed: make(chan struct{}, 1)}
}

// add parses one batch payload (a JSON array of records).
func (c *collector) add(topic string, payload []byte) {
	var recs []record
	if strings.HasSuffix(topic, "/status") && !bytes.HasPrefix(payload, []byte("[")) {
		return // "online"/"offline" status, not a batch
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := json.Unmarshal(payload, &recs); err != nil {
		c.bad = append(c.bad, fmt.Sprintf("%s: %v", topic, err))
		return
	}
	for _, r := range recs {
		c.byClass[r.Class] = append(c.byClass[r.Class], r.ID)
		c.seen[r.ID]++
	}
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// distinct returns the number of distinct ids received.
func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// waitDistinct waits until n distinct ids arrived.
func (c *collector) waitDistinct(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(waitFor)
	for c.distinct() < n {
		select {
		case <-c.changed:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("received %d distinct records, want %d; missing %v", c.distinct(), n, c.missing(n))
		}
	}
}

// duplicates returns how many records arrived more than once (extra copies).
func (c *collector) duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := 0
	for _, k := range c.seen {
		d += k - 1
	}
	return d
}

// missing lists up to 10 of the ids "*-00000".."*-{n-1}" not received (by
// their numeric suffix).
func (c *collector) missing(n int) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	have := map[int]bool{}
	for id := range c.seen {
		var k int
		if i := strings.LastIndexByte(id, '-'); i >= 0 {
			if _, err := fmt.Sscanf(id[i+1:], "%d", &k); err == nil {
				have[k] = true
			}
		}
	}
	var out []int
	for k := 0; k < n && len(out) < 10; k++ {
		if !have[k] {
			out = append(out, k)
		}
	}
	return out
}

// firstOrder returns the ids of class in order of first arrival.
func (c *collector) firstOrder(class string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, id := range c.byClass[class] {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// subscribe connects a raw paho subscriber (QoS 1) to url and feeds c.
// With persistent set, it uses a fixed client id and CleanSession=false so
// that the broker queues messages for it while it is disconnected.
func subscribe(t testing.TB, url, filter string, persistent bool, c *collector) {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(url).
		SetClientID(fmt.Sprintf("test-sub-%d", time.Now().UnixNano())).
		SetCleanSession(!persistent).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(500 * time.Millisecond).
		SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).
		SetResumeSubs(true)
	handler := func(_ mqtt.Client, m mqtt.Message) { c.add(m.Topic(), m.Payload()) }
	subscribed := make(chan error, 1)
	opts.SetOnConnectHandler(func(cl mqtt.Client) {
		if persistent {
			return // the broker keeps the subscription in the session
		}
		// A clean session loses its subscriptions: subscribe on every connect.
		tok := cl.Subscribe(filter, 1, handler)
		tok.WaitTimeout(waitFor)
		select {
		case subscribed <- tok.Error():
		default:
		}
	})
	cli := mqtt.NewClient(opts)
	tok := cli.Connect()
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	if persistent {
		st := cli.Subscribe(filter, 1, handler)
		if !st.WaitTimeout(waitFor) || st.Error() != nil {
			t.Fatalf("subscribe: %v", st.Error())
		}
		// Keep receiving on resumed sessions too.
		cli.AddRoute(filter, handler)
	} else {
		select {
		case err := <-subscribed:
			if err != nil {
				t.Fatalf("subscribe: %v", err)
			}
		case <-time.After(waitFor):
			t.Fatalf("subscribe: no SUBACK")
		}
	}
	t.Cleanup(func() { cli.Disconnect(100) })
}

// retained returns the retained payload of topic, or "" if none arrives.
func retained(t testing.TB, url, topic string) string {
	t.Helper()
	got := make(chan string, 1)
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("test-ret-%d", time.Now().UnixNano()))
	cli := mqtt.NewClient(opts)
	if tok := cli.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("retained reader connect: %v", tok.Error())
	}
	defer cli.Disconnect(50)
	tok := cli.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- string(m.Payload()):
		default:
		}
	})
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("retained reader subscribe: %v", tok.Error())
	}
	select {
	case s := <-got:
		return s
	case <-time.After(time.Second):
		return ""
	}
}

// waitRetained waits until topic holds the retained payload want.
func waitRetained(t testing.TB, url, topic, want string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	var got string
	for time.Now().Before(deadline) {
		if got = retained(t, url, topic); got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("retained %s = %q, want %q", topic, got, want)
}

// ---- client ----

// baseConfig returns a Config for tests with short backoffs.
func baseConfig(brokers ...string) uplink.Config {
	return uplink.Config{
		Brokers:        brokers,
		ClientID:       fmt.Sprintf("edgeward-test-%d", time.Now().UnixNano()),
		Enterprise:     "acme",
		Site:           "plant1",
		AgentID:        "agent-1",
		ConnectTimeout: 5 * time.Second,
		PublishTimeout: 10 * time.Second,
		FlushTimeout:   2 * time.Second,
		MinBackoff:     100 * time.Millisecond,
		MaxBackoff:     time.Second,
		Logger:         testLogger(),
	}
}

// runClient starts c.Run(ctx, src) in a goroutine; the returned function
// cancels it and waits for Run to return, failing on a non-nil error.
func runClient(t testing.TB, c *uplink.Client, src uplink.Source) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, src) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(waitFor):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitEmpty waits until src holds no records.
func waitEmpty(t testing.TB, src *memSource) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for src.Len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("source still holds %d records", src.Len())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitConnected waits until c reports a connection.
func waitConnected(t testing.TB, c *uplink.Client) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !c.Stats().Connected {
		if time.Now().After(deadline) {
			t.Fatalf("not connected: %s", c.Stats().LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLogger discards logs unless UPLINK_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("UPLINK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
