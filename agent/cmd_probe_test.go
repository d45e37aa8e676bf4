package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
)

// startProbeModbus runs a Modbus/TCP device on 127.0.0.1 that answers
// function 43 / MEI 14 with a basic identity in one part (unit 1) or an
// illegal-function exception (any other unit), and counts the requests.
func startProbeModbus(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	var requests atomic.Int32
	addr := serveModbus(t, func(unit byte, _ []byte) []byte {
		requests.Add(1)
		if unit != 1 {
			return []byte{0xAB, 0x01}
		}
		// vendor "Acme\x1b[31m" (an escape sequence a table must not pass on)
		return []byte{0x2B, 0x0E, 1, 1, 0, 0, 3, 0, 9, 'A', 'c', 'm', 'e', 0x1b, '[', '3', '1', 'm', 1, 2, 'P', '9', 2, 3, '1', '.', '0'}
	})
	return addr, &requests
}

// serveModbus runs a Modbus/TCP server on 127.0.0.1 that answers each
// request PDU with answer(unit, pdu), and returns its address.
func serveModbus(t *testing.T, answer func(unit byte, pdu []byte) []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				for {
					var h [7]byte
					if _, err := io.ReadFull(c, h[:]); err != nil {
						return
					}
					pdu := make([]byte, int(binary.BigEndian.Uint16(h[4:]))-1)
					if _, err := io.ReadFull(c, pdu); err != nil {
						return
					}
					resp := answer(h[6], pdu)
					out := append(h[:4:4], 0, byte(len(resp)+1), h[6])
					if _, err := c.Write(append(out, resp...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func closedAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

func runProbe(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(append([]string{"probe"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestProbeTable(t *testing.T) {
	t.Parallel()
	dev, _ := startProbeModbus(t)
	down := closedAddr(t)
	code, out, stderr := runProbe("modbus://"+dev, "--timeout", "3s", "modbus://"+dev+"/2", "modbus://"+down)
	if code != 1 {
		t.Errorf("exit code %d, want 1 (one target unreachable); stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"modbus://" + dev + "\n",
		"vendor        Acme?[31m\n",
		"product code  P9\n",
		"revision      1.0\n",
		"[info]        modbus.identity_unauthenticated",
		"modbus://" + dev + "/2\n  exception  1 (illegal function)\n",
		"modbus://" + down + "\n  error  connect to " + down,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("table passes an escape sequence from the device through:\n%q", out)
	}
	if !strings.Contains(stderr, "probe targets: 1 of 3 failed") {
		t.Errorf("stderr = %q, want the failure count", stderr)
	}
}

func TestProbeJSON(t *testing.T) {
	t.Parallel()
	dev, _ := startProbeModbus(t)
	u := startProbeOPCUA(t)
	code, out, stderr := runProbe("--format", "json", "modbus://"+dev, u)
	if code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	var got []struct {
		Target string `json:"target"`
		Modbus *struct {
			VendorName string            `json:"vendor_name"`
			Unit       int               `json:"unit"`
			Objects    map[string]string `json:"objects"`
		} `json:"modbus"`
		Endpoints []struct {
			URL               string   `json:"url"`
			SecurityPolicyURI string   `json:"security_policy_uri"`
			SecurityMode      string   `json:"security_mode"`
			UserTokenTypes    []string `json:"user_token_types"`
			UserTokens        []struct {
				PolicyID          string `json:"policy_id"`
				Type              string `json:"type"`
				SecurityPolicyURI string `json:"security_policy_uri"`
			} `json:"user_tokens"`
			Certificate *struct {
				Subject    string `json:"subject"`
				Thumbprint string `json:"thumbprint"`
			} `json:"certificate"`
		} `json:"endpoints"`
		BuildInfo *struct {
			ManufacturerName string `json:"manufacturer_name"`
			ProductName      string `json:"product_name"`
			SoftwareVersion  string `json:"software_version"`
		} `json:"build_info"`
		Findings []struct {
			Kind     string `json:"kind"`
			Severity string `json:"severity"`
		} `json:"findings"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(got) != 2 {
		t.Fatalf("got %d results, want 2:\n%s", len(got), out)
	}
	m := got[0]
	if m.Target != "modbus://"+dev || m.Modbus == nil || m.Modbus.VendorName != "Acme\x1b[31m" || m.Modbus.Unit != 1 ||
		m.Modbus.Objects["2"] != "1.0" || len(m.Findings) != 1 || m.Error != "" {
		t.Errorf("modbus result: %s", out)
	}
	o := got[1]
	if o.Target != u || len(o.Endpoints) != 2 || o.Error != "" {
		t.Fatalf("opc ua result: %s", out)
	}
	if e := o.Endpoints[1]; e.SecurityPolicyURI != ua.SecurityPolicyURIBasic256Sha256 || e.SecurityMode != "SignAndEncrypt" ||
		e.Certificate == nil || e.Certificate.Subject != "CN=edgeward probe test" || len(e.Certificate.Thumbprint) != 40 {
		t.Errorf("secure endpoint: %+v", e)
	}
	for _, e := range o.Endpoints {
		if len(e.UserTokens) != 2 || e.UserTokens[1].Type != "UserName" || e.UserTokens[1].SecurityPolicyURI != ua.SecurityPolicyURIBasic256Sha256 {
			t.Errorf("endpoint %s user tokens %+v: want the UserName token with its policy URI", e.SecurityMode, e.UserTokens)
		}
	}
	if b := o.BuildInfo; b == nil || b.ManufacturerName != "Acme Automation" || b.ProductName != "Acme UA" || b.SoftwareVersion != "V4.5 SP1" {
		t.Errorf("build info %+v, want the server's", b)
	}
	kinds := map[string]string{}
	for _, f := range o.Findings {
		if _, dup := kinds[f.Kind]; dup {
			t.Errorf("finding %s reported twice for one server", f.Kind)
		}
		kinds[f.Kind] = f.Severity
	}
	if kinds["opcua.security_none"] != "high" || kinds["opcua.anonymous_token"] != "medium" {
		t.Errorf("findings %v, want security_none high and anonymous_token medium", kinds)
	}
	if _, ok := kinds["opcua.username_unencrypted"]; ok {
		t.Errorf("findings %v: the UserName token is encrypted by its own Basic256Sha256 policy", kinds)
	}
}

// TestProbeTableOPCUA prints an OPC UA server: its build info and each
// endpoint's tokens with the policy that protects them.
func TestProbeTableOPCUA(t *testing.T) {
	t.Parallel()
	u := startProbeOPCUA(t)
	code, out, stderr := runProbe(u)
	if code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		`\n  manufacturer +Acme Automation\n`,
		`\n  software version +V4\.5 SP1\n`,
		`\n  opc\.tcp://\S+ +None +None +Anonymous\(None\),UserName\(Basic256Sha256\) +CN=edgeward probe test`,
		`\n  \[high\] +opcua\.security_none +endpoint accepts unsigned, unencrypted traffic \(security policy None\) \(1 of 2 endpoints\)\n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("table lacks %s:\n%s", want, out)
		}
	}
}

func TestProbeUsage(t *testing.T) {
	t.Parallel()
	dev, requests := startProbeModbus(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no target", nil, "name at least one target"},
		{"unit 0 is broadcast", []string{"modbus://" + dev, "modbus://" + dev + "/0"}, "broadcast"},
		{"unknown scheme", []string{"http://" + dev}, "want modbus://"},
		{"bad format", []string{"--format", "yaml", "modbus://" + dev}, "--format must be one of table, json"},
		{"bad timeout", []string{"--timeout", "0s", "modbus://" + dev}, "--timeout must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runProbe(tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, out, stderr, tc.want)
			}
		})
	}
	// Every target is checked before any is probed: the valid first target
	// of "unit 0 is broadcast" must not have been sent anything.
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the device during usage errors", n)
	}
}

// startProbeOPCUA runs gopcua's server on 127.0.0.1 with a None and a
// Basic256Sha256 endpoint and returns its URL.
func startProbeOPCUA(t *testing.T, alsoPorts ...int) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "edgeward probe test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	opts := []server.Option{server.EndPoint("127.0.0.1", port)}
	for _, p := range alsoPorts {
		opts = append(opts, server.EndPoint("127.0.0.1", p)) // advertised, not listened on
	}
	s := server.New(append(opts,
		server.PrivateKey(key),
		server.Certificate(der),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.EnableAuthMode(ua.UserTokenTypeUserName),
		server.ManufacturerName("Acme Automation"),
		server.ProductName("Acme UA"),
		server.SoftwareVersion("V4.5 SP1"),
	)...)
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		cancel()
		t.Fatalf("start gopcua server: %v", err)
	}
	t.Cleanup(func() { cancel(); s.Close() })
	return fmt.Sprintf("opc.tcp://127.0.0.1:%d", port)
}
