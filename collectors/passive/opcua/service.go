package opcua

import (
	"strings"
	"time"
)

// Service encoding ids decoded beyond the type id.
const (
	svcServiceFault             = 397
	svcGetEndpointsResponse     = 431
	svcOpenSecureChannelRequest = 446
	svcCreateSessionRequest     = 461
	svcCreateSessionResponse    = 464
	svcActivateSessionRequest   = 467
	svcActivateSessionResponse  = 470
	svcAddNodesRequest          = 488
	svcAddReferencesRequest     = 494
	svcDeleteNodesRequest       = 500
	svcDeleteReferencesRequest  = 506
	svcWriteRequest             = 673
	svcCallRequest              = 712
	tokAnonymous                = 321
	tokUserName                 = 324
	tokX509                     = 327
	tokIssued                   = 940
	maxEvidenceNodes            = 8
)

// service counts and decodes one service body (starting with its type id).
// truncated: the body is a prefix of the message; soft: the channel may
// carry a signature or be unreadable, so decoding failures are not counted;
// countOnly: the body is ciphertext, counted as tshark 4.0 counts it (a type
// id read from whatever bytes are there) and not decoded.
func (s *Session) service(toServer bool, reqID uint32, body []byte, truncated, soft, countOnly bool, ts time.Time) {
	a := s.a
	r := newReader(body, a.cfg.MaxArrayLen)
	n, mask := r.nodeIDMask()
	if r.err != nil || mask > 2 {
		if !truncated && !soft && r.err != nil {
			s.malformed(ts)
		}
		return
	}
	id := n.Numeric
	if c, ok := a.stats.services[id]; ok || len(a.stats.services) < a.cfg.MaxStatsEntries {
		a.stats.services[id] = c + 1
	}
	f := s.flowNode(ts)
	if f.services == nil {
		f.services = make(map[uint32]uint64)
	}
	if c, ok := f.services[id]; ok || len(f.services) < maxFlowServices {
		f.services[id] = c + 1
	}
	if countOnly {
		return
	}
	decoded := true
	switch id {
	case svcServiceFault:
		code := r.responseHeader()
		if r.err == nil {
			f.faults++
			if isAuthFailure(code) {
				s.authFailure(code, "ServiceFault", ts)
			}
		}
	case svcOpenSecureChannelRequest:
		r.requestHeader()
		r.skip(8) // client protocol version, request type
		mode := r.u32()
		if r.err == nil && mode <= modeSignAndEncrypt {
			f.mode = mode
		}
	case svcGetEndpointsResponse:
		r.responseHeader()
		s.endpoints(&r, ts)
	case svcCreateSessionRequest:
		s.createSessionRequest(&r, f, ts)
	case svcCreateSessionResponse:
		r.responseHeader()
		r.nodeID() // session id
		r.nodeID() // authentication token
		r.skip(8)  // revised session timeout
		r.bytes()  // server nonce
		cert := r.bytes()
		if r.err == nil && len(cert) > 0 {
			s.observeCert(s.dev(roleServer, ts), roleServer, cert, ts)
		}
		s.endpoints(&r, ts)
	case svcActivateSessionRequest:
		s.activateSessionRequest(&r, f, reqID, ts)
	case svcActivateSessionResponse:
		code := r.responseHeader()
		if r.err == nil {
			s.activated(reqID, code, ts)
		}
	case svcWriteRequest:
		s.writeRequest(&r, f, ts)
	case svcCallRequest:
		s.callRequest(&r, f, ts)
	case svcAddNodesRequest, svcAddReferencesRequest, svcDeleteNodesRequest, svcDeleteReferencesRequest:
		s.nodeManagement(&r, f, id, ts)
	default:
		name, ok := serviceNames[id]
		if !ok || !strings.HasSuffix(name, "Response") {
			decoded = false
			break
		}
		code := r.responseHeader()
		if r.err == nil && isBad(code) {
			f.badStatus++
			if isAuthFailure(code) {
				s.authFailure(code, name, ts)
			}
		}
	}
	if decoded && r.err != nil && !truncated && !soft {
		s.malformed(ts)
	}
}

