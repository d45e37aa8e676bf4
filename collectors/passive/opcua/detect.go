package opcua

import (
	"net/netip"
	"time"
)

// Alert kinds (the record kind of the threat record the caller emits).
const (
	// KindSecurityNone: a session is created or activated over a secure
	// channel with SecurityPolicy None (everything in clear, unauthenticated).
	KindSecurityNone = "opcua.security_none"
	// KindEndpointInsecurePolicy: a server offers an endpoint with policy
	// None or a deprecated one (Basic128Rsa15, Basic256), or mode None.
	KindEndpointInsecurePolicy = "opcua.endpoint_insecure_policy"
	// KindAnonymousSession: an ActivateSession with an anonymous identity
	// token succeeded.
	KindAnonymousSession = "opcua.anonymous_session"
	// KindCleartextPassword: a UserName identity token travelled with no
	// encryption algorithm and was readable on the wire.
	KindCleartextPassword = "opcua.cleartext_password"
	// KindWriteNewClient: a client never seen writing sent a WriteRequest.
	KindWriteNewClient = "opcua.write_new_client"
	// KindMethodCallNewClient: a client never seen calling methods sent a
	// CallRequest.
	KindMethodCallNewClient = "opcua.method_call_new_client"
	// KindNodeManagement: AddNodes, DeleteNodes, AddReferences or
	// DeleteReferences requested (address space changed).
	KindNodeManagement = "opcua.node_management"
	// KindBruteForce: a burst of authentication failures to one client.
	KindBruteForce = "opcua.brute_force"
	// KindErrFlood: a burst of ERR chunks to one client.
	KindErrFlood = "opcua.err_flood"
	// KindCertExpired: an application certificate seen on the wire has
	// expired (NotAfter before the capture time) or is not yet valid.
	KindCertExpired = "opcua.cert_expired"
	// KindCertExpiring: an application certificate expires within
	// Config.CertExpiryWarning.
	KindCertExpiring = "opcua.cert_expiring"
)

// Severities of an Alert (the values of collectors.Severity).
const (
	SeverityInfo     = "info"
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Alert is a detection raised by the Analyzer. The caller rate-limits alerts
// per kind and source and turns them into threat records.
type Alert struct {
	// Kind is one of the Kind* constants.
	Kind string `json:"kind"`
	// Severity is info, low, medium, high or critical.
	Severity string `json:"severity"`
	// Time is the capture time of the chunk that raised the alert.
	Time time.Time `json:"time"`
	// Client is the OPC UA client ip, ClientPort the client's TCP port on
	// the connection that raised the alert, Server the server ip:port.
	Client     netip.Addr     `json:"client"`
	ClientPort uint16         `json:"client_port"`
	Server     netip.AddrPort `json:"server"`
	// Service is the service type name involved, if any.
	Service string `json:"service,omitempty"`
	// Message is a one-line English description.
	Message string `json:"message"`
	// Evidence holds kind-specific details (JSON-friendly values).
	Evidence map[string]any `json:"evidence,omitempty"`
}

// quietKey identifies a repeated alert raised at most once per Window.
type quietKey struct {
	kind   string
	client netip.Addr
	server netip.AddrPort
	detail string
}

// raise queues al, within MaxAlerts.
func (a *Analyzer) raise(al Alert) { a.alerts.Push(al) }

// quietOK reports whether an alert of key k may fire at ts (none within
// Window) and records it.
func (a *Analyzer) quietOK(k quietKey, ts time.Time) bool {
	ok, _ := a.quiet.Allow(k, ts)
	return ok
}

// client returns the detection state of ip, rolling its window at ts.
func (a *Analyzer) client(ip netip.Addr, ts time.Time) *clientState {
	n, _ := a.clients.GetOrAdd(ip)
	c := &n.Val
	if c.win.start.IsZero() || ts.Sub(c.win.start) >= a.cfg.Window || ts.Before(c.win.start) {
		c.win = clientWindow{start: ts}
	}
	return c
}

// Status codes the detections look at.
const (
	statusBadUserAccessDenied      = 0x801F0000
	statusBadIdentityTokenInvalid  = 0x80200000
	statusBadIdentityTokenRejected = 0x80210000
	statusBadUserSignatureInvalid  = 0x80570000
)

func isAuthFailure(code uint32) bool {
	switch code & 0xFFFF0000 {
	case statusBadUserAccessDenied, statusBadIdentityTokenInvalid,
		statusBadIdentityTokenRejected, statusBadUserSignatureInvalid:
		return true
	}
	return false
}

func isBad(code uint32) bool { return code&0x80000000 != 0 }

// authFailure counts one authentication failure to client s and raises
// opcua.brute_force at the threshold (once per window).
func (s *Session) authFailure(code uint32, svc string, ts time.Time) {
	a := s.a
	c := a.client(s.clientIP, ts)
	c.win.authFails++
	if c.win.authFails >= a.cfg.BruteForceThreshold && !c.win.firedBrute {
		c.win.firedBrute = true
		a.raise(Alert{
			Kind: KindBruteForce, Severity: SeverityHigh, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
			Service: svc,
			Message: "burst of OPC UA authentication failures (possible password guessing)",
			Evidence: map[string]any{
				"failures": c.win.authFails, "window_seconds": a.cfg.Window.Seconds(),
				"last_status": statusString(code),
			},
		})
	}
}

// errChunk counts one ERR chunk to the client and raises opcua.err_flood.
func (s *Session) errFlood(code uint32, ts time.Time) {
	a := s.a
	c := a.client(s.clientIP, ts)
	c.win.errs++
	if c.win.errs >= a.cfg.ErrFloodThreshold && !c.win.firedErr {
		c.win.firedErr = true
		a.raise(Alert{
			Kind: KindErrFlood, Severity: SeverityMedium, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
			Message: "burst of OPC UA ERR messages (connection refusals or protocol errors)",
			Evidence: map[string]any{
				"errors": c.win.errs, "window_seconds": a.cfg.Window.Seconds(),
				"last_status": statusString(code),
			},
		})
	}
}

// statusString formats a status code as "0x801F0000" plus its name when
// known ("BadUserAccessDenied").
func statusString(code uint32) string {
	s := "0x" + hex32(code)
	if n, ok := statusNames[code&0xFFFF0000]; ok {
		s += " " + n
	}
	return s
}

func hex32(v uint32) string {
	const digits = "0123456789ABCDEF"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xF]
		v >>= 4
	}
	return string(b[:])
}

