package modbus

import (
	"net/netip"
	"unsafe"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// Memory accounting: the byte budgets of the Analyzer's tables
// (Config.MaxTableBytes) and the size of a Session, which the capture's
// connection table counts against its own budget.

// Table shares of Config.MaxTableBytes: flows hold address ranges and
// function codes, devices identification objects, clients their servers.
const (
	flowsShare   = 2 // of 4
	devicesShare = 1
	clientsShare = 1
)

// setBudgets gives the device, client and flow tables their byte budgets.
func (a *Analyzer) setBudgets() {
	b := a.cfg.MaxTableBytes / 4
	a.flows.SetBudget(flowsShare*b, (*flowState).memSize)
	a.devices.SetBudget(devicesShare*b, (*deviceState).memSize)
	a.clients.SetBudget(clientsShare*b, (*clientState).memSize)
}

// TableBytes returns the bytes counted in the device, client and flow
// tables (at most Config.MaxTableBytes, plus one entry's last growth).
func (a *Analyzer) TableBytes() int {
	return a.flows.Bytes() + a.devices.Bytes() + a.clients.Bytes()
}

func (f *flowState) memSize() int {
	return cap(f.fcs)*int(unsafe.Sizeof(fcCount{})) + cap(f.refused)*int(unsafe.Sizeof(outcomeRanges{})) +
		f.rangeCap*int(unsafe.Sizeof(rng{}))
}

// memSize counts the refused-outcome sets and the identification objects;
// the latter are kept up to date by setIdent: measuring is called on every
// touch of the device (each ADU), where walking the maps cost 40% of a
// replay with identification objects.
func (d *deviceState) memSize() int {
	return cap(d.refused)*int(unsafe.Sizeof(outcomeSet{})) + d.identBytes
}

// setIdent sets object id of unit to v, counting it in identN and
// identBytes (one map entry per unit and per object, plus the strings).
func (d *deviceState) setIdent(unit, id uint8, v string) {
	objs := d.ident[unit]
	if objs == nil {
		if d.ident == nil {
			d.ident = make(map[uint8]map[uint8]string)
		}
		objs = make(map[uint8]string)
		d.ident[unit] = objs
		d.identBytes += mapEntryBytes
	}
	old, known := objs[id]
	if !known {
		d.identN++
		d.identBytes += mapEntryBytes
	}
	d.identBytes += len(v) - len(old)
	objs[id] = v
}

func (c *clientState) memSize() int {
	return cap(c.servers)*int(unsafe.Sizeof(netip.AddrPort{})) + cap(c.win.idTargets)*int(unsafe.Sizeof(identTarget{})) +
		cap(c.win.addrTargets)*int(unsafe.Sizeof(addrKey{}))
}

// mapEntryBytes is what one small map entry costs, roughly (slot, control
// byte, load factor, string header).
const mapEntryBytes = 48

// MemSize returns the bytes the session holds: itself, its pending-request
// table, its partial-ADU buffers and the nodes of table entries evicted
// since it last used them (no longer counted by their tables).
func (s *Session) MemSize() int {
	n := int(unsafe.Sizeof(*s)) + cap(s.pending)*int(unsafe.Sizeof(pending{}))
	for i := range s.dirs {
		if s.dirs[i].buf != nil {
			n += MaxADULength
		}
	}
	if s.flow != nil && s.flow.Gone {
		n += bounded.NodeBytes[flowKey, flowState]()
	}
	if s.dev != nil && s.dev.Gone {
		n += bounded.NodeBytes[netip.AddrPort, deviceState]()
	}
	if s.cli != nil && s.cli.Gone {
		n += bounded.NodeBytes[netip.Addr, clientState]()
	}
	return n
}
