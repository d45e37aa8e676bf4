package probe

import (
	"fmt"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/gopcua/opcua/ua"
)

// CertificateExpiryWarning is how close to its NotAfter a server certificate
// is reported as expiring.
const CertificateExpiryWarning = 30 * 24 * time.Hour

// Finding kinds.
const (
	KindOPCUASecurityNone      = "opcua.security_none"
	KindOPCUADeprecatedPolicy  = "opcua.deprecated_policy"
	KindOPCUAAnonymousToken    = "opcua.anonymous_token"
	KindOPCUACertExpired       = "opcua.certificate_expired"
	KindOPCUACertExpiring      = "opcua.certificate_expiring"
	KindModbusIdentityReadable = "modbus.identity_unauthenticated"
)

// Finding is one security observation a probe made about a target.
type Finding struct {
	// Kind is one of the Kind constants.
	Kind     string              `json:"kind"`
	Severity collectors.Severity `json:"severity"`
	// Target is the probed URL; Subject narrows it (an endpoint's URL and
	// policy), empty when the finding is about the whole target.
	Target  string `json:"target"`
	Subject string `json:"subject,omitempty"`
	// Detail says what was seen, for a person.
	Detail string `json:"detail"`
}

// deprecatedPolicies are the OPC UA security policies the specification
// deprecated (SHA-1 based).
var deprecatedPolicies = map[string]bool{
	ua.SecurityPolicyURIBasic128Rsa15: true,
	ua.SecurityPolicyURIBasic256:      true,
}

// OPCUAFindings grades the endpoints a server at target offered, at time now:
// per endpoint, SecurityPolicy None or mode None, a deprecated policy, an
// anonymous identity token, and an expired or soon-expiring certificate.
func OPCUAFindings(target string, eps []Endpoint, now time.Time) []Finding {
	var fs []Finding
	for _, e := range eps {
		add := func(kind string, sev collectors.Severity, format string, args ...any) {
			fs = append(fs, Finding{
				Kind: kind, Severity: sev, Target: target,
				Subject: e.URL + " " + e.SecurityPolicyURI + " " + e.SecurityMode,
				Detail:  fmt.Sprintf(format, args...),
			})
		}
		if e.SecurityPolicyURI == ua.SecurityPolicyURINone || e.SecurityMode == "None" {
			add(KindOPCUASecurityNone, collectors.SeverityHigh, "endpoint accepts unsigned, unencrypted traffic (security policy None)")
		}
		if deprecatedPolicies[e.SecurityPolicyURI] {
			add(KindOPCUADeprecatedPolicy, collectors.SeverityMedium, "endpoint offers deprecated security policy %s", e.SecurityPolicyURI)
		}
		for _, t := range e.UserTokenTypes {
			if t == "Anonymous" {
				add(KindOPCUAAnonymousToken, collectors.SeverityMedium, "endpoint accepts anonymous sessions")
				break
			}
		}
		if c := e.Certificate; c != nil && c.Error == "" {
			switch {
			case now.After(c.NotAfter):
				add(KindOPCUACertExpired, collectors.SeverityHigh, "server certificate %q expired on %s", c.Subject, c.NotAfter.Format(time.DateOnly))
			case now.Add(CertificateExpiryWarning).After(c.NotAfter):
				add(KindOPCUACertExpiring, collectors.SeverityLow, "server certificate %q expires on %s", c.Subject, c.NotAfter.Format(time.DateOnly))
			}
		}
	}
	return fs
}

// ModbusFindings grades a Modbus identification result of target: a device
// that disclosed its identity to an unauthenticated request (Modbus has no
// authentication) is reported at info severity. A refusal yields nothing.
func ModbusFindings(target string, r *ModbusResult) []Finding {
	if r == nil || r.Exception != nil || len(r.Objects) == 0 {
		return nil
	}
	return []Finding{{
		Kind: KindModbusIdentityReadable, Severity: collectors.SeverityInfo, Target: target,
		Detail: fmt.Sprintf("device identity readable without authentication: %d objects (vendor %q, product code %q, revision %q)",
			len(r.Objects), r.VendorName, r.ProductCode, r.Revision),
	}}
}
