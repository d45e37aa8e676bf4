package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeward/edgeward/agent/internal/config"
	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/uplink"
)

// testPKI is a CA and a client certificate with its key, as PEM files.
type testPKI struct{ ca, cert, key, otherKey string }

// newTestPKI writes a CA, a client certificate signed by it, its key and an
// unrelated key into dir.
func newTestPKI(t *testing.T, dir string) testPKI {
	t.Helper()
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() (*ecdsa.PrivateKey, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, der
	}
	caKey, _ := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, leafKeyDER := newKey()
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "gw-01"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caTmpl, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	_, otherDER := newKey()
	return testPKI{
		ca:       writePEM("ca.pem", "CERTIFICATE", caDER),
		cert:     writePEM("agent.pem", "CERTIFICATE", leafDER),
		key:      writePEM("agent.key", "PRIVATE KEY", leafKeyDER),
		otherKey: writePEM("other.key", "PRIVATE KEY", otherDER),
	}
}

// TestConfigValidationParity: every configuration that run refuses at
// start, check-config refuses with the same located message (file:line:
// key), and run refuses it at once instead of starting and retrying. Each
// case also shows that the component run would build refuses it for real
// (the uplink's TLS loading, the capture file reader, the buffer), so that
// the preflight is not stricter than run, only earlier.
func TestConfigValidationParity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pki := newTestPKI(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	notPcap := filepath.Join(dir, "notes.txt")
	aFile := filepath.Join(dir, "a-file")
	for _, p := range []string{garbage, notPcap, aFile} {
		if err := os.WriteFile(p, []byte("not what you think\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	capture := filepath.Join(dir, "ok.pcap")
	// An empty pcap file: the global header (little endian, v2.4, Ethernet).
	header := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	if err := os.WriteFile(capture, header, 0o600); err != nil {
		t.Fatal(err)
	}
	buf := filepath.Join(dir, "var", "buffer.db")
	base := "agent: {id: gw-1}\nbuffer:\n  path: " + buf + "\n"
	tlsUp := func(ca, cert, key string) string {
		return base + "uplink:\n  brokers: [ssl://127.0.0.1:8883]\n  tls:\n    ca_file: " + ca +
			"\n    cert_file: " + cert + "\n    key_file: " + key + "\n"
	}
	passive := func(field, v string) string {
		return base + "uplink: {brokers: []}\ncollectors:\n  passive:\n    enabled: true\n    " + field + ": [" + v + "]\n"
	}
	cases := []struct {
		name, yaml, want string // want: the message after "file:"
		// real shows that the component run builds refuses the config.
		real func(t *testing.T) error
	}{
		{"missing CA file", tlsUp(filepath.Join(dir, "nope.pem"), pki.cert, pki.key), "7: uplink.tls.ca_file: cannot read ", nil},
		{"CA file without a certificate", tlsUp(garbage, pki.cert, pki.key), "7: uplink.tls.ca_file: " + garbage + " holds no PEM certificate", nil},
		{"missing key file", tlsUp(pki.ca, pki.cert, filepath.Join(dir, "nope.key")), "9: uplink.tls.key_file: cannot read ", nil},
		{"certificate file holds no certificate", tlsUp(pki.ca, garbage, pki.key), "8: uplink.tls.cert_file: " + garbage + " holds no PEM certificate", nil},
		{"key of another certificate", tlsUp(pki.ca, pki.cert, pki.otherKey), "9: uplink.tls.key_file: does not match uplink.tls.cert_file", nil},
		{"missing capture file", passive("files", filepath.Join(dir, "nope.pcap")), "8: collectors.passive.files[0]: capture file ", nil},
		{"not a capture file", passive("files", notPcap), "8: collectors.passive.files[0]: open capture ", nil},
		{"no such interface", passive("interfaces", "edgeward-nope0"), "8: collectors.passive.interfaces[0]: no network interface \"edgeward-nope0\"", nil},
		{"buffer directory is a file", "agent: {id: gw-1}\nbuffer:\n  path: " + filepath.Join(aFile, "buffer.db") + "\nuplink: {brokers: []}\n",
			"3: buffer.path: " + aFile + " is not a directory",
			func(t *testing.T) error {
				b, err := buffer.Open(filepath.Join(aFile, "buffer.db"), buffer.Options{})
				if err == nil {
					b.Close()
				}
				return err
			}},
		{"advisory list not valid", base + "uplink: {brokers: []}\nadvisories:\n  file: " + garbage + "\n",
			"6: advisories.file: invalid advisory list: " + garbage + ":1: ", func(t *testing.T) error {
				_, err := loadAdvisories(garbage, buf, slog.New(slog.DiscardHandler))
				return err
			}},
		{"password file missing", base + "uplink:\n  username: u\n  password_file: " + filepath.Join(dir, "nope.pw") + "\n",
			"6: uplink.password_file: cannot read the password file ", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := filepath.Join(t.TempDir(), "edgeward.yaml")
			if err := os.WriteFile(cfg, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			want := "edgeward check-config: " + cfg + ":" + tc.want
			code, _, stderr := runCLI("check-config", "-c", cfg)
			if code != 1 || !strings.HasPrefix(stderr, want) {
				t.Errorf("check-config: exit %d, stderr %q; want exit 1 and prefix %q", code, stderr, want)
			}
			code, _, runErr := runCLI("run", "-c", cfg)
			if code != 1 || strings.TrimPrefix(runErr, "edgeward run: ") != strings.TrimPrefix(stderr, "edgeward check-config: ") {
				t.Errorf("run: exit %d, stderr %q; want exit 1 and check-config's message %q", code, runErr, stderr)
			}
			// The config loads without the preflight: what refuses it is
			// the state of the machine, which run's components meet too.
			c, err := loadConfig(cfg)
			if err != nil {
				if !strings.Contains(tc.name, "password") {
					t.Fatalf("loadConfig without preflight: %v", err)
				}
				return
			}
			if tc.real != nil {
				if err := tc.real(t); err == nil {
					t.Errorf("run's component accepts what the preflight refuses")
				}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := runComponents(ctx, c); err == nil {
				t.Errorf("run's components accept what the preflight refuses")
			}
		})
	}

	// A config whose files are all in place passes both.
	good := filepath.Join(t.TempDir(), "good.yaml")
	doc := strings.Replace(tlsUp(pki.ca, pki.cert, pki.key), "uplink:", "collectors:\n  passive: {enabled: true, files: ["+capture+"]}\nuplink:", 1)
	if err := os.WriteFile(good, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI("check-config", "-c", good); code != 0 {
		t.Errorf("check-config refuses a config with every file in place: %s", stderr)
	}
}

// runComponents builds what run builds for c and runs the passive
// collector once (it reads its files, then returns), returning the first
// error: the real refusal that the preflight anticipates.
func runComponents(ctx context.Context, c config.Config) error {
	s := newSettings(c, "", Version)
	log := slog.New(slog.DiscardHandler)
	colls, err := buildCollectors(c, s, log)
	if err != nil {
		return err
	}
	if len(s.uplink.Brokers) > 0 {
		s.uplink.Logger = log
		if _, err := uplink.New(s.uplink); err != nil {
			return err
		}
	}
	for _, col := range colls {
		if col.Name() != "passive" {
			continue
		}
		if err := col.Run(ctx, collectors.RecordFunc(func(context.Context, collectors.Record) error { return nil })); err != nil {
			return err
		}
	}
	return nil
}
