package passive

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive/modbus"
)

// Record kinds emitted by the passive collector.
const (
	KindAsset = "net.asset"
	KindFlow  = "net.flow"
)

// Asset is the body of a net.asset record: one IP address seen in
// industrial protocol traffic.
type Asset struct {
	IP        string     `json:"ip"`
	MAC       string     `json:"mac,omitempty"`
	Vendor    string     `json:"vendor,omitempty"` // OUI organisation of MAC
	Roles     []string   `json:"roles"`            // "client" and/or "server"
	Protocols []string   `json:"protocols"`
	Ports     []int      `json:"ports,omitempty"`    // server ports
	UnitIDs   []int      `json:"unit_ids,omitempty"` // Modbus unit ids addressed on it
	Identity  []Identity `json:"identity,omitempty"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
}

// Identity is a device identity read passively from FC 43/14 responses.
// Objects is keyed by object id in decimal (0 vendor, 1 product code,
// 2 revision, 3 vendor URL, 4 product name, 5 model name, ...).
type Identity struct {
	Port     int               `json:"port"`
	UnitID   int               `json:"unit_id"`
	Vendor   string            `json:"vendor,omitempty"`
	Product  string            `json:"product,omitempty"`
	Revision string            `json:"revision,omitempty"`
	Objects  map[string]string `json:"objects"`
}

// Flow is the body of a net.flow record: the cumulative traffic between one
// client IP and one server ip:port.
type Flow struct {
	Protocol      string                   `json:"protocol"`
	Client        string                   `json:"client"`
	Server        string                   `json:"server"`
	FunctionCodes map[string]FunctionCount `json:"function_codes"`
	UnitIDs       []int                    `json:"unit_ids,omitempty"`
	Read          modbus.AddressRanges     `json:"read"`
	Written       modbus.AddressRanges     `json:"written"`
	Requests      uint64                   `json:"requests"`
	Responses     uint64                   `json:"responses"`
	Exceptions    uint64                   `json:"exceptions"`
	Unanswered    uint64                   `json:"unanswered"`
	Unmatched     uint64                   `json:"unmatched"`
	Malformed     uint64                   `json:"malformed"`
	BytesToServer uint64                   `json:"bytes_to_server"`
	BytesToClient uint64                   `json:"bytes_to_client"`
	FirstSeen     time.Time                `json:"first_seen"`
	LastSeen      time.Time                `json:"last_seen"`
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
	Kind       string         `json:"kind"`
	Severity   string         `json:"severity"`
	Time       time.Time      `json:"time"`
	Message    string         `json:"message"`
	Client     string         `json:"client"`
	Server     string         `json:"server,omitempty"`
	UnitID     *int           `json:"unit_id,omitempty"`
	Function   *int           `json:"function,omitempty"`
	Evidence   map[string]any `json:"evidence"`
	Suppressed uint64         `json:"suppressed"`
}

// rateLimiter lets one event per (kind, source) through per interval and
// counts the rest. Its table is bounded; when full, entries whose interval
// has passed are forgotten first.
type rateLimiter struct {
	interval time.Duration
	max      int
	m        map[rateKey]*rateState
	dropped  uint64 // entries forgotten while still suppressing
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
	return &rateLimiter{interval: interval, max: max, m: map[rateKey]*rateState{}}
}

// allow reports whether an event of kind from source at ts may be emitted,
// and how many were suppressed before it.
func (r *rateLimiter) allow(kind string, source netip.Addr, ts time.Time) (bool, uint64) {
	k := rateKey{kind, source}
	st := r.m[k]
	if st == nil {
		if len(r.m) >= r.max {
			r.prune(ts)
		}
		r.m[k] = &rateState{last: ts}
		return true, 0
	}
	if ts.Sub(st.last) < r.interval {
		st.suppressed++
		return false, 0
	}
	n := st.suppressed
	st.last, st.suppressed = ts, 0
	return true, n
}

func (r *rateLimiter) prune(now time.Time) {
	for k, st := range r.m {
		if now.Sub(st.last) >= r.interval && st.suppressed == 0 {
			delete(r.m, k)
		}
	}
	if len(r.m) >= r.max {
		for k, st := range r.m {
			r.dropped += st.suppressed
			delete(r.m, k)
			if len(r.m) < r.max/2 {
				break
			}
		}
	}
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
		Client: a.Client.String(), Evidence: a.Evidence, Suppressed: suppressed,
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
		FirstSeen: f.FirstSeen.UTC(), LastSeen: f.LastSeen.UTC(),
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

// flowKeyOf is the record key of a Modbus flow.
func flowKeyOf(f Flow) string { return f.Protocol + ":" + f.Client + "->" + f.Server }

// buildAssets merges the analyzer's devices and clients per IP and adds the
// MAC address and its vendor.
func buildAssets(devs []modbus.Device, clients []modbus.Client, macs map[netip.Addr][6]byte, oui *ouiTable) []Asset {
	byIP := map[netip.Addr]*Asset{}
	get := func(ip netip.Addr, first, last time.Time) *Asset {
		a := byIP[ip]
		if a == nil {
			a = &Asset{IP: ip.String(), Protocols: []string{"modbus"}, FirstSeen: first.UTC(), LastSeen: last.UTC()}
			if mac, ok := macs[ip]; ok {
				a.MAC = net.HardwareAddr(mac[:]).String()
				a.Vendor = oui.vendor(mac)
			}
			byIP[ip] = a
		}
		if first.Before(a.FirstSeen) {
			a.FirstSeen = first.UTC()
		}
		if last.After(a.LastSeen) {
			a.LastSeen = last.UTC()
		}
		return a
	}
	addRole := func(a *Asset, r string) {
		for _, x := range a.Roles {
			if x == r {
				return
			}
		}
		a.Roles = append(a.Roles, r)
	}
	for _, d := range devs {
		a := get(d.Server.Addr().Unmap(), d.FirstSeen, d.LastSeen)
		addRole(a, "server")
		a.Ports = appendUnique(a.Ports, int(d.Server.Port()))
		for _, u := range d.UnitIDs {
			a.UnitIDs = appendUnique(a.UnitIDs, int(u))
		}
		for _, id := range d.Identification {
			objs := make(map[string]string, len(id.Objects))
			for k, v := range id.Objects {
				objs[strconv.Itoa(int(k))] = v
			}
			a.Identity = append(a.Identity, Identity{
				Port: int(d.Server.Port()), UnitID: int(id.UnitID), Objects: objs,
				Vendor: id.Objects[0], Product: id.Objects[1], Revision: id.Objects[2],
			})
		}
	}
	for _, c := range clients {
		addRole(get(c.Addr.Unmap(), c.FirstSeen, c.LastSeen), "client")
	}
	out := make([]Asset, 0, len(byIP))
	for _, a := range byIP {
		sort.Ints(a.Ports)
		sort.Ints(a.UnitIDs)
		sort.Strings(a.Roles)
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		ai, _ := netip.ParseAddr(out[i].IP)
		aj, _ := netip.ParseAddr(out[j].IP)
		return ai.Less(aj)
	})
	return out
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
