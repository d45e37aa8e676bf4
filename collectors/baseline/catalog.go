package baseline

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// catalogJSON is the embedded check catalog. It is read-only.
//
//go:embed catalog.json
var catalogJSON []byte

// CheckClass says how a check is decided (catalog §1.3).
type CheckClass string

// The check classes. Organisational controls are not checks: they are the
// self-declared questions (see OrgQuestions).
const (
	ClassTechnical      CheckClass = "technical"      // fully automatable
	ClassSiteInput      CheckClass = "site_input"     // needs values from the site policy
	ClassOrganisational CheckClass = "organisational" // self-declared only
)

// Severity grades a check; it sets the check's weight in the score.
type Severity string

// The check severities and their weights (catalog §4.2).
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// Weight returns the scoring weight of s: Critical 10, High 5, Medium 3, Low 1.
func (s Severity) Weight() float64 {
	switch s {
	case SeverityCritical:
		return 10
	case SeverityHigh:
		return 5
	case SeverityMedium:
		return 3
	case SeverityLow:
		return 1
	}
	return 0
}

// Check is one catalog row. Values are read-only.
type Check struct {
	ID            string     `json:"id"`
	OS            string     `json:"os"` // "linux" or "windows"
	Area          string     `json:"area"`
	TitleEN       string     `json:"title_en"`
	TitleZH       string     `json:"title_zh"`
	Controls      []string   `json:"controls"`      // G2016 / G2024 / DJ / CSL ids
	ProcessAreas  []string   `json:"process_areas"` // GB/T 41400 PA ids
	SR            []string   `json:"iec62443_sr"`   // IEC 62443-3-3 primary SRs
	NIST          string     `json:"nist"`
	CISSTIG       string     `json:"cis_stig"`
	Star          int        `json:"star"` // minimum star level, 1..4
	Severity      Severity   `json:"severity"`
	Class         CheckClass `json:"check_class"`
	Inspect       string     `json:"inspect"`
	PassCondition string     `json:"pass_condition"`
	Remediation   string     `json:"remediation"`
}

// Area is a control area (the catalog's DOMAIN part of an id).
type Area struct {
	Code    string `json:"code"`
	TitleZH string `json:"title_zh"`
	TitleEN string `json:"title_en"`
}

// Catalog is the parsed check catalog. It is read-only after LoadCatalog and
// safe for concurrent use.
type Catalog struct {
	Version string  `json:"version"`
	Source  string  `json:"source"`
	Areas   []Area  `json:"areas"`
	Checks  []Check `json:"checks"`
	byID    map[string]int
}

// LoadCatalog parses the embedded catalog and checks its invariants (unique
// ids, star 1..4, known severity, class and area).
func LoadCatalog() (*Catalog, error) {
	var c Catalog
	if err := json.Unmarshal(catalogJSON, &c); err != nil {
		return nil, fmt.Errorf("decode catalog: %w", err)
	}
	areas := make(map[string]bool, len(c.Areas))
	for _, a := range c.Areas {
		areas[a.Code] = true
	}
	c.byID = make(map[string]int, len(c.Checks))
	for i, k := range c.Checks {
		if _, dup := c.byID[k.ID]; dup {
			return nil, fmt.Errorf("decode catalog: duplicate check %q", k.ID)
		}
		switch {
		case k.Star < 1 || k.Star > 4:
			return nil, fmt.Errorf("decode catalog: check %q: star %d out of range", k.ID, k.Star)
		case k.Severity.Weight() == 0:
			return nil, fmt.Errorf("decode catalog: check %q: severity %q", k.ID, k.Severity)
		case k.Class != ClassTechnical && k.Class != ClassSiteInput:
			return nil, fmt.Errorf("decode catalog: check %q: class %q", k.ID, k.Class)
		case !areas[k.Area]:
			return nil, fmt.Errorf("decode catalog: check %q: area %q", k.ID, k.Area)
		case k.OS != "linux" && k.OS != "windows":
			return nil, fmt.Errorf("decode catalog: check %q: os %q", k.ID, k.OS)
		}
		c.byID[k.ID] = i
	}
	return &c, nil
}

// Check returns the catalog row with id.
func (c *Catalog) Check(id string) (Check, bool) {
	i, ok := c.byID[id]
	if !ok {
		return Check{}, false
	}
	return c.Checks[i], true
}

// ForOS returns the checks of one OS ("linux" or "windows") in catalog order.
func (c *Catalog) ForOS(os string) []Check {
	var out []Check
	for _, k := range c.Checks {
		if k.OS == os {
			out = append(out, k)
		}
	}
	return out
}

// AreaTitle returns the Chinese and English titles of an area code.
func (c *Catalog) AreaTitle(code string) (zh, en string) {
	for _, a := range c.Areas {
		if a.Code == code {
			return a.TitleZH, a.TitleEN
		}
	}
	return code, code
}
