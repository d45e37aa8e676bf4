package passive

import (
	"net/netip"
	"slices"
	"time"
)

// Sources of an asset's identity.
const (
	SourcePassive = "passive" // decoded from captured traffic
	SourceActive  = "active"  // asked for by active identification
)

// maxActive bounds the active identities an Engine keeps (a few KiB each
// at most: a Modbus identity's objects, or an OPC UA server's endpoints);
// the oldest is forgotten first.
const maxActive = 1024

// Server is a Modbus or OPC UA server seen in the traffic, a candidate for
// active identification.
type Server struct {
	// Protocol is "modbus" or "opcua".
	Protocol string
	Addr     netip.AddrPort
	// UnitIDs are the Modbus unit ids that answered a request normally.
	UnitIDs []uint8
	// EndpointURLs are the URLs OPC UA clients asked the server for.
	EndpointURLs []string
}

// ActiveIdentity is what active identification learnt of one server at
// Time: a Modbus unit's device identification (Modbus), or an OPC UA
// server's application, endpoints and build info (OPCUA). MergeActive adds
// it to the server's net.asset record with Source "active".
type ActiveIdentity struct {
	Addr   netip.AddrPort
	Time   time.Time
	Modbus *Identity
	OPCUA  *OPCUAApplication
}

// BuildInfo is an OPC UA server's Server.ServerStatus.BuildInfo.
type BuildInfo struct {
	ProductURI       string    `json:"product_uri,omitempty"`
	ManufacturerName string    `json:"manufacturer_name,omitempty"`
	ProductName      string    `json:"product_name,omitempty"`
	SoftwareVersion  string    `json:"software_version,omitempty"`
	BuildNumber      string    `json:"build_number,omitempty"`
	BuildDate        time.Time `json:"build_date,omitzero"`
}

// activeKey identifies one active identity: a server and, for Modbus, a
// unit.
type activeKey struct {
	addr  netip.AddrPort
	proto string
	unit  int
}

// Servers returns the Modbus and OPC UA servers seen so far.
func (e *Engine) Servers() []Server {
	var out []Server
	for _, d := range e.mb.Devices() {
		out = append(out, Server{Protocol: "modbus", Addr: d.Server, UnitIDs: slices.Clone(d.UnitIDs)})
	}
	for _, d := range e.ua.Devices() {
		if d.Role == "server" {
			out = append(out, Server{Protocol: "opcua", Addr: d.Addr, EndpointURLs: slices.Clone(d.EndpointURLs)})
		}
	}
	return out
}

// MergeActive keeps a, replacing what an earlier identification of the
// same server (and Modbus unit) gave; the server's net.asset record is due
// at the next Records call, whether or not traffic was seen.
func (e *Engine) MergeActive(a ActiveIdentity) {
	k := activeKey{addr: a.Addr, proto: "opcua"}
	switch {
	case a.Modbus != nil:
		k.proto, k.unit = "modbus", a.Modbus.UnitID
		a.Modbus.Source, a.Modbus.Time = SourceActive, a.Time.UTC()
	case a.OPCUA != nil:
		a.OPCUA.Source, a.OPCUA.Time = SourceActive, a.Time.UTC()
	default:
		return
	}
	if e.active == nil {
		e.active = map[activeKey]ActiveIdentity{}
		e.activeDue = map[netip.Addr]bool{}
	}
	if _, ok := e.active[k]; !ok && len(e.active) >= maxActive {
		var oldest activeKey
		first := true
		for key, v := range e.active {
			if first || v.Time.Before(e.active[oldest].Time) {
				oldest, first = key, false
			}
		}
		delete(e.active, oldest)
	}
	e.active[k] = a
	e.activeDue[a.Addr.Addr().Unmap()] = true
}

// mergeActive adds the active identities to assets (creating the asset of
// a server never seen in the traffic) and returns them sorted as
// buildAssets sorts.
func (e *Engine) mergeActive(assets []Asset) []Asset {
	if len(e.active) == 0 {
		return assets
	}
	keys := make([]activeKey, 0, len(e.active))
	for k := range e.active {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b activeKey) int {
		if c := a.addr.Compare(b.addr); c != 0 {
			return c
		}
		if a.proto != b.proto {
			if a.proto < b.proto {
				return -1
			}
			return 1
		}
		return a.unit - b.unit
	})
	for _, k := range keys {
		a := e.active[k]
		ip := k.addr.Addr().Unmap()
		i := slices.IndexFunc(assets, func(as Asset) bool { return as.IP == ip.String() })
		if i < 0 {
			assets = append(assets, Asset{IP: ip.String(), Roles: []string{"server"}, FirstSeen: a.Time.UTC(), LastSeen: a.Time.UTC(), activeOnly: true})
			i = len(assets) - 1
		}
		as := &assets[i]
		as.Protocols = appendUniqueString(as.Protocols, k.proto)
		as.Roles = appendUniqueString(as.Roles, "server")
		as.Ports = appendUnique(as.Ports, int(k.addr.Port()))
		if a.Modbus != nil {
			as.Identity = append(as.Identity, *a.Modbus)
		} else {
			as.OPCUA = append(as.OPCUA, *a.OPCUA)
		}
		slices.Sort(as.Ports)
		slices.Sort(as.Roles)
		slices.Sort(as.Protocols)
	}
	slices.SortFunc(assets, func(a, b Asset) int {
		return netip.MustParseAddr(a.IP).Compare(netip.MustParseAddr(b.IP))
	})
	return assets
}

// activeDueFor reports whether the asset at ip has an active identity not
// yet emitted.
func (e *Engine) activeDueFor(ip string) bool {
	if len(e.activeDue) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	return err == nil && e.activeDue[a]
}

// Servers returns the servers the collector has seen so far. Safe to call
// while Run is running.
func (c *Collector) Servers() []Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eng.Servers()
}

// MergeActive adds an active identification to the collector's assets; the
// server's net.asset record carries it from the next summary on. Safe to
// call while Run is running.
func (c *Collector) MergeActive(a ActiveIdentity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eng.MergeActive(a)
}
