// Package uplinktest is the fault harness of edgeward's uplink tests, in the
// spirit of net/http/httptest: real MQTT brokers started by the test
// (mosquitto from Debian, or mochi-mqtt embedded) that can be stopped and
// started again on the same port, a loopback TCP proxy that cuts, stalls,
// slows and drops connections mid-PUBACK and counts the bytes it carries, and
// a durable QoS 1 subscriber that proves what reached the broker.
//
// Everything listens on 127.0.0.1 only. Helpers take a testing.TB, fail the
// test on setup errors and clean up after themselves.
package uplinktest

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// MosquittoPath is where Debian installs the broker.
const MosquittoPath = "/usr/sbin/mosquitto"

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// OpenFDs counts this process's open file descriptors (/proc/self/fd; on
// Windows its open handles), or skips the test where they cannot be counted.
func OpenFDs(t testing.TB) int {
	t.Helper()
	return openFDs(t)
}

// MosquittoOptions configures StartMosquitto. The zero value is a plain TCP
// listener without persistence, with unlimited per-client queues (so that a
// slow subscriber never loses a message to the broker's queue limit) and a
// log of connections and errors.
type MosquittoOptions struct {
	// Persistence makes the broker save sessions and queued messages to its
	// directory (on SIGTERM and every autosave_interval).
	Persistence bool
	// CAFile, CertFile and KeyFile enable TLS on the listener;
	// RequireCertificate asks for client certificates (mutual TLS).
	CAFile, CertFile, KeyFile string
	RequireCertificate        bool
	// Debug logs every MQTT packet (log_type all): large, but it tells which
	// PUBLISH the broker received and which it sent to whom.
	Debug bool
	// Extra is appended to the generated mosquitto.conf.
	Extra string
}

