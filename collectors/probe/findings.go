package probe

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgeward/edgeward/collectors"
)

// CertificateExpiryWarning is how close to its NotAfter a server certificate
// is reported as expiring.
const CertificateExpiryWarning = 30 * 24 * time.Hour

// Finding kinds.
const (
	KindOPCUASecurityNone      = "opcua.security_none"
	KindOPCUADeprecatedPolicy  = "opcua.deprecated_policy"
	KindOPCUAAnonymousToken    = "opcua.anonymous_token"
	KindOPCUAUserNameNoCrypto  = "opcua.username_unencrypted"
	KindOPCUACertExpired       = "opcua.certificate_expired"
	KindOPCUACertExpiring      = "opcua.certificate_expiring"
	KindModbusIdentityReadable = "modbus.identity_unauthenticated"
)

// Finding is one security observation a probe made about a target: one
// per target and kind, however many endpoints share it.
type Finding struct {
	// Kind is one of the Kind constants.
	Kind     string              `json:"kind"`
	Severity collectors.Severity `json:"severity"`
	// Target is the probed URL; Subject lists what the finding is about
	// within it (endpoints as "URL policy mode", "; "-separated, at most
	// maxSubjects and a count of the rest), empty when it is about the
	// whole target.
	Target  string `json:"target"`
	Subject string `json:"subject,omitempty"`
	// Detail says what was seen, for a person.
	Detail string `json:"detail"`
}

// SourceActive is the source of a finding's threat record: active
// identification made it (passive events carry no source).
const SourceActive = "active"

// Threat is the body of the threat record of a Finding that active
// identification made in run: the finding, the server it is about and
// when it was made.
type Threat struct {
	Kind     string              `json:"kind"`
	Severity collectors.Severity `json:"severity"`
	Time     time.Time           `json:"time"`
	// Source is SourceActive.
	Source  string `json:"source"`
	Message string `json:"message"`
	// Server is the server's ip:port; Target the probed URL.
	Server  string `json:"server"`
	Target  string `json:"target"`
	Subject string `json:"subject,omitempty"`
	// Suppressed counts the findings of this kind about the server that
	// were made but not reported (unchanged, within a day) since the
	// previous record.
	Suppressed uint64 `json:"suppressed"`
}

// Record wraps f, made at t about the server at addr (ip:port), in a
// threat record keyed by server and kind.
func (f Finding) Record(addr string, t time.Time, suppressed uint64) collectors.Record {
	return collectors.Record{
		Class: collectors.ClassThreat, Kind: f.Kind, Time: t.UTC(), Severity: f.Severity, Key: SourceActive + "|" + addr + "|" + f.Kind,
		Body: Threat{
			Kind: f.Kind, Severity: f.Severity, Time: t.UTC(), Source: SourceActive, Message: f.Detail,
			Server: addr, Target: f.Target, Subject: f.Subject, Suppressed: suppressed,
		},
	}
}

// maxSubjects bounds the endpoints a Finding's Subject names.
const maxSubjects = 8

// deprecatedPolicies are the OPC UA security policies the specification
// deprecated (SHA-1 based).
var deprecatedPolicies = map[string]bool{
	securityPolicyBasic128Rsa15: true,
	securityPolicyBasic256:      true,
}

var severityRank = map[collectors.Severity]int{
	collectors.SeverityInfo: 0, collectors.SeverityLow: 1, collectors.SeverityMedium: 2,
	collectors.SeverityHigh: 3, collectors.SeverityCritical: 4,
}

// OPCUAFindings grades the endpoints a server at target offered, at time now,
// and returns one finding per kind, naming every endpoint that has it:
// SecurityPolicy None or mode None; a deprecated policy; an anonymous
// identity token; a UserName token that no policy encrypts (its own policy
// None, or none and the endpoint's None: high when the channel does not
// encrypt either, medium when only a SignAndEncrypt channel protects the
// password); an expired or soon-expiring certificate.
func OPCUAFindings(target string, eps []Endpoint, now time.Time) []Finding {
	var fs []Finding
	subjects := map[string][]string{}
	add := func(e Endpoint, kind string, sev collectors.Severity, detail string) {
		subj := e.URL + " " + strings.TrimPrefix(e.SecurityPolicyURI, policyPrefix) + " " + e.SecurityMode
		i := slices.IndexFunc(fs, func(f Finding) bool { return f.Kind == kind })
		if i < 0 {
			fs = append(fs, Finding{Kind: kind, Severity: sev, Target: target, Detail: detail})
			i = len(fs) - 1
		}
		if severityRank[sev] > severityRank[fs[i].Severity] {
			fs[i].Severity, fs[i].Detail = sev, detail
		}
		if !slices.Contains(subjects[kind], subj) {
			subjects[kind] = append(subjects[kind], subj)
		}
	}
	for _, e := range eps {
		if e.SecurityPolicyURI == securityPolicyNone || e.SecurityMode == "None" {
			add(e, KindOPCUASecurityNone, collectors.SeverityHigh, "endpoint accepts unsigned, unencrypted traffic (security policy None)")
		}
		if deprecatedPolicies[e.SecurityPolicyURI] {
			add(e, KindOPCUADeprecatedPolicy, collectors.SeverityMedium, "endpoint offers a deprecated (SHA-1) security policy")
		}
		for _, t := range e.UserTokens {
			switch {
			case t.Type == "Anonymous":
				add(e, KindOPCUAAnonymousToken, collectors.SeverityMedium, "endpoint accepts anonymous sessions")
			case t.Type == "UserName" && t.EffectivePolicy(e) == securityPolicyNone:
				if e.SecurityMode == "SignAndEncrypt" {
					add(e, KindOPCUAUserNameNoCrypto, collectors.SeverityMedium,
						fmt.Sprintf("user-name token policy %q does not encrypt the password; only the channel does", t.PolicyID))
				} else {
					add(e, KindOPCUAUserNameNoCrypto, collectors.SeverityHigh,
						fmt.Sprintf("user-name token policy %q sends the password in clear text", t.PolicyID))
				}
			}
		}
		if c := e.Certificate; c != nil && c.Error == "" {
			switch {
			case now.After(c.NotAfter):
				add(e, KindOPCUACertExpired, collectors.SeverityHigh, fmt.Sprintf("server certificate %q expired on %s", c.Subject, c.NotAfter.Format(time.DateOnly)))
			case now.Add(CertificateExpiryWarning).After(c.NotAfter):
				add(e, KindOPCUACertExpiring, collectors.SeverityLow, fmt.Sprintf("server certificate %q expires on %s", c.Subject, c.NotAfter.Format(time.DateOnly)))
			}
		}
	}
	for i := range fs {
		s := subjects[fs[i].Kind]
		fs[i].Detail += fmt.Sprintf(" (%d of %d endpoints)", len(s), len(eps))
		if len(s) > maxSubjects {
			s = append(s[:maxSubjects:maxSubjects], fmt.Sprintf("and %d more", len(s)-maxSubjects))
		}
		fs[i].Subject = strings.Join(s, "; ")
	}
	return fs
}

// policyPrefix starts every OPC UA security policy URI.
const policyPrefix = "http://opcfoundation.org/UA/SecurityPolicy#"

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
