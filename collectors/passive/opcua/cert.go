package opcua

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"time"
)

// maxCertLen bounds the DER certificate copied for crypto/x509.
const maxCertLen = 64 << 10

// firstDER returns the first DER element of b (an OPC UA certificate field
// may hold a chain of concatenated certificates), or nil when b does not
// start with a complete DER SEQUENCE of at most maxCertLen bytes.
func firstDER(b []byte) []byte {
	if len(b) < 2 || b[0] != 0x30 {
		return nil
	}
	l, hdr := int(b[1]), 2
	if l&0x80 != 0 {
		k := l & 0x7f
		if k == 0 || k > 3 || len(b) < 2+k {
			return nil
		}
		l = 0
		for _, c := range b[2 : 2+k] {
			l = l<<8 | int(c)
		}
		hdr += k
	}
	if hdr+l > len(b) || hdr+l > maxCertLen {
		return nil
	}
	return b[:hdr+l]
}

// observeCert records the certificate der (from the wire) on dev, parsing it
// on first sight with crypto/x509 on a bounded copy, raises
// opcua.cert_expired / opcua.cert_expiring, and returns its thumbprint.
func (s *Session) observeCert(dev *deviceState, role uint8, der []byte, ts time.Time) string {
	a := s.a
	cert := firstDER(der)
	if cert == nil {
		cert = der[:min(len(der), maxCertLen)]
	}
	sum := sha1.Sum(cert)
	var hx [2 * sha1.Size]byte
	hex.Encode(hx[:], sum[:])
	for i := range dev.certs {
		if dev.certs[i].Thumbprint == string(hx[:]) {
			return dev.certs[i].Thumbprint
		}
	}
	if len(dev.certs) >= maxDeviceCerts {
		return string(hx[:]) // table full: no parse (bounded CPU per chunk)
	}
	c := Certificate{Thumbprint: string(hx[:])}
	xc, err := x509.ParseCertificate(bytes.Clone(cert))
	if err != nil {
		c.ParseError = clip([]byte(err.Error()), 256)
	} else {
		c.Subject, c.Issuer = xc.Subject.String(), xc.Issuer.String()
		c.NotBefore, c.NotAfter = xc.NotBefore.UTC(), xc.NotAfter.UTC()
		if len(xc.URIs) > 0 {
			c.URI = clip([]byte(xc.URIs[0].String()), a.cfg.MaxStringLen)
		}
	}
	dev.certs = append(dev.certs, c)
	if err == nil {
		s.certAlert(c, role, ts)
	}
	return c.Thumbprint
}

func (s *Session) certAlert(c Certificate, role uint8, ts time.Time) {
	a := s.a
	kind, sev, msg := "", "", ""
	switch {
	case ts.After(c.NotAfter):
		kind, sev, msg = KindCertExpired, SeverityMedium, "OPC UA "+roleNames[role]+" certificate has expired"
	case ts.Before(c.NotBefore):
		kind, sev, msg = KindCertExpired, SeverityMedium, "OPC UA "+roleNames[role]+" certificate is not yet valid"
	case c.NotAfter.Sub(ts) < a.cfg.CertExpiryWarning:
		kind, sev, msg = KindCertExpiring, SeverityLow, "OPC UA "+roleNames[role]+" certificate expires soon"
	default:
		return
	}
	if !a.quietOK(quietKey{kind: kind, detail: c.Thumbprint}, ts) {
		return
	}
	a.raise(Alert{
		Kind: kind, Severity: sev, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server, Message: msg,
		Evidence: map[string]any{
			"role": roleNames[role], "thumbprint": c.Thumbprint, "subject": c.Subject,
			"not_before": c.NotBefore, "not_after": c.NotAfter,
		},
	})
}
