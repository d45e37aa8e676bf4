package opcua

import (
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// Analyzer turns the chunks of many OPC UA Binary sessions into counts,
// device and flow tables and alerts. Every table is bounded (LRU). It is not
// safe for concurrent use: one capture goroutine owns it and its sessions.
type Analyzer struct {
	cfg Config

	stats   counters
	devices *bounded.LRU[devKey, deviceState]
	clients *bounded.LRU[netip.Addr, clientState]
	flows   *bounded.LRU[flowKey, flowState]
	quiet   *bounded.Quiet[quietKey]
	alerts  *bounded.Queue[Alert]

	// buffered is the capacity of the partial chunk and message buffers
	// held by the sessions and the free list, within MaxBufferedBytes.
	buffered int
	// free holds released buffers of at most maxFreeBufCap bytes for reuse,
	// so that steady traffic does not allocate.
	free [][]byte
}

// Buffer pool bounds: released buffers up to maxFreeBufCap bytes are kept
// for reuse, at most maxFreeBufs of them (counted in MaxBufferedBytes).
const (
	maxFreeBufs   = 16
	maxFreeBufCap = 64 << 10
	minBufCap     = 512
)

// grow returns b, or a copy of it, with room for need bytes (need <= limit),
// reusing a released buffer or allocating within MaxBufferedBytes. ok is
// false, and b returned unchanged, when the budget has no room.
func (a *Analyzer) grow(b []byte, need, limit int) (_ []byte, ok bool) {
	if need <= cap(b) {
		return b, true
	}
	for i := len(a.free) - 1; i >= 0; i-- {
		if f := a.free[i]; cap(f) >= need {
			last := len(a.free) - 1
			a.free[i], a.free[last] = a.free[last], nil
			a.free = a.free[:last]
			f = append(f[:0], b...)
			a.putBuf(b)
			return f, true
		}
	}
	n := min(max(need, 2*cap(b), minBufCap), max(limit, need))
	for a.buffered+n > a.cfg.MaxBufferedBytes && len(a.free) > 0 {
		last := len(a.free) - 1
		a.buffered -= cap(a.free[last])
		a.free[last] = nil
		a.free = a.free[:last]
	}
	if a.buffered+n > a.cfg.MaxBufferedBytes {
		return b, false
	}
	a.buffered += n
	nb := make([]byte, len(b), n)
	copy(nb, b)
	a.putBuf(b)
	return nb, true
}

// putBuf gives b back (to the free list, or to the budget) and returns nil.
func (a *Analyzer) putBuf(b []byte) []byte {
	switch {
	case cap(b) == 0:
	case cap(b) <= maxFreeBufCap && len(a.free) < maxFreeBufs:
		a.free = append(a.free, b[:0])
	default:
		a.buffered -= cap(b)
	}
	return nil
}

// BufferedBytes returns the bytes held for partial chunks and messages over
// all sessions (free buffers kept for reuse included); at most
// Config.MaxBufferedBytes.
func (a *Analyzer) BufferedBytes() int { return a.buffered }

// DroppedOverBudget returns how many partial chunks and messages were
// dropped because Config.MaxBufferedBytes was reached (Stats.DroppedOverBudget).
func (a *Analyzer) DroppedOverBudget() uint64 { return a.stats.overBudget }

// counters are the capture-wide figures behind Stats.
type counters struct {
	messages, malformed uint64
	overBudget          uint64
	strBytes            int // bytes of policies and urls (statsStringsMax)
	types               [numTypes]uint64
	policies, urls      map[string]struct{}
	services            map[uint32]uint64
	servers             map[netip.AddrPort]struct{}
}

const (
	roleServer uint8 = iota + 1
	roleClient
)

type devKey struct {
	role uint8
	addr netip.AddrPort // port 0 for clients
}

type flowKey struct {
	client netip.Addr
	server netip.AddrPort
}

// maxPolicyURILen bounds a security policy URI kept from an OPN (the
// standard ones are under 80 bytes): every session keeps its channel's, so
// with MaxStringLen alone 65,536 connections could pin 256 MiB.
const maxPolicyURILen = 256

const (
	maxDeviceCerts     = 8
	maxDeviceEndpoints = 32
	maxDeviceURLs      = 8
	maxFlowNodes       = 16
	maxFlowServices    = 256
)

type deviceState struct {
	first, last                 time.Time
	appURI, appName, productURI string
	appType                     string
	urls, policies              []string
	certs                       []Certificate
	endpoints                   []Endpoint
}

type clientState struct {
	wrote, called bool
	win           clientWindow
}

// clientWindow holds one client's counters for the current detection window.
type clientWindow struct {
	start      time.Time
	authFails  int
	errs       int
	firedBrute bool
	firedErr   bool
}

type flowState struct {
	first, last                  time.Time
	services                     map[uint32]uint64
	policy                       string
	mode                         uint32
	channels                     []channelCount
	endpointURL                  string
	tokens                       [4]bool
	messages, malformed, errs    uint64
	faults, badStatus, encrypted uint64
	writes, calls, nodeMgmt      uint64
	bytesToServer, bytesToClient uint64
	written, methods             []string
}

// channelCount counts the secure channels of a flow with one security
// policy and mode.
type channelCount struct {
	policy string
	mode   uint32
	n      uint64
}

// maxFlowChannelKinds bounds the distinct (policy, mode) pairs kept per
// flow; channels of further pairs are not listed.
const maxFlowChannelKinds = 8

// countChannel counts the session's channel under its current policy and
// mode in f, moving it from the pair it was counted under before (a
// secured channel's mode is learnt from its first MSG chunk). A session
// follows one TCP connection and counts as one channel; renewals on it
// change nothing.
func (s *Session) countChannel(f *flowState) {
	if s.chCounted && s.chPolicy == s.policy && s.chMode == s.mode {
		return
	}
	if s.chCounted {
		for i := range f.channels {
			c := &f.channels[i]
			if c.policy == s.chPolicy && c.mode == s.chMode {
				if c.n--; c.n == 0 {
					f.channels = append(f.channels[:i], f.channels[i+1:]...)
				}
				break
			}
		}
	}
	s.chPolicy, s.chMode, s.chCounted = s.policy, s.mode, true
	for i := range f.channels {
		if c := &f.channels[i]; c.policy == s.policy && c.mode == s.mode {
			c.n++
			return
		}
	}
	if len(f.channels) < maxFlowChannelKinds {
		f.channels = append(f.channels, channelCount{policy: s.policy, mode: s.mode, n: 1})
	}
}

// ChannelSecurity counts the secure channels (TCP connections) of a flow
// with one security policy and mode.
type ChannelSecurity struct {
	// Policy is the short name of the policy (the URI's fragment, as None
	// or Basic256Sha256); PolicyURI the full URI.
	Policy    string `json:"policy"`
	PolicyURI string `json:"policy_uri"`
	// Mode is None, Sign, SignAndEncrypt or SignOrEncrypt (secured, no
	// message chunk seen yet to tell which).
	Mode     string `json:"mode"`
	Channels uint64 `json:"channels"`
}

// policyShortName returns the fragment of a security policy URI ("None"
// for ".../SecurityPolicy#None"), or the URI when it has none.
func policyShortName(uri string) string {
	if i := strings.LastIndexByte(uri, '#'); i >= 0 && i+1 < len(uri) {
		return uri[i+1:]
	}
	return uri
}

// NewAnalyzer returns an Analyzer with cfg (zero fields take defaults).
func NewAnalyzer(cfg Config) *Analyzer {
	cfg = cfg.withDefaults()
	a := &Analyzer{
		cfg: cfg,
		stats: counters{
			policies: make(map[string]struct{}), urls: make(map[string]struct{}),
			services: make(map[uint32]uint64), servers: make(map[netip.AddrPort]struct{}),
		},
		devices: bounded.NewLRU[devKey, deviceState](cfg.MaxDevices),
		clients: bounded.NewLRU[netip.Addr, clientState](cfg.MaxClients),
		flows:   bounded.NewLRU[flowKey, flowState](cfg.MaxFlows),
		quiet:   bounded.NewQuiet[quietKey](4*cfg.MaxClients, cfg.Window),
		alerts:  bounded.NewQueue[Alert](cfg.MaxAlerts),
	}
	a.setBudgets()
	return a
}

// Config returns the effective configuration (defaults filled in).
func (a *Analyzer) Config() Config { return a.cfg }

// Certificate describes an X.509 application instance certificate seen on
// the wire (OPN sender certificate, CreateSession or GetEndpoints).
type Certificate struct {
	// Thumbprint is the SHA-1 of the DER certificate in lower-case hex, as
	// OPC UA identifies certificates.
	Thumbprint string `json:"thumbprint"`
	// Subject and Issuer are the distinguished names (RFC 2253 form); empty
	// when the certificate could not be parsed.
	Subject   string    `json:"subject,omitempty"`
	Issuer    string    `json:"issuer,omitempty"`
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	// URI is the first URI subject alternative name (the application URI).
	URI string `json:"uri,omitempty"`
	// ParseError is set when crypto/x509 rejected the certificate.
	ParseError string `json:"parse_error,omitempty"`
}

// Endpoint is one endpoint a server offered in a GetEndpoints or
// CreateSession response.
type Endpoint struct {
	URL               string `json:"url"`
	SecurityPolicyURI string `json:"security_policy_uri"`
	// SecurityMode is None, Sign, SignAndEncrypt or Invalid.
	SecurityMode string `json:"security_mode"`
	// UserTokenTypes are Anonymous, UserName, Certificate or IssuedToken,
	// with the token policy's security policy after a slash when it has one.
	UserTokenTypes []string `json:"user_token_types"`
	// ServerCertificateThumbprint is the SHA-1 (hex) of the endpoint's server
	// certificate, empty when none.
	ServerCertificateThumbprint string `json:"server_certificate_thumbprint,omitempty"`
	SecurityLevel               uint8  `json:"security_level"`
}

// Device is what the analyzer knows of one OPC UA application: a server
// (ip:port) or a client (ip, port 0).
type Device struct {
	// Role is "server" or "client".
	Role string `json:"role"`
	// Addr is the server ip:port, or the client ip with port 0.
	Addr netip.AddrPort `json:"addr"`
	// ApplicationURI, ApplicationName and ProductURI come from the
	// ApplicationDescription (CreateSession request for clients, endpoints
	// for servers).
	ApplicationURI  string `json:"application_uri,omitempty"`
	ApplicationName string `json:"application_name,omitempty"`
	ProductURI      string `json:"product_uri,omitempty"`
	// ApplicationType is Server, Client, ClientAndServer or DiscoveryServer.
	ApplicationType string `json:"application_type,omitempty"`
	// EndpointURLs are the URLs of Hello messages (servers) or asked for
	// in CreateSession, at most 8.
	EndpointURLs []string `json:"endpoint_urls,omitempty"`
	// SecurityPolicies are the policy URIs of the secure channels opened
	// (at most 8).
	SecurityPolicies []string `json:"security_policies,omitempty"`
	// Certificates seen for this application (at most 8).
	Certificates []Certificate `json:"certificates,omitempty"`
	// Endpoints offered by a server (at most 32).
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
}

// ServiceCount counts one service type in a flow.
type ServiceCount struct {
	// ID is the numeric NodeId of the service's binary encoding.
	ID    uint32 `json:"id"`
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// Flow summarises the traffic between one client ip and one server ip:port
// over all their connections.
type Flow struct {
	Client netip.Addr     `json:"client"`
	Server netip.AddrPort `json:"server"`
	// Services are the decoded service types with counts, by id (at most
	// 256 distinct).
	Services []ServiceCount `json:"services"`
	// SecurityPolicyURI is that of the last OPN; SecurityMode the mode of the
	// last OpenSecureChannelRequest in clear (None), or SignOrEncrypt when
	// the channel is secured and its mode unknown, Sign when signed bodies
	// were read, SignAndEncrypt when they were not.
	SecurityPolicyURI string `json:"security_policy_uri,omitempty"`
	SecurityMode      string `json:"security_mode,omitempty"`
	// Security counts the flow's secure channels per policy and mode, in
	// the order first seen (at most 8 pairs), so that a None discovery
	// channel before a secured session shows next to it.
	Security []ChannelSecurity `json:"security,omitempty"`
	// EndpointURL is the endpoint of the last Hello or CreateSession.
	EndpointURL string `json:"endpoint_url,omitempty"`
	// IdentityTokens are the ActivateSession identity token types seen.
	IdentityTokens []string `json:"identity_tokens,omitempty"`
	Messages       uint64   `json:"messages"`
	// Encrypted counts MSG/CLO chunks whose body could not be read.
	Encrypted uint64 `json:"encrypted"`
	Malformed uint64 `json:"malformed"`
	// Errors counts ERR chunks; ServiceFaults ServiceFault responses;
	// BadStatus other responses with a Bad service result.
	Errors        uint64 `json:"errors"`
	ServiceFaults uint64 `json:"service_faults"`
	BadStatus     uint64 `json:"bad_status"`
	// Writes, Calls and NodeManagement count those requests; WrittenNodes and
	// CalledMethods ("object method") keep the first 16 distinct targets.
	Writes         uint64    `json:"writes"`
	Calls          uint64    `json:"calls"`
	NodeManagement uint64    `json:"node_management"`
	WrittenNodes   []string  `json:"written_nodes,omitempty"`
	CalledMethods  []string  `json:"called_methods,omitempty"`
	BytesToServer  uint64    `json:"bytes_to_server"`
	BytesToClient  uint64    `json:"bytes_to_client"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
}

var roleNames = [3]string{"", "server", "client"}

// Devices returns the server and client tables, servers first, each sorted
// by address. The result is a copy.
func (a *Analyzer) Devices() []Device { return a.devicesOf(0) }

// Clients returns the client applications only, sorted by address. The
// result is a copy.
func (a *Analyzer) Clients() []Device { return a.devicesOf(roleClient) }

func (a *Analyzer) devicesOf(role uint8) []Device {
	out := make([]Device, 0, a.devices.Len())
	a.devices.Each(func(n *bounded.Node[devKey, deviceState]) {
		if role != 0 && n.Key.role != role {
			return
		}
		d := &n.Val
		dv := Device{
			Role: roleNames[n.Key.role], Addr: n.Key.addr,
			ApplicationURI: d.appURI, ApplicationName: d.appName, ProductURI: d.productURI,
			ApplicationType:  d.appType,
			EndpointURLs:     append([]string(nil), d.urls...),
			SecurityPolicies: append([]string(nil), d.policies...),
			Certificates:     append([]Certificate(nil), d.certs...),
			FirstSeen:        d.first, LastSeen: d.last,
		}
		for _, e := range d.endpoints {
			e.UserTokenTypes = append([]string(nil), e.UserTokenTypes...)
			dv.Endpoints = append(dv.Endpoints, e)
		}
		out = append(out, dv)
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role == "server"
		}
		return out[i].Addr.Compare(out[j].Addr) < 0
	})
	return out
}

var tokenNames = [4]string{"Anonymous", "UserName", "Certificate", "IssuedToken"}

// Flows returns the flow table, sorted by client then server. The result is
// a copy.
func (a *Analyzer) Flows() []Flow {
	out := make([]Flow, 0, a.flows.Len())
	a.flows.Each(func(n *bounded.Node[flowKey, flowState]) {
		f := &n.Val
		fl := Flow{
			Client: n.Key.client, Server: n.Key.server,
			SecurityPolicyURI: f.policy, SecurityMode: modeName(f.mode), EndpointURL: f.endpointURL,
			Messages: f.messages, Encrypted: f.encrypted, Malformed: f.malformed,
			Errors: f.errs, ServiceFaults: f.faults, BadStatus: f.badStatus,
			Writes: f.writes, Calls: f.calls, NodeManagement: f.nodeMgmt,
			WrittenNodes: append([]string(nil), f.written...), CalledMethods: append([]string(nil), f.methods...),
			BytesToServer: f.bytesToServer, BytesToClient: f.bytesToClient,
			FirstSeen: f.first, LastSeen: f.last,
		}
		for _, c := range f.channels {
			fl.Security = append(fl.Security, ChannelSecurity{
				Policy: policyShortName(c.policy), PolicyURI: c.policy, Mode: modeName(c.mode), Channels: c.n,
			})
		}
		for i, ok := range f.tokens {
			if ok {
				fl.IdentityTokens = append(fl.IdentityTokens, tokenNames[i])
			}
		}
		for id, c := range f.services {
			name, _ := ServiceName(id)
			fl.Services = append(fl.Services, ServiceCount{ID: id, Name: name, Count: c})
		}
		sort.Slice(fl.Services, func(i, j int) bool { return fl.Services[i].ID < fl.Services[j].ID })
		out = append(out, fl)
	})
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Client.Compare(out[j].Client); c != 0 {
			return c < 0
		}
		return out[i].Server.Compare(out[j].Server) < 0
	})
	return out
}

// Security modes (MessageSecurityMode values, plus passive inferences).
const (
	modeInvalid        = 0
	modeNone           = 1
	modeSign           = 2
	modeSignAndEncrypt = 3
	modeSecured        = 100 // OPN with a policy other than None, mode not yet known
)

func modeName(m uint32) string {
	switch m {
	case modeNone:
		return "None"
	case modeSign:
		return "Sign"
	case modeSignAndEncrypt:
		return "SignAndEncrypt"
	case modeSecured:
		return "SignOrEncrypt"
	case modeInvalid:
		return ""
	}
	return "Invalid"
}

// TakeAlerts returns the alerts raised since the last call, oldest first,
// and forgets them.
func (a *Analyzer) TakeAlerts() []Alert { return a.alerts.Take() }

// AlertsDropped returns how many alerts were dropped because MaxAlerts were
// already waiting for TakeAlerts.
func (a *Analyzer) AlertsDropped() uint64 { return a.alerts.Dropped }

// Evictions returns how many entries each bounded table has evicted so far.
func (a *Analyzer) Evictions() (devices, clients, flows uint64) {
	return a.devices.Evicted, a.clients.Evicted, a.flows.Evicted
}

// addString appends s to *list unless present or the list holds max.
func addString(list *[]string, s string, max int) {
	if s == "" || len(*list) >= max {
		return
	}
	for _, x := range *list {
		if x == s {
			return
		}
	}
	*list = append(*list, s)
}
