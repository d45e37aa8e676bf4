package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/opcua"
	"github.com/edgeward/edgeward/collectors/probe"
)

// Active identification in run: the "active" collector.
const (
	// activeEvery is how often the servers seen are gathered again.
	activeEvery = 10 * time.Second
	// maxUnitsPerServer bounds the Modbus units identified per server.
	maxUnitsPerServer = 4
	// findingRepeat is how long a finding about a server stays reported:
	// the same finding (kind, severity, subject and detail) about the same
	// server is reported again after it, whichever unit or path it was made
	// through; maxFindingsSeen bounds the findings remembered.
	findingRepeat   = 24 * time.Hour
	maxFindingsSeen = 4096
)

// serverSource is what active identification needs of the passive
// collector: the servers it saw, and a place for what was learnt of them.
type serverSource interface {
	Servers() []passive.Server
	MergeActive(passive.ActiveIdentity)
}

// activeCollector identifies, under its probe.Identifier's policy, the
// servers the passive collector saw and the configured targets, and merges
// the results into the passive collector's net.asset records. Without a
// passive collector it keeps its own asset table and emits the net.asset
// records itself. The findings of an identification (probe.Finding: policy
// None, anonymous tokens, cleartext passwords, certificates, readable
// Modbus identity) are emitted as threat records with source "active", one
// per server and kind until the finding changes or findingRepeat passes.
type activeCollector struct {
	ident    *probe.Identifier
	targets  []string
	servers  serverSource    // nil without a passive collector
	own      *passive.Engine // the asset table when servers is nil
	reported *reportGate     // the findings reported, by server and kind
	every    time.Duration
	log      *slog.Logger
}

var _ collectors.Collector = (*activeCollector)(nil)

// newActiveCollector returns the active collector for s; seen is the
// passive collector, nil when passive collection is off.
func newActiveCollector(s activeSettings, seen *passive.Collector, log *slog.Logger) (*activeCollector, error) {
	ident, err := probe.NewIdentifier(s.policy)
	if err != nil {
		return nil, err
	}
	for _, t := range s.targets {
		if err := ident.Allowed(t); err != nil {
			return nil, err
		}
	}
	a := &activeCollector{
		ident: ident, targets: s.targets, reported: newReportGate(findingRepeat, maxFindingsSeen),
		every: activeEvery, log: log.With("collector", "active"),
	}
	if seen != nil {
		a.servers = seen
	} else if a.own, err = passive.NewEngine(passive.DefaultConfig(), log); err != nil {
		return nil, err
	}
	return a, nil
}

// Name returns "active".
func (a *activeCollector) Name() string { return "active" }

