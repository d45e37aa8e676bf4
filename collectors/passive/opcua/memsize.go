package opcua

import (
	"unsafe"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// Memory accounting: the byte budgets of the Analyzer's tables and Stats
// strings (Config.MaxTableBytes) and the size of a Session, which the
// capture's connection table counts against its own budget.

// setBudgets gives the device and flow tables their byte budgets (devices
// hold application descriptions, certificates and endpoints, flows
// strings and service counts): 3/8 of MaxTableBytes each; Stats strings
// get 1/8 (statsBytesMax).
func (a *Analyzer) setBudgets() {
	b := a.cfg.MaxTableBytes / 8
	a.devices.SetBudget(3*b, (*deviceState).memSize)
	a.flows.SetBudget(3*b, (*flowState).memSize)
}

// statsStringsMax is the byte budget of the endpoint URLs and policy URIs
// kept for Stats; further new ones are not kept (counted in
// Stats.DroppedOverBudget).
func (a *Analyzer) statsStringsMax() int { return a.cfg.MaxTableBytes / 8 }

// keepStatsString reports whether a new Stats string of n bytes fits its
// budget, and counts it when it does.
func (a *Analyzer) keepStatsString(n int) bool {
	if a.stats.strBytes+n+mapEntryBytes > a.statsStringsMax() {
		a.stats.overBudget++
		return false
	}
	a.stats.strBytes += n + mapEntryBytes
	return true
}

// TableBytes returns the bytes counted in the device and flow tables and
// the Stats strings.
func (a *Analyzer) TableBytes() int { return a.devices.Bytes() + a.flows.Bytes() + a.stats.strBytes }

// mapEntryBytes is what one small map or slice entry costs besides its
// content, roughly.
const mapEntryBytes = 48

func stringsBytes(ss []string) int {
	n := cap(ss) * int(unsafe.Sizeof(""))
	for _, s := range ss {
		n += len(s)
	}
	return n
}

func (d *deviceState) memSize() int {
	n := len(d.appURI) + len(d.appName) + len(d.productURI) + stringsBytes(d.urls) + stringsBytes(d.policies)
	n += cap(d.certs) * int(unsafe.Sizeof(Certificate{}))
	for _, c := range d.certs {
		n += len(c.Thumbprint) + len(c.Subject) + len(c.Issuer) + len(c.URI) + len(c.ParseError)
	}
	n += cap(d.endpoints) * int(unsafe.Sizeof(Endpoint{}))
	for _, e := range d.endpoints {
		n += len(e.URL) + len(e.SecurityPolicyURI) + len(e.ServerCertificateThumbprint) + stringsBytes(e.UserTokenTypes)
	}
	return n
}

func (f *flowState) memSize() int {
	n := len(f.services)*mapEntryBytes + len(f.policy) + len(f.endpointURL) + stringsBytes(f.written) + stringsBytes(f.methods)
	n += cap(f.channels) * int(unsafe.Sizeof(channelCount{}))
	for _, c := range f.channels {
		n += len(c.policy)
	}
	return n
}

// MemSize returns the bytes the session holds: itself, its security policy
// URI, its ActivateSession table, its partial chunk and message buffers
// (also counted in MaxBufferedBytes) and the nodes of table entries
// evicted since it last used them (no longer counted by their tables).
func (s *Session) MemSize() int {
	n := int(unsafe.Sizeof(*s)) + len(s.policy) + cap(s.pending)*int(unsafe.Sizeof(pendingActivate{}))
	for i := range s.dirs {
		n += cap(s.dirs[i].buf) + cap(s.dirs[i].asm)
	}
	if s.flow != nil && s.flow.Gone {
		n += bounded.NodeBytes[flowKey, flowState]()
	}
	for _, d := range s.devs {
		if d != nil && d.Gone {
			n += bounded.NodeBytes[devKey, deviceState]()
		}
	}
	return n
}
