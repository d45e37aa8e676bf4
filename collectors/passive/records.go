package passive

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
	"github.com/edgeward/edgeward/collectors/passive/modbus"
	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// Record kinds emitted by the passive collector.
const (
	KindAsset = "net.asset"
	KindFlow  = "net.flow"
)

// Asset is the body of a net.asset record: one IP address seen in
// industrial protocol traffic.
type Asset struct {
	IP        string   `json:"ip"`
	MAC       string   `json:"mac,omitempty"`
	Vendor    string   `json:"vendor,omitempty"` // OUI organisation of MAC
	Roles     []string `json:"roles"`            // "client" and/or "server"
	Protocols []string `json:"protocols"`        // "modbus", "opcua", sorted
	Ports     []int    `json:"ports,omitempty"`  // server ports
	// UnitIDs are the Modbus unit ids that answered a request normally:
	// the device's units. UnitIDsRefused are those addressed on it that
	// only ever refused (exception, as a gateway's 10 and 11 for absent
	// units) or did not answer; unit 0 used for broadcasts is in neither.
	UnitIDs        []int      `json:"unit_ids,omitempty"`
	UnitIDsRefused []int      `json:"unit_ids_refused,omitempty"`
	Identity       []Identity `json:"identity,omitempty"`
	// OPCUA are the OPC UA applications at this address: one per server
	// port, and one for the client role.
	OPCUA     []OPCUAApplication `json:"opcua,omitempty"`
	FirstSeen time.Time          `json:"first_seen"`
	LastSeen  time.Time          `json:"last_seen"`
	// activeOnly marks an asset known only from active identification:
	// its times are the identification's, not capture times.
	activeOnly bool
}

// OPCUAApplication is an OPC UA server or client seen passively: its
// application description (from CreateSession requests for clients,
// GetEndpoints or CreateSession responses for servers), the URLs it was
// reached at, the security policies of its secure channels, its
// certificates and, for a server, the endpoints it offers.
type OPCUAApplication struct {
	// Role is "server" or "client"; Port is the server's TCP port (0 for
	// a client).
	Role            string `json:"role"`
	Port            int    `json:"port,omitempty"`
	ApplicationURI  string `json:"application_uri,omitempty"`
	ApplicationName string `json:"application_name,omitempty"`
	ProductURI      string `json:"product_uri,omitempty"`
	// ApplicationType is Server, Client, ClientAndServer or DiscoveryServer.
	ApplicationType  string              `json:"application_type,omitempty"`
	EndpointURLs     []string            `json:"endpoint_urls,omitempty"`
	SecurityPolicies []string            `json:"security_policies,omitempty"`
	Certificates     []opcua.Certificate `json:"certificates,omitempty"`
	Endpoints        []opcua.Endpoint    `json:"endpoints,omitempty"`
	// BuildInfo is the server's build information, read by active
	// identification.
	BuildInfo *BuildInfo `json:"build_info,omitempty"`
	// Source is "passive" (seen in the traffic, Time the last traffic) or
	// "active" (asked for by active identification at Time).
	Source string    `json:"source"`
	Time   time.Time `json:"time"`
}

// Identity is a device identity from FC 43/14 responses: seen in the
// traffic (Source "passive", Time the device's last traffic) or asked for
// by active identification (Source "active", Time of the identification).
// Objects is keyed by object id in decimal (0 vendor, 1 product code,
// 2 revision, 3 vendor URL, 4 product name, 5 model name, ...).
type Identity struct {
	Port     int               `json:"port"`
	UnitID   int               `json:"unit_id"`
	Vendor   string            `json:"vendor,omitempty"`
	Product  string            `json:"product,omitempty"`
	Revision string            `json:"revision,omitempty"`
	Objects  map[string]string `json:"objects"`
	Source   string            `json:"source"`
	Time     time.Time         `json:"time"`
}