var securityModes = [4]string{"Invalid", "None", "Sign", "SignAndEncrypt"}
var appTypes = [4]string{"Server", "Client", "ClientAndServer", "DiscoveryServer"}

// appDescription is a decoded ApplicationDescription (fields alias the
// message).
type appDescription struct {
	uri, product, name []byte
	typ                uint32
}

func (r *reader) appDescription() appDescription {
	var d appDescription
	d.uri = r.bytes()
	d.product = r.bytes()
	d.name = r.localizedText()
	d.typ = r.u32()
	r.bytes() // gateway server uri
	r.bytes() // discovery profile uri
	n := r.arrayLen(4)
	for i := 0; i < n && r.err == nil; i++ {
		r.bytes()
	}
	return d
}

// apply copies the description into the device (clipped to MaxStringLen).
func (d *appDescription) apply(dev *deviceState, max int) {
	setClip(&dev.appURI, d.uri, max)
	setClip(&dev.productURI, d.product, max)
	setClip(&dev.appName, d.name, max)
	if d.typ < 4 {
		dev.appType = appTypes[d.typ]
	}
}

// setClip sets *dst to b (clipped) when non-empty and different; it only
// allocates on a change.
func setClip(dst *string, b []byte, max int) {
	if len(b) == 0 {
		return
	}
	if len(b) > max {
		b = b[:max]
	}
	if *dst != string(b) {
		*dst = string(b)
	}
}

// endpoints decodes an EndpointDescription array into the server device and
// raises opcua.endpoint_insecure_policy.
func (s *Session) endpoints(r *reader, ts time.Time) {
	a := s.a
	n := r.arrayLen(26)
	if r.err != nil || n == 0 {
		return
	}
	dev := s.dev(roleServer, ts)
	max := a.cfg.MaxStringLen
	for i := 0; i < n && r.err == nil; i++ {
		var e Endpoint
		url := r.bytes()
		app := r.appDescription()
		cert := r.bytes()
		mode := r.u32()
		spu := r.bytes()
		nt := r.arrayLen(20)
		var toks [8]struct {
			typ uint32
			spu []byte
		}
		for j := 0; j < nt && r.err == nil; j++ {
			r.bytes() // policy id
			typ := r.u32()
			r.bytes() // issued token type
			r.bytes() // issuer endpoint url
			tspu := r.bytes()
			if j < len(toks) {
				toks[j].typ, toks[j].spu = typ, tspu
			}
		}
		r.bytes() // transport profile uri
		level := r.u8()
		if r.err != nil {
			return
		}
		app.apply(dev, max)
		e.URL, e.SecurityPolicyURI = clip(url, max), clip(spu, max)
		e.SecurityMode = "Invalid"
		if mode < 4 {
			e.SecurityMode = securityModes[mode]
		}
		e.SecurityLevel = level
		for j := 0; j < min(nt, len(toks)); j++ {
			t := "Invalid"
			if toks[j].typ < 4 {
				t = tokenNames[toks[j].typ]
			}
			if len(toks[j].spu) > 0 {
				t += "/" + clip(toks[j].spu, max)
			}
			e.UserTokenTypes = append(e.UserTokenTypes, t)
		}
		if len(cert) > 0 {
			e.ServerCertificateThumbprint = s.observeCert(dev, roleServer, cert, ts)
		}
		s.addEndpoint(dev, e, ts)
	}
}