// Run identifies the servers due, one at a time at the policy's rate,
// until ctx ends. It returns nil on cancellation.
func (a *activeCollector) Run(ctx context.Context, emit collectors.Emitter) error {
	t := time.NewTicker(a.every)
	defer t.Stop()
	for {
		for _, target := range a.ident.Due(a.candidates()) {
			r := a.ident.Identify(ctx, target)
			if ctx.Err() != nil {
				return nil
			}
			if r.Err != nil {
				a.log.Warn("active identification failed", "target", target, "err", r.Err)
				continue
			}
			ids := activeIdentities(r)
			recs := a.findingRecords(r)
			a.log.Info("identified", "target", target, "identities", len(ids), "findings", len(r.Findings), "reported", len(recs))
			for _, id := range ids {
				if a.servers != nil {
					a.servers.MergeActive(id)
				} else {
					a.own.MergeActive(id)
				}
			}
			if a.own != nil && len(ids) > 0 {
				recs = append(a.own.Records(time.Now()), recs...)
			}
			if len(recs) > 0 {
				if err := emit.Emit(ctx, recs...); err != nil {
					return fmt.Errorf("emit active identification records: %w", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// findingRecords returns the threat records of r's findings that are not
// already reported about the same server (see findingRepeat).
func (a *activeCollector) findingRecords(r probe.Result) []collectors.Record {
	if len(r.Findings) == 0 {
		return nil
	}
	server, err := probe.TargetServer(r.Target)
	if err != nil {
		return nil
	}
	var out []collectors.Record
	for _, f := range r.Findings {
		fp := string(f.Severity) + "|" + f.Subject + "|" + f.Detail
		if ok, suppressed := a.reported.fresh(server+"|"+f.Kind, fp, r.Time); ok {
			out = append(out, f.Record(server, r.Time, suppressed))
		}
	}
	return out
}

// candidates returns the configured targets, then the servers seen: each
// answered Modbus unit (at most maxUnitsPerServer per server, never the
// broadcast unit 0) and each OPC UA server at its address, with the path
// of the first URL a client asked for (never its host name).
func (a *activeCollector) candidates() []string {
	out := slices.Clone(a.targets)
	if a.servers == nil {
		return out
	}
	for _, s := range a.servers.Servers() {
		host := netip.AddrPortFrom(s.Addr.Addr().Unmap(), s.Addr.Port()).String()
		switch s.Protocol {
		case "modbus":
			n := 0
			for _, u := range s.UnitIDs {
				if u != 0 && n < maxUnitsPerServer {
					out = append(out, "modbus://"+host+"/"+strconv.Itoa(int(u)))
					n++
				}
			}
		case "opcua":
			path := ""
			if len(s.EndpointURLs) > 0 {
				if u, err := url.Parse(s.EndpointURLs[0]); err == nil {
					path = u.EscapedPath()
				}
			}
			out = append(out, "opc.tcp://"+host+path)
		}
	}
	return out
}

// activeIdentities converts an identification to what the asset records
// keep: a Modbus unit's identity (nothing for a refusal), or an OPC UA
// server's application with its endpoints and build info.
func activeIdentities(r probe.Result) []passive.ActiveIdentity {
	switch {
	case r.Modbus != nil:
		m := r.Modbus
		addr, err := netip.ParseAddrPort(m.Target)
		if err != nil || m.Exception != nil || len(m.Objects) == 0 {
			return nil
		}
		objs := make(map[string]string, len(m.Objects))
		for k, v := range m.Objects {
			objs[strconv.Itoa(int(k))] = v
		}
		return []passive.ActiveIdentity{{Addr: addr, Time: r.Time, Modbus: &passive.Identity{
			Port: int(addr.Port()), UnitID: int(m.Unit), Vendor: m.VendorName, Product: m.ProductCode, Revision: m.Revision, Objects: objs,
		}}}
	case r.OPCUA != nil:
		u, err := url.Parse(r.Target)
		if err != nil {
			return nil
		}
		port := u.Port()
		if port == "" {
			port = "4840"
		}
		addr, err := netip.ParseAddrPort(u.Hostname() + ":" + port)
		if err != nil {
			addr, err = netip.ParseAddrPort("[" + u.Hostname() + "]:" + port)
		}
		if err != nil {
			return nil
		}
		return []passive.ActiveIdentity{{Addr: addr, Time: r.Time, OPCUA: opcuaApplication(addr.Port(), r.OPCUA)}}
	}
	return nil
}

// opcuaApplication converts an OPC UA identification to the server
// application of an asset record.
func opcuaApplication(port uint16, r *probe.OPCUAResult) *passive.OPCUAApplication {
	app := &passive.OPCUAApplication{Role: "server", Port: int(port), ApplicationType: "Server"}
	if b := r.BuildInfo; b != nil {
		app.BuildInfo = &passive.BuildInfo{
			ProductURI: b.ProductURI, ManufacturerName: b.ManufacturerName, ProductName: b.ProductName,
			SoftwareVersion: b.SoftwareVersion, BuildNumber: b.BuildNumber, BuildDate: b.BuildDate,
		}
	}
	for _, e := range r.Endpoints {
		if app.ApplicationURI == "" {
			app.ApplicationURI, app.ApplicationName, app.ProductURI = e.ServerApplicationURI, e.ServerApplicationName, e.ServerProductURI
		}
		if !slices.Contains(app.EndpointURLs, e.URL) {
			app.EndpointURLs = append(app.EndpointURLs, e.URL)
		}
		if !slices.Contains(app.SecurityPolicies, e.SecurityPolicyURI) {
			app.SecurityPolicies = append(app.SecurityPolicies, e.SecurityPolicyURI)
		}
		ep := opcua.Endpoint{URL: e.URL, SecurityPolicyURI: e.SecurityPolicyURI, SecurityMode: e.SecurityMode, SecurityLevel: e.SecurityLevel}
		for _, t := range e.UserTokens {
			s := t.Type
			if t.SecurityPolicyURI != "" {
				s += "/" + t.SecurityPolicyURI
			}
			ep.UserTokenTypes = append(ep.UserTokenTypes, s)
		}
		if c := e.Certificate; c != nil {
			ep.ServerCertificateThumbprint = c.Thumbprint
			if !slices.ContainsFunc(app.Certificates, func(x opcua.Certificate) bool { return x.Thumbprint == c.Thumbprint }) {
				app.Certificates = append(app.Certificates, opcua.Certificate{
					Thumbprint: c.Thumbprint, Subject: c.Subject, NotBefore: c.NotBefore, NotAfter: c.NotAfter, ParseError: c.Error,
				})
			}
		}
		app.Endpoints = append(app.Endpoints, ep)
	}
	return app
}