// Mosquitto is a mosquitto process on a fixed loopback port that a test can
// stop and restart. Its config, log and persistence files live in Dir.
type Mosquitto struct {
	t       testing.TB
	Port    int
	Dir     string
	LogPath string
	tls     bool
	conf    string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartMosquitto starts mosquitto on a free loopback port; it is stopped
// when the test ends. It skips the test when mosquitto is not installed.
func StartMosquitto(t testing.TB, o MosquittoOptions) *Mosquitto {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("mosquitto is a Linux program; the Windows uplink is tested against embedded mochi-mqtt (uplink TestMochi*)")
	}
	if _, err := os.Stat(MosquittoPath); err != nil {
		t.Skipf("mosquitto not installed at %s (apt-get install mosquitto; .ci/run installs it): %v", MosquittoPath, err)
	}
	dir := t.TempDir()
	m := &Mosquitto{t: t, Port: FreePort(t), Dir: dir, LogPath: filepath.Join(dir, "mosquitto.log"),
		conf: filepath.Join(dir, "mosquitto.conf"), tls: o.CertFile != ""}
	var b strings.Builder
	if os.Geteuid() == 0 {
		b.WriteString("user root\n")
	}
	fmt.Fprintf(&b, "listener %d 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n", m.Port)
	fmt.Fprintf(&b, "max_queued_messages 0\nmax_queued_bytes 0\n")
	fmt.Fprintf(&b, "log_dest file %s\nlog_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S\nconnection_messages true\n", m.LogPath)
	if o.Debug {
		b.WriteString("log_type all\n")
	} else {
		b.WriteString("log_type error\nlog_type warning\nlog_type notice\nlog_type information\n")
	}
	if o.Persistence {
		fmt.Fprintf(&b, "persistence true\npersistence_location %s/\nautosave_interval 1\n", dir)
	} else {
		b.WriteString("persistence false\n")
	}
	if m.tls {
		fmt.Fprintf(&b, "cafile %s\ncertfile %s\nkeyfile %s\ntls_version tlsv1.2\n", o.CAFile, o.CertFile, o.KeyFile)
		if o.RequireCertificate {
			b.WriteString("require_certificate true\n")
		}
	}
	b.WriteString(o.Extra)
	if err := os.WriteFile(m.conf, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("write mosquitto config: %v", err)
	}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Addr is the broker's host:port.
func (m *Mosquitto) Addr() string { return fmt.Sprintf("127.0.0.1:%d", m.Port) }

// URL is the broker URL: tcp://, or ssl:// with TLS.
func (m *Mosquitto) URL() string {
	if m.tls {
		return "ssl://" + m.Addr()
	}
	return "tcp://" + m.Addr()
}

// Start starts the broker (again) and waits until it accepts connections.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	// Port reuse right after a stop can fail briefly; retry a few times.
	for try := 0; ; try++ {
		var out bytes.Buffer
		cmd := exec.Command(MosquittoPath, "-c", m.conf)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			m.t.Fatalf("start mosquitto: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		if waitPort(m.Addr(), done) {
			m.cmd, m.done = cmd, done
			return
		}
		_ = cmd.Process.Kill()
		<-done
		if try == 5 {
			m.t.Fatalf("mosquitto did not start on %s: %s\n%s", m.Addr(), out.String(), m.LogTail(20))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Stop terminates the broker with SIGTERM (it saves its persistence file)
// and waits for it to exit. It is a no-op when the broker is not running.
func (m *Mosquitto) Stop() { m.signal(syscall.SIGTERM) }

// Kill stops the broker with SIGKILL: nothing is saved.
func (m *Mosquitto) Kill() { m.signal(syscall.SIGKILL) }

func (m *Mosquitto) signal(sig syscall.Signal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(sig)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

// Pid is the broker's process id, 0 when stopped.
func (m *Mosquitto) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// LogTail returns the last n lines of the broker's log.
func (m *Mosquitto) LogTail(n int) string { return Tail(m.LogPath, n) }

// Tail returns the last n lines of the file at path, or a note that it
// cannot be read.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitPort waits until addr accepts connections or the process exits.
func waitPort(addr string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Mochi is an embedded mochi-mqtt broker on a fixed loopback port that a
// test can stop and start again. Sessions do not survive a stop.
type Mochi struct {
	t    testing.TB
	addr string
	mu   sync.Mutex
	srv  *mochi.Server
}

// StartMochi starts an in-process broker on a free loopback port; it is
// closed when the test ends.
func StartMochi(t testing.TB) *Mochi {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	m := &Mochi{t: t, addr: ln.Addr().String()}
	m.serve(ln)
	t.Cleanup(m.Stop)
	return m
}

// Addr is the broker's host:port; URL its tcp:// URL.
func (m *Mochi) Addr() string { return m.addr }

// URL is the broker's tcp:// URL.
func (m *Mochi) URL() string { return "tcp://" + m.addr }

func (m *Mochi) serve(ln net.Listener) {
	m.t.Helper()
	s := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler), InlineClient: false})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		m.t.Fatalf("add hook: %v", err)
	}
	if err := s.AddListener(listeners.NewNet("t", ln)); err != nil {
		m.t.Fatalf("add listener: %v", err)
	}
	if err := s.Serve(); err != nil {
		m.t.Fatalf("serve: %v", err)
	}
	m.mu.Lock()
	m.srv = s
	m.mu.Unlock()
}

// Stop closes the broker and every client connection.
func (m *Mochi) Stop() {
	m.mu.Lock()
	s := m.srv
	m.srv = nil
	m.mu.Unlock()
	if s != nil {
		_ = s.Close()
	}
}

// Start starts the broker again on the same port.
func (m *Mochi) Start() {
	m.t.Helper()
	var ln net.Listener
	var err error
	for try := 0; try < 50; try++ {
		if ln, err = net.Listen("tcp", m.addr); err == nil {
			m.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.t.Fatalf("restart mochi on %s: %v", m.addr, err)
}