// addEndpoint records e on the server (replacing an endpoint with the same
// URL, policy and mode) and alerts on insecure policies.
func (s *Session) addEndpoint(dev *deviceState, e Endpoint, ts time.Time) {
	found := false
	for i := range dev.endpoints {
		x := &dev.endpoints[i]
		if x.URL == e.URL && x.SecurityPolicyURI == e.SecurityPolicyURI && x.SecurityMode == e.SecurityMode {
			*x, found = e, true
			break
		}
	}
	if !found && len(dev.endpoints) < maxDeviceEndpoints {
		dev.endpoints = append(dev.endpoints, e)
	}
	weak := insecurePolicy(e.SecurityPolicyURI)
	if weak == "" && e.SecurityMode == "None" {
		weak = "None"
	}
	if weak == "" || !s.a.quietOK(quietKey{kind: KindEndpointInsecurePolicy, server: s.server, detail: weak}, ts) {
		return
	}
	sev := SeverityMedium
	if weak != "None" {
		sev = SeverityLow
	}
	s.a.raise(Alert{
		Kind: KindEndpointInsecurePolicy, Severity: sev, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
		Message: "OPC UA server offers an endpoint with security policy " + weak,
		Evidence: map[string]any{
			"endpoint_url": e.URL, "security_policy_uri": e.SecurityPolicyURI,
			"security_mode": e.SecurityMode, "user_token_types": e.UserTokenTypes,
		},
	})
}

func (s *Session) createSessionRequest(r *reader, f *flowState, ts time.Time) {
	a := s.a
	r.requestHeader()
	app := r.appDescription()
	r.bytes() // server uri
	url := r.bytes()
	r.bytes() // session name
	r.bytes() // client nonce
	cert := r.bytes()
	if r.err != nil {
		return
	}
	cli := s.dev(roleClient, ts)
	app.apply(cli, a.cfg.MaxStringLen)
	addBytes(&cli.urls, clipBytes(url, a.cfg.MaxStringLen), maxDeviceURLs)
	setClip(&f.endpointURL, url, a.cfg.MaxStringLen)
	if len(cert) > 0 {
		s.observeCert(cli, roleClient, cert, ts)
	}
	s.securityNone("CreateSessionRequest", ts)
}

func clipBytes(b []byte, max int) []byte {
	if len(b) > max {
		return b[:max]
	}
	return b
}

// securityNone raises opcua.security_none for a session on a None channel.
func (s *Session) securityNone(svc string, ts time.Time) {
	if s.mode != modeNone || !s.a.quietOK(quietKey{kind: KindSecurityNone, client: s.clientIP, server: s.server}, ts) {
		return
	}
	s.a.raise(Alert{
		Kind: KindSecurityNone, Severity: SeverityMedium, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
		Service:  svc,
		Message:  "OPC UA session over a secure channel with SecurityPolicy None (no signing, no encryption)",
		Evidence: map[string]any{"security_policy_uri": s.policy},
	})
}

func (s *Session) activateSessionRequest(r *reader, f *flowState, reqID uint32, ts time.Time) {
	a := s.a
	r.requestHeader()
	r.bytes() // client signature algorithm
	r.bytes() // client signature
	n := r.arrayLen(8)
	for i := 0; i < n && r.err == nil; i++ {
		r.bytes()
		r.bytes()
	}
	n = r.arrayLen(4)
	for i := 0; i < n && r.err == nil; i++ {
		r.bytes()
	}
	typ, body, enc := r.extensionObject()
	if r.err != nil {
		return
	}
	token := int8(-1)
	switch typ.Numeric {
	case tokAnonymous:
		token = 0
	case tokUserName:
		token = 1
	case tokX509:
		token = 2
	case tokIssued:
		token = 3
	}
	if typ.Namespace != 0 || typ.Kind != 'i' {
		token = -1
	}
	if token >= 0 {
		f.tokens[token] = true
	}
	if s.pending == nil {
		s.pending = make([]pendingActivate, a.cfg.MaxPendingPerSession)
	}
	s.pending[s.pnext] = pendingActivate{reqID: reqID, token: token, used: true}
	s.pnext = (s.pnext + 1) % len(s.pending)
	s.securityNone("ActivateSessionRequest", ts)
	if token != 1 || enc != 1 {
		return
	}
	tr := newReader(body, a.cfg.MaxArrayLen)
	policyID := tr.bytes()
	user := tr.bytes()
	pw := tr.bytes()
	alg := tr.bytes()
	if tr.err != nil {
		if !s.softMode() {
			s.malformed(ts)
		}
		return
	}
	if len(alg) != 0 || len(pw) == 0 {
		return
	}
	if !a.quietOK(quietKey{kind: KindCleartextPassword, client: s.clientIP, server: s.server, detail: clip(user, 256)}, ts) {
		return
	}
	a.raise(Alert{
		Kind: KindCleartextPassword, Severity: SeverityHigh, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
		Service: "ActivateSessionRequest",
		Message: "OPC UA user name and password sent without encryption",
		Evidence: map[string]any{
			"user_name": clip(user, 256), "policy_id": clip(policyID, 256),
			"security_policy_uri": s.policy, "password_bytes": len(pw),
		},
	})
}

