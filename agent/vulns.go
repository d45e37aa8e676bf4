package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/advisory"
	"github.com/edgeward/edgeward/collectors/host"
	"github.com/edgeward/edgeward/collectors/passive"
)

// Known-vulnerability matching of the records collectors emit.
const (
	// installedAdvisories is the file `advisories update` installs next to
	// the buffer.
	installedAdvisories = "advisories.json"
	// vulnRepeat is how long a finding stays reported: the same subject
	// with the same version and advisories is reported again after it.
	vulnRepeat = 24 * time.Hour
	// maxVulnSeen bounds the findings remembered (about 200 bytes each).
	maxVulnSeen = 4096
)

// advisoryPath returns the advisory list the agent uses: advisories.file,
// else the installed list next to the buffer; "" for the embedded one.
func advisoryPath(file, bufPath string) string {
	if file != "" {
		return file
	}
	p := filepath.Join(filepath.Dir(bufPath), installedAdvisories)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// loadAdvisories loads the advisory list: advisories.file (an error when
// it is missing or invalid: the operator asked for it), else the list
// installed next to the buffer (an invalid one is logged and the embedded
// list used), else the embedded list.
func loadAdvisories(file, bufPath string, log *slog.Logger) (*advisory.List, error) {
	path := advisoryPath(file, bufPath)
	if path == "" {
		return advisory.Embedded()
	}
	l, err := advisory.Load(path)
	switch {
	case err == nil:
		return l, nil
	case file != "":
		return nil, fmt.Errorf("load advisories (advisories.file): %w", err)
	}
	log.Error("installed advisory list is unusable; using the embedded one (run `edgeward advisories update FILE` again)", "path", path, "err", err)
	return advisory.Embedded()
}

// vulnEmitter passes records on to next and adds an asset.known_vulnerable
// threat record, in the same Emit call, for each identified product they
// describe that matches the advisory list: Modbus device identities and
// OPC UA applications of net.asset records, software of host.inventory
// records. A finding already reported (same subject, version and
// advisories) is not repeated within vulnRepeat.
type vulnEmitter struct {
	next collectors.Emitter
	list *advisory.List
	log  *slog.Logger
	now  func() time.Time

	seen *reportGate
}

// vulnCheckpointer is a vulnEmitter over an Emitter that is also a
// collectors.Checkpointer: it keeps that side visible to collectors.
type vulnCheckpointer struct {
	*vulnEmitter
	cp collectors.Checkpointer
}

// newVulnEmitter wraps next; with a nil list it returns next itself.
func newVulnEmitter(next collectors.Emitter, list *advisory.List, log *slog.Logger) collectors.Emitter {
	if list == nil {
		return next
	}
	v := &vulnEmitter{next: next, list: list, log: log, now: time.Now, seen: newReportGate(vulnRepeat, maxVulnSeen)}
	if cp, ok := next.(collectors.Checkpointer); ok {
		return vulnCheckpointer{v, cp}
	}
	return v
}

// Emit implements collectors.Emitter.
func (v *vulnEmitter) Emit(ctx context.Context, recs ...collectors.Record) error {
	return v.next.Emit(ctx, append(recs, v.findings(recs)...)...)
}

// logFound logs the findings added to a batch.
func (v *vulnEmitter) logFound(found []collectors.Record) {
	for _, r := range found {
		f := r.Body.(advisory.Finding)
		v.log.Warn("known-vulnerable product", "asset", f.Asset, "source", f.Subject.Source, "address", f.Subject.Address,
			"product", f.Subject.Products[0].Value, "version", f.Subject.Version.Value, "advisories", len(f.Advisories), "max_cvss", f.MaxCVSS)
	}
}

// Checkpoint implements collectors.Checkpointer.
func (v vulnCheckpointer) Checkpoint(ctx context.Context, name string) ([]byte, error) {
	return v.cp.Checkpoint(ctx, name)
}

// EmitCheckpoint implements collectors.Checkpointer.
func (v vulnCheckpointer) EmitCheckpoint(ctx context.Context, name string, state []byte, recs ...collectors.Record) error {
	return v.cp.EmitCheckpoint(ctx, name, state, append(recs, v.findings(recs)...)...)
}

// findings returns the new asset.known_vulnerable records for recs.
func (v *vulnEmitter) findings(recs []collectors.Record) []collectors.Record {
	var out []collectors.Record
	now := v.now()
	for _, r := range recs {
		for _, f := range v.match(r) {
			if ok, _ := v.seen.fresh(f.Key(), f.Fingerprint(), now); ok {
				out = append(out, f.Record(now))
			}
		}
	}
	v.logFound(out)
	return out
}

// match returns the findings of one record.
func (v *vulnEmitter) match(r collectors.Record) []advisory.Finding {
	var out []advisory.Finding
	add := func(asset string, info advisory.SubjectInfo, s advisory.Subject) {
		info.Vendor, info.Products, info.Version = s.Vendor, s.Products, s.Version
		if f, ok := advisory.NewFinding(asset, info, v.list.Match(s)); ok {
			out = append(out, f)
		}
	}
	switch b := r.Body.(type) {
	case passive.Asset:
		for _, id := range b.Identity {
			unit := id.UnitID
			add(r.Key, advisory.SubjectInfo{Source: "modbus", Address: hostPort(b.IP, id.Port), UnitID: &unit}, modbusSubject(id))
		}
		for _, app := range b.OPCUA {
			if app.Role != "server" {
				continue
			}
			add(r.Key, advisory.SubjectInfo{Source: "opcua", Address: hostPort(b.IP, app.Port)}, opcuaSubject(app))
		}
	case *host.Inventory:
		for _, sw := range b.Software {
			add(r.Key, advisory.SubjectInfo{Source: "software"}, advisory.Subject{
				Vendor:   advisory.Field{Name: "vendor", Value: sw.Vendor},
				Products: []advisory.Field{{Name: "name", Value: sw.Name}},
				Version:  advisory.Field{Name: "version", Value: sw.Version},
			})
		}
	}
	return out
}

// modbusSubject describes a Modbus device identity: vendor name (object
// 0), product code (1), product name (4), model name (5), revision (2).
func modbusSubject(id passive.Identity) advisory.Subject {
	s := advisory.Subject{
		Vendor:  advisory.Field{Name: "vendor_name", Value: id.Vendor},
		Version: advisory.Field{Name: "revision", Value: id.Revision},
	}
	for _, p := range []advisory.Field{
		{Name: "product_code", Value: id.Product},
		{Name: "product_name", Value: id.Objects["4"]},
		{Name: "model_name", Value: id.Objects["5"]},
	} {
		if p.Value != "" {
			s.Products = append(s.Products, p)
		}
	}
	return s
}

// opcuaSubject describes an OPC UA server: its build info when active
// identification read it (manufacturer, product, software version), else
// its application description (no version: only advisories of every
// version can match).
func opcuaSubject(app passive.OPCUAApplication) advisory.Subject {
	var s advisory.Subject
	if b := app.BuildInfo; b != nil {
		s.Vendor = advisory.Field{Name: "manufacturer_name", Value: b.ManufacturerName}
		s.Version = advisory.Field{Name: "software_version", Value: b.SoftwareVersion}
		if b.ProductName != "" {
			s.Products = append(s.Products, advisory.Field{Name: "product_name", Value: b.ProductName})
		}
	}
	for _, p := range []advisory.Field{
		{Name: "application_name", Value: app.ApplicationName},
		{Name: "product_uri", Value: app.ProductURI},
	} {
		if p.Value != "" {
			s.Products = append(s.Products, p)
		}
	}
	return s
}

func hostPort(ip string, port int) string {
	if port == 0 {
		return ip
	}
	return net.JoinHostPort(ip, strconv.Itoa(port))
}
