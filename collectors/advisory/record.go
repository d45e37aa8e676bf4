package advisory

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgeward/edgeward/collectors"
)

// Kind is the record kind of a known-vulnerable finding.
const Kind = "asset.known_vulnerable"

// Finding is the body of an asset.known_vulnerable threat record: one
// identified product of one asset and every advisory it matched.
type Finding struct {
	// Asset is the key of the asset record the product belongs to
	// ("ip:10.1.2.3" for a net.asset, the agent id for host.inventory).
	Asset   string      `json:"asset"`
	Subject SubjectInfo `json:"subject"`
	// Advisories are the matched advisories, with the evidence of each.
	Advisories []Matched `json:"advisories"`
	// MaxCVSS is the highest score among them; it sets the severity.
	MaxCVSS float64 `json:"max_cvss"`
}

// SubjectInfo describes the matched product as it was identified.
type SubjectInfo struct {
	// Source is how it was identified: "modbus" (device identification),
	// "opcua" (build info or application description) or "software"
	// (host software inventory).
	Source string `json:"source"`
	// Address is the server's ip:port, empty for software; UnitID the
	// Modbus unit.
	Address  string  `json:"address,omitempty"`
	UnitID   *int    `json:"unit_id,omitempty"`
	Vendor   Field   `json:"vendor,omitzero"`
	Products []Field `json:"products"`
	Version  Field   `json:"version,omitzero"`
}

// Matched is one advisory of a Finding.
type Matched struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	Title   string   `json:"title"`
	Vendor  string   `json:"vendor"`
	CVSS    CVSS     `json:"cvss"`
	Source  string   `json:"source"`
	// AffectedProduct and AffectedVersions are the advisory's affected
	// entry; MatchedRange the range the version fell in ("*" for all
	// versions), Condition what the agent could not check.
	AffectedProduct  string   `json:"affected_product"`
	AffectedVersions []string `json:"affected_versions"`
	MatchedRange     string   `json:"matched_range"`
	Condition        string   `json:"condition,omitempty"`
	// Evidence is the subject's string that matched, and the pattern.
	Evidence Field  `json:"evidence"`
	Pattern  string `json:"pattern"`
}

// NewFinding builds the finding of subject s (identified as info) of asset
// from its matches, or returns false when there are none.
func NewFinding(asset string, info SubjectInfo, ms []Match) (Finding, bool) {
	if len(ms) == 0 {
		return Finding{}, false
	}
	f := Finding{Asset: asset, Subject: info}
	for _, m := range ms {
		a := m.Advisory
		f.Advisories = append(f.Advisories, Matched{
			ID: a.ID, Aliases: a.Aliases, Title: a.Title, Vendor: a.Vendor, CVSS: a.CVSS, Source: a.Source,
			AffectedProduct: m.Affected.Product, AffectedVersions: m.Affected.Versions, MatchedRange: m.Range,
			Condition: m.Affected.Condition, Evidence: m.Product, Pattern: m.Pattern,
		})
		f.MaxCVSS = max(f.MaxCVSS, a.CVSS.Score)
	}
	return f, true
}

// Key identifies the finding's subject: its asset, source, address, unit
// and products.
func (f Finding) Key() string {
	parts := []string{Kind, f.Asset, f.Subject.Source, f.Subject.Address}
	if f.Subject.UnitID != nil {
		parts = append(parts, "unit", strconv.Itoa(*f.Subject.UnitID))
	}
	for _, p := range f.Subject.Products {
		parts = append(parts, p.Value)
	}
	return strings.Join(parts, "|")
}

// Fingerprint changes when the subject's version or its advisories change.
func (f Finding) Fingerprint() string {
	ids := make([]string, 0, len(f.Advisories))
	for _, a := range f.Advisories {
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return f.Subject.Version.Value + "|" + strings.Join(ids, ",")
}

// Record wraps f in a threat record at now, its severity set by MaxCVSS.
func (f Finding) Record(now time.Time) collectors.Record {
	return collectors.Record{
		Class: collectors.ClassThreat, Kind: Kind, Time: now.UTC(), Key: f.Key(),
		Severity: collectors.Severity(Severity(f.MaxCVSS)), Body: f,
	}
}