// Flow is the body of a net.flow record: the cumulative traffic between one
// client IP and one server ip:port. Protocol is "modbus" or "opcua"; the
// Modbus fields (function codes, unit ids, address ranges) are empty for
// OPC UA and the OPC UA fields (services to identity tokens) for Modbus.
type Flow struct {
	Protocol      string                   `json:"protocol"`
	Client        string                   `json:"client"`
	Server        string                   `json:"server"`
	FunctionCodes map[string]FunctionCount `json:"function_codes,omitempty"`
	UnitIDs       []int                    `json:"unit_ids,omitempty"`
	Read          modbus.AddressRanges     `json:"read,omitzero"`
	Written       modbus.AddressRanges     `json:"written,omitzero"`
	// Modbus unit ids, Read and Written are those of requests answered
	// normally. Refused holds the requests answered by an exception, per
	// exception code; NoResponse those without a response; Broadcasts
	// counts requests to unit 0 without a response (by design, never
	// unanswered).
	Refused    []ModbusOutcome `json:"refused,omitempty"`
	NoResponse *ModbusOutcome  `json:"no_response,omitempty"`
	Broadcasts uint64          `json:"broadcasts,omitempty"`
	// Services counts the OPC UA service types (requests and responses)
	// decoded, by type id.
	Services []opcua.ServiceCount `json:"services,omitempty"`
	// SecurityPolicyURI and SecurityMode are those of the flow's last
	// secure channel (mode None, Sign, SignAndEncrypt, or SignOrEncrypt
	// while unknown); EndpointURL that of its last Hello or CreateSession;
	// IdentityTokens the ActivateSession token types seen.
	SecurityPolicyURI string   `json:"security_policy_uri,omitempty"`
	SecurityMode      string   `json:"security_mode,omitempty"`
	EndpointURL       string   `json:"endpoint_url,omitempty"`
	IdentityTokens    []string `json:"identity_tokens,omitempty"`
	// Security counts the secure channels (connections) of the flow per
	// policy and mode, so a None discovery channel before a secured
	// session shows next to it.
	Security []opcua.ChannelSecurity `json:"security,omitempty"`
	// Messages counts OPC UA chunks; Encrypted the MSG/CLO chunks whose
	// body was not readable; Errors ERR chunks; ServiceFaults and
	// BadStatus failed responses; Writes, Calls and NodeManagement those
	// requests, with their first targets in WrittenNodes and CalledMethods.
	Messages       uint64   `json:"messages,omitempty"`
	Encrypted      uint64   `json:"encrypted,omitempty"`
	Errors         uint64   `json:"errors,omitempty"`
	ServiceFaults  uint64   `json:"service_faults,omitempty"`
	BadStatus      uint64   `json:"bad_status,omitempty"`
	Writes         uint64   `json:"writes,omitempty"`
	Calls          uint64   `json:"calls,omitempty"`
	NodeManagement uint64   `json:"node_management,omitempty"`
	WrittenNodes   []string `json:"written_nodes,omitempty"`
	CalledMethods  []string `json:"called_methods,omitempty"`
	// LocalProcess owns this host's end of the flow's latest attributed
	// connection (live capture with Config.AttributeLocal; nil otherwise
	// or when the owner could not be seen).
	LocalProcess *LocalProcess `json:"local_process,omitempty"`
	// Requests and Responses count Modbus ADUs, or OPC UA service messages
	// whose type name ends in Request, or Response (ServiceFault included).
	Requests      uint64    `json:"requests"`
	Responses     uint64    `json:"responses"`
	Exceptions    uint64    `json:"exceptions"`
	Unanswered    uint64    `json:"unanswered"`
	Unmatched     uint64    `json:"unmatched"`
	Malformed     uint64    `json:"malformed"`
	BytesToServer uint64    `json:"bytes_to_server"`
	BytesToClient uint64    `json:"bytes_to_client"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
}

// ModbusOutcome is the unit ids, function codes and address ranges of the
// Modbus requests of one outcome in a Flow: refused with one exception
// code, or not answered (Exception 0).
type ModbusOutcome struct {
	Exception     int                  `json:"exception,omitempty"`
	Requests      uint64               `json:"requests"`
	UnitIDs       []int                `json:"unit_ids"`
	FunctionCodes []int                `json:"function_codes"`
	Read          modbus.AddressRanges `json:"read,omitzero"`
	Written       modbus.AddressRanges `json:"written,omitzero"`
}

func modbusOutcomeOf(o modbus.Outcome) ModbusOutcome {
	return ModbusOutcome{
		Exception: int(o.Exception), Requests: o.Requests, UnitIDs: intsOf(o.UnitIDs), FunctionCodes: intsOf(o.FunctionCodes),
		Read: o.Read, Written: o.Written,
	}
}

func intsOf(v []uint8) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// FunctionCount counts one function code of a Flow.
type FunctionCount struct {
	Name       string `json:"name"`
	Class      string `json:"class"`
	Requests   uint64 `json:"requests"`
	Responses  uint64 `json:"responses"`
	Exceptions uint64 `json:"exceptions"`
}

// Event is the body of a threat record raised by a protocol analyzer.
// Suppressed counts the events of the same kind and source that the rate
// limit held back since the previous one was emitted.
type Event struct {
	Kind     string    `json:"kind"`
	Severity string    `json:"severity"`
	Time     time.Time `json:"time"`
	Message  string    `json:"message"`
	Client   string    `json:"client"`
	Server   string    `json:"server,omitempty"`
	UnitID   *int      `json:"unit_id,omitempty"`  // Modbus
	Function *int      `json:"function,omitempty"` // Modbus
	Service  string    `json:"service,omitempty"`  // OPC UA service type name
	// Outcome is what became of the Modbus request that raised the event:
	// executed, refused:exception N, unanswered or broadcast (empty for
	// window detections and OPC UA).
	Outcome    string         `json:"outcome,omitempty"`
	Evidence   map[string]any `json:"evidence"`
	Suppressed uint64         `json:"suppressed"`
	// LocalProcess owns the client end of the connection that raised the
	// event when that end is this host (live capture with
	// Config.AttributeLocal), as the engineering software sending a write.
	LocalProcess *LocalProcess `json:"local_process,omitempty"`
}

// rateLimiter lets one event per (kind, source) through per interval and
// counts the rest. Its table is a bounded LRU: when full, the key used
// least recently is forgotten (and what it was suppressing counted as
// dropped), in an order that depends only on the input.
type rateLimiter struct {
	interval time.Duration
	t        *bounded.LRU[rateKey, rateState]
	dropped  uint64 // suppressed events of keys forgotten before they were reported
}

type rateKey struct {
	kind   string
	source netip.Addr
}

type rateState struct {
	last       time.Time
	suppressed uint64
}

func newRateLimiter(interval time.Duration, max int) *rateLimiter {
	r := &rateLimiter{interval: interval, t: bounded.NewLRU[rateKey, rateState](max)}
	r.t.OnEvict = func(n *bounded.Node[rateKey, rateState]) { r.dropped += n.Val.suppressed }
	return r
}

// allow reports whether an event of kind from source at ts may be emitted,
// and how many were suppressed before it. An event earlier than the last
// one emitted (capture time went back: files replayed out of order, the
// wall clock stepped back during a live capture) is emitted, as
// bounded.Quiet does in the analyzers; otherwise a clock stepped back by an
// hour would silence the key for an hour.
func (r *rateLimiter) allow(kind string, source netip.Addr, ts time.Time) (bool, uint64) {
	n, added := r.t.GetOrAdd(rateKey{kind, source})
	st := &n.Val
	if added {
		st.last = ts
		return true, 0
	}
	if !ts.Before(st.last) && ts.Sub(st.last) < r.interval {
		st.suppressed++
		return false, 0
	}
	k := st.suppressed
	st.last, st.suppressed = ts, 0
	return true, k
}

// severity maps an analyzer severity to a record severity.
func severity(s string) collectors.Severity {
	switch v := collectors.Severity(s); v {
	case collectors.SeverityInfo, collectors.SeverityLow, collectors.SeverityMedium,
		collectors.SeverityHigh, collectors.SeverityCritical:
		return v
	}
	return collectors.SeverityMedium
}

// eventOf converts a modbus alert.
func eventOf(a modbus.Alert, suppressed uint64) Event {
	ev := Event{
		Kind: a.Kind, Severity: string(severity(a.Severity)), Time: a.Time.UTC(), Message: a.Message,
		Client: a.Client.String(), Evidence: a.Evidence, Suppressed: suppressed, Outcome: a.Outcome,
	}
	if ev.Evidence == nil {
		ev.Evidence = map[string]any{}
	}
	if a.Server.IsValid() {
		ev.Server = a.Server.String()
		u, f := int(a.UnitID), int(a.Function)
		ev.UnitID, ev.Function = &u, &f
	}
	return ev
}

// opcuaEventOf converts an OPC UA alert.
func opcuaEventOf(a opcua.Alert, suppressed uint64) Event {
	ev := Event{
		Kind: a.Kind, Severity: string(severity(a.Severity)), Time: a.Time.UTC(), Message: a.Message,
		Client: a.Client.String(), Service: a.Service, Evidence: a.Evidence, Suppressed: suppressed,
	}
	if ev.Evidence == nil {
		ev.Evidence = map[string]any{}
	}
	if a.Server.IsValid() {
		ev.Server = a.Server.String()
	}
	return ev
}

// eventRecord wraps an Event.
func eventRecord(ev Event) collectors.Record {
	return collectors.Record{
		Class: collectors.ClassThreat, Kind: ev.Kind, Time: ev.Time, Severity: collectors.Severity(ev.Severity),
		Key: ev.Kind + ":" + ev.Client, Body: ev,
	}
}

// flowOf converts a modbus flow.
func flowOf(f modbus.Flow) Flow {
	out := Flow{
		Protocol: "modbus", Client: f.Client.String(), Server: f.Server.String(),
		FunctionCodes: make(map[string]FunctionCount, len(f.FunctionCodes)),
		Read:          f.Read, Written: f.Written,
		Requests: f.Requests, Responses: f.Responses, Exceptions: f.Exceptions,
		Unanswered: f.Unanswered, Unmatched: f.Unmatched, Malformed: f.Malformed,
		BytesToServer: f.BytesToServer, BytesToClient: f.BytesToClient,
		FirstSeen: f.FirstSeen.UTC(), LastSeen: f.LastSeen.UTC(), Broadcasts: f.Broadcasts,
	}
	for _, o := range f.Refused {
		out.Refused = append(out.Refused, modbusOutcomeOf(o))
	}
	if f.NoResponse != nil {
		o := modbusOutcomeOf(*f.NoResponse)
		out.NoResponse = &o
	}
	for _, u := range f.UnitIDs {
		out.UnitIDs = append(out.UnitIDs, int(u))
	}
	for _, c := range f.FunctionCodes {
		out.FunctionCodes[strconv.Itoa(int(c.Function))] = FunctionCount{
			Name: c.Name, Class: c.Class, Requests: c.Requests, Responses: c.Responses, Exceptions: c.Exceptions,
		}
	}
	return out
}

// opcuaFlowOf converts an OPC UA flow.
func opcuaFlowOf(f opcua.Flow) Flow {
	out := Flow{
		Protocol: "opcua", Client: f.Client.String(), Server: f.Server.String(),
		Services:          f.Services,
		SecurityPolicyURI: f.SecurityPolicyURI, SecurityMode: f.SecurityMode, EndpointURL: f.EndpointURL,
		IdentityTokens: f.IdentityTokens, Security: f.Security, Messages: f.Messages, Encrypted: f.Encrypted,
		Errors: f.Errors, ServiceFaults: f.ServiceFaults, BadStatus: f.BadStatus,
		Writes: f.Writes, Calls: f.Calls, NodeManagement: f.NodeManagement,
		WrittenNodes: f.WrittenNodes, CalledMethods: f.CalledMethods, Malformed: f.Malformed,
		BytesToServer: f.BytesToServer, BytesToClient: f.BytesToClient,
		FirstSeen: f.FirstSeen.UTC(), LastSeen: f.LastSeen.UTC(),
	}
	for _, sc := range f.Services {
		switch {
		case strings.HasSuffix(sc.Name, "Request"):
			out.Requests += sc.Count
		case strings.HasSuffix(sc.Name, "Response"), sc.Name == "ServiceFault":
			out.Responses += sc.Count
		}
	}
	return out
}

// flowKeyOf is the record key of a flow.
func flowKeyOf(f Flow) string { return f.Protocol + ":" + f.Client + "->" + f.Server }

// buildAssets merges the analyzers' devices and clients per IP and adds the
// MAC address and its vendor.
func buildAssets(devs []modbus.Device, clients []modbus.Client, apps []opcua.Device, macs *bounded.LRU[netip.Addr, [6]byte], oui *ouiTable) []Asset {
	byIP := map[netip.Addr]*Asset{}
	get := func(ip netip.Addr, proto string, first, last time.Time) *Asset {
		a := byIP[ip]
		if a == nil {
			a = &Asset{IP: ip.String(), FirstSeen: first.UTC(), LastSeen: last.UTC()}
			if n := macs.Peek(ip); n != nil {
				mac := n.Val
				a.MAC = net.HardwareAddr(mac[:]).String()
				a.Vendor = oui.vendor(mac)
			}
			byIP[ip] = a
		}
		a.Protocols = appendUniqueString(a.Protocols, proto)
		if first.Before(a.FirstSeen) {
			a.FirstSeen = first.UTC()
		}
		if last.After(a.LastSeen) {
			a.LastSeen = last.UTC()
		}
		return a
	}
	for _, d := range devs {
		a := get(d.Server.Addr().Unmap(), "modbus", d.FirstSeen, d.LastSeen)
		a.Roles = appendUniqueString(a.Roles, "server")
		a.Ports = appendUnique(a.Ports, int(d.Server.Port()))
		for _, u := range d.UnitIDs {
			a.UnitIDs = appendUnique(a.UnitIDs, int(u))
		}
		for _, o := range slices.Concat(d.Refused, ptrList(d.NoResponse)) {
			for _, u := range o.UnitIDs {
				a.UnitIDsRefused = appendUnique(a.UnitIDsRefused, int(u))
			}
		}
		for _, id := range d.Identification {
			objs := make(map[string]string, len(id.Objects))
			for k, v := range id.Objects {
				objs[strconv.Itoa(int(k))] = v
			}
			a.Identity = append(a.Identity, Identity{
				Port: int(d.Server.Port()), UnitID: int(id.UnitID), Objects: objs,
				Vendor: id.Objects[0], Product: id.Objects[1], Revision: id.Objects[2],
				Source: SourcePassive, Time: d.LastSeen.UTC(),
			})
		}
	}
	for _, c := range clients {
		a := get(c.Addr.Unmap(), "modbus", c.FirstSeen, c.LastSeen)
		a.Roles = appendUniqueString(a.Roles, "client")
	}
	for _, d := range apps {
		a := get(d.Addr.Addr().Unmap(), "opcua", d.FirstSeen, d.LastSeen)
		a.Roles = appendUniqueString(a.Roles, d.Role)
		app := OPCUAApplication{
			Role: d.Role, ApplicationURI: d.ApplicationURI, ApplicationName: d.ApplicationName,
			ProductURI: d.ProductURI, ApplicationType: d.ApplicationType, EndpointURLs: d.EndpointURLs,
			SecurityPolicies: d.SecurityPolicies, Certificates: d.Certificates, Endpoints: d.Endpoints,
			Source: SourcePassive, Time: d.LastSeen.UTC(),
		}
		if d.Role == "server" {
			app.Port = int(d.Addr.Port())
			a.Ports = appendUnique(a.Ports, app.Port)
		}
		a.OPCUA = append(a.OPCUA, app)
	}
	out := make([]Asset, 0, len(byIP))
	for _, a := range byIP {
		sort.Ints(a.Ports)
		sort.Ints(a.UnitIDs)
		a.UnitIDsRefused = slices.DeleteFunc(a.UnitIDsRefused, func(u int) bool { return slices.Contains(a.UnitIDs, u) })
		sort.Ints(a.UnitIDsRefused)
		sort.Strings(a.Roles)
		sort.Strings(a.Protocols)
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		ai, _ := netip.ParseAddr(out[i].IP)
		aj, _ := netip.ParseAddr(out[j].IP)
		return ai.Less(aj)
	})
	return out
}

// ptrList returns o as a list of zero or one element.
func ptrList(o *modbus.Outcome) []modbus.Outcome {
	if o == nil {
		return nil
	}
	return []modbus.Outcome{*o}
}

func appendUniqueString(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func appendUnique(s []int, v int) []int {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// assetRecord wraps an Asset.
func assetRecord(a Asset, now time.Time) collectors.Record {
	return collectors.Record{Class: collectors.ClassAsset, Kind: KindAsset, Time: now.UTC(), Key: "ip:" + a.IP, Body: a}
}

// flowRecord wraps a Flow.
func flowRecord(f Flow, now time.Time) collectors.Record {
	return collectors.Record{Class: collectors.ClassActivity, Kind: KindFlow, Time: now.UTC(), Key: flowKeyOf(f), Body: f}
}

// String describes an event in one line.
func (ev Event) String() string {
	s := fmt.Sprintf("%s %s %s client=%s", ev.Time.Format(time.RFC3339), ev.Severity, ev.Kind, ev.Client)
	if ev.Server != "" {
		s += " server=" + ev.Server
	}
	s += ": " + ev.Message
	if ev.Suppressed > 0 {
		s += fmt.Sprintf(" (+%d suppressed)", ev.Suppressed)
	}
	return s
}