func (s *Session) softMode() bool { return s.mode != modeNone }

// activated matches an ActivateSessionResponse to its request.
func (s *Session) activated(reqID, code uint32, ts time.Time) {
	token := int8(-1)
	for i := range s.pending {
		if p := &s.pending[i]; p.used && p.reqID == reqID {
			token, p.used = p.token, false
			break
		}
	}
	if isBad(code) {
		s.flowNode(ts).badStatus++
		if isAuthFailure(code) {
			s.authFailure(code, "ActivateSessionResponse", ts)
		}
		return
	}
	if token != 0 || !s.a.quietOK(quietKey{kind: KindAnonymousSession, client: s.clientIP, server: s.server}, ts) {
		return
	}
	s.a.raise(Alert{
		Kind: KindAnonymousSession, Severity: SeverityMedium, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
		Service:  "ActivateSessionResponse",
		Message:  "OPC UA session activated with an anonymous identity token",
		Evidence: map[string]any{"security_policy_uri": s.policy, "security_mode": modeName(s.mode)},
	})
}

func (s *Session) writeRequest(r *reader, f *flowState, ts time.Time) {
	a := s.a
	r.requestHeader()
	n := r.arrayLen(11)
	var nodes []string
	for i := 0; i < n && r.err == nil; i++ {
		id := r.nodeID()
		attr := r.u32()
		r.bytes() // index range
		r.dataValue(0)
		if r.err != nil {
			break
		}
		if len(f.written) < maxFlowNodes || len(nodes) < maxEvidenceNodes {
			str := id.String()
			if attr != 13 { // not Value
				str += "#" + attributeName(attr)
			}
			addString(&f.written, str, maxFlowNodes)
			addString(&nodes, str, maxEvidenceNodes)
		}
	}
	if r.err != nil {
		return
	}
	f.writes++
	c := a.client(s.clientIP, ts)
	if c.wrote {
		return
	}
	c.wrote = true
	a.raise(Alert{
		Kind: KindWriteNewClient, Severity: SeverityMedium, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
		Service:  "WriteRequest",
		Message:  "OPC UA client writes for the first time",
		Evidence: map[string]any{"nodes": nodes, "items": n, "security_mode": modeName(s.mode)},
	})
}

func attributeName(attr uint32) string {
	names := [...]string{"", "NodeId", "NodeClass", "BrowseName", "DisplayName", "Description", "WriteMask",
		"UserWriteMask", "IsAbstract", "Symmetric", "InverseName", "ContainsNoLoops", "EventNotifier",
		"Value", "DataType", "ValueRank", "ArrayDimensions", "AccessLevel", "UserAccessLevel",
		"MinimumSamplingInterval", "Historizing", "Executable", "UserExecutable"}
	if int(attr) < len(names) && attr > 0 {
		return names[attr]
	}
	return "attr" + hex32(attr)
}

