package agent

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"

	"github.com/edgeward/edgeward/collectors/baseline"
)

// TestLocalOPCUAProbe runs gopcua's server on loopback with a None endpoint
// and anonymous logon, and checks that the baseline's endpoint prober, wired
// by the agent, reports exactly that (the input of LNX-IND-002/WIN-IND-005).
func TestLocalOPCUAProbe(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "probe test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t) // gopcua's server cannot listen on port 0 and report it
	s := server.New(server.EndPoint("127.0.0.1", port), server.PrivateKey(key), server.Certificate(der),
		server.EnableSecurity("None", ua.MessageSecurityModeNone), server.EnableAuthMode(ua.UserTokenTypeAnonymous))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("start gopcua server: %v", err)
	}
	defer s.Close()

	prober := withLocalProbes(baseline.Config{}).OPCUA
	eps, err := prober(fmt.Sprintf("opc.tcp://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 || !strings.HasSuffix(eps[0].SecurityPolicy, "#None") || eps[0].SecurityMode != "None" ||
		len(eps[0].TokenTypes) != 1 || eps[0].TokenTypes[0] != "Anonymous" {
		t.Errorf("endpoints = %+v, want one None/None endpoint with an anonymous token", eps)
	}
	if _, err := prober(fmt.Sprintf("opc.tcp://127.0.0.1:%d", freePort(t))); err == nil {
		t.Error("no error for a port where nothing listens")
	}
}