// statusNames names the status codes most seen in ERR and faults.
var statusNames = map[uint32]string{
	0x80010000: "BadUnexpectedError", 0x80020000: "BadInternalError", 0x80030000: "BadOutOfMemory",
	0x80040000: "BadResourceUnavailable", 0x80050000: "BadCommunicationError", 0x80060000: "BadEncodingError",
	0x80070000: "BadDecodingError", 0x80080000: "BadEncodingLimitsExceeded", 0x800A0000: "BadTimeout",
	0x800B0000: "BadServiceUnsupported", 0x800C0000: "BadShutdown", 0x800D0000: "BadServerNotConnected",
	0x800E0000: "BadServerHalted", 0x80100000: "BadNothingToDo", 0x80130000: "BadSecurityChecksFailed",
	0x80140000: "BadCertificateTimeInvalid", 0x80170000: "BadCertificateUntrusted",
	0x801F0000: "BadUserAccessDenied", 0x80200000: "BadIdentityTokenInvalid",
	0x80210000: "BadIdentityTokenRejected", 0x80220000: "BadSecureChannelIdInvalid",
	0x80250000: "BadSessionIdInvalid", 0x80260000: "BadSessionClosed", 0x80270000: "BadSessionNotActivated",
	0x80340000: "BadNodeIdUnknown", 0x80350000: "BadAttributeIdInvalid", 0x803A0000: "BadNotWritable",
	0x803B0000: "BadNotReadable", 0x80550000: "BadSecurityPolicyRejected", 0x80570000: "BadUserSignatureInvalid",
	0x80750000: "BadMethodInvalid", 0x807C0000: "BadTooManySessions", 0x80860000: "BadTcpServerTooBusy",
	0x80870000: "BadTcpMessageTypeInvalid", 0x80880000: "BadTcpSecureChannelUnknown",
	0x80890000: "BadTcpMessageTooLarge", 0x808A0000: "BadTcpNotEnoughResources",
	0x808B0000: "BadTcpInternalError", 0x808C0000: "BadTcpEndpointUrlInvalid",
	0x80AB0000: "BadRequestTooLarge", 0x80AC0000: "BadResponseTooLarge",
}

// insecurePolicy returns the short name of a policy URI that is None or
// deprecated, or "".
func insecurePolicy(uri string) string {
	const p = "http://opcfoundation.org/UA/SecurityPolicy#"
	if len(uri) <= len(p) || uri[:len(p)] != p {
		return ""
	}
	switch s := uri[len(p):]; s {
	case "None", "Basic128Rsa15", "Basic256":
		return s
	}
	return ""
}

// policyNone reports whether uri is the None security policy.
func policyNone(uri []byte) bool {
	return string(uri) == "http://opcfoundation.org/UA/SecurityPolicy#None"
}