func (s *Session) callRequest(r *reader, f *flowState, ts time.Time) {
	a := s.a
	r.requestHeader()
	n := r.arrayLen(8)
	var methods []string
	for i := 0; i < n && r.err == nil; i++ {
		obj := r.nodeID()
		m := r.nodeID()
		k := r.arrayLen(1)
		for j := 0; j < k && r.err == nil; j++ {
			r.variant(0)
		}
		if r.err != nil {
			break
		}
		if len(f.methods) < maxFlowNodes || len(methods) < maxEvidenceNodes {
			str := obj.String() + " " + m.String()
			addString(&f.methods, str, maxFlowNodes)
			addString(&methods, str, maxEvidenceNodes)
		}
	}
	if r.err != nil {
		return
	}
	f.calls++
	c := a.client(s.clientIP, ts)
	if c.called {
		return
	}
	c.called = true
	a.raise(Alert{
		Kind: KindMethodCallNewClient, Severity: SeverityMedium, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
		Service:  "CallRequest",
		Message:  "OPC UA client calls methods for the first time",
		Evidence: map[string]any{"methods": methods, "items": n, "security_mode": modeName(s.mode)},
	})
}

// nodeManagement decodes AddNodes, AddReferences, DeleteNodes and
// DeleteReferences requests and raises opcua.node_management.
func (s *Session) nodeManagement(r *reader, f *flowState, id uint32, ts time.Time) {
	a := s.a
	r.requestHeader()
	var nodes []string
	n := 0
	switch id {
	case svcAddNodesRequest:
		n = r.arrayLen(20)
		for i := 0; i < n && r.err == nil; i++ {
			parent := r.expandedNodeID()
			r.nodeID()         // reference type
			r.expandedNodeID() // requested new node id
			name := r.qualifiedName()
			r.skip(4) // node class
			r.extensionObject()
			r.expandedNodeID() // type definition
			if r.err == nil && len(nodes) < maxEvidenceNodes {
				nodes = append(nodes, parent.String()+"/"+clip(name, 256))
			}
		}
	case svcAddReferencesRequest:
		n = r.arrayLen(15)
		for i := 0; i < n && r.err == nil; i++ {
			src := r.nodeID()
			r.nodeID() // reference type
			r.skip(1)  // is forward
			r.bytes()  // target server uri
			dst := r.expandedNodeID()
			r.skip(4) // target node class
			if r.err == nil && len(nodes) < maxEvidenceNodes {
				nodes = append(nodes, src.String()+" -> "+dst.String())
			}
		}
	case svcDeleteNodesRequest:
		n = r.arrayLen(3)
		for i := 0; i < n && r.err == nil; i++ {
			node := r.nodeID()
			r.skip(1) // delete target references
			if r.err == nil && len(nodes) < maxEvidenceNodes {
				nodes = append(nodes, node.String())
			}
		}
	case svcDeleteReferencesRequest:
		n = r.arrayLen(8)
		for i := 0; i < n && r.err == nil; i++ {
			src := r.nodeID()
			r.nodeID() // reference type
			r.skip(1)  // is forward
			dst := r.expandedNodeID()
			r.skip(1) // delete bidirectional
			if r.err == nil && len(nodes) < maxEvidenceNodes {
				nodes = append(nodes, src.String()+" -> "+dst.String())
			}
		}
	}
	if r.err != nil {
		return
	}
	f.nodeMgmt++
	name := serviceNames[id]
	if !a.quietOK(quietKey{kind: KindNodeManagement, client: s.clientIP, server: s.server, detail: name}, ts) {
		return
	}
	a.raise(Alert{
		Kind: KindNodeManagement, Severity: SeverityHigh, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
		Service:  name,
		Message:  "OPC UA address space modified (" + name + ")",
		Evidence: map[string]any{"items": n, "nodes": nodes, "security_mode": modeName(s.mode)},
	})
}
