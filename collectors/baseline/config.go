package baseline

import (
	"strings"
	"time"
)

// DefaultInterval is the scan interval of Run when Config.Interval is zero.
const DefaultInterval = 6 * time.Hour

// MinInterval is the shortest accepted Config.Interval.
const MinInterval = time.Minute

// The roles (catalog §3.0). RoleAuto resolves to RoleServer on Linux and to
// RoleWorkstation on Windows.
const (
	RoleAuto        = "auto"
	RoleWorkstation = "workstation" // EWS: engineering workstation
	RoleOperator    = "operator"    // OWS: operator station / HMI
	RoleGateway     = "gateway"     // GW: Linux gateway / edge box
	RoleServer      = "server"      // SRV: SCADA / historian / OPC / DB server
	RolePortable    = "portable"    // PEWS: portable engineering laptop
)

// roles lists every accepted Config.Role.
func roles() []string {
	return []string{RoleAuto, RoleWorkstation, RoleOperator, RoleGateway, RoleServer, RolePortable}
}

// Config is the user configuration of the baseline collector, decoded from
// `collectors.baseline` of the agent's YAML config. The zero value is not
// enabled; DefaultConfig gives the defaults. A Config is a value: New copies
// what it needs.
type Config struct {
	// Enabled turns the collector on in `run`; `scan` ignores it.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Interval between scans in Run. Zero means DefaultInterval (6 h); a
	// non-zero value must be at least MinInterval.
	Interval time.Duration `yaml:"interval" json:"interval"`
	// Role of the host: auto|workstation|operator|gateway|server|portable.
	// Empty means auto.
	Role string `yaml:"role" json:"role"`
	// Root is the directory that stands for "/" of the host ("/" in
	// production, a fixture tree in tests). Empty means "/". Windows probes
	// do not use it.
	Root string `yaml:"root" json:"root"`
	// SitePolicy holds the site's allowlists and thresholds for the
	// "needs site input" checks; see DecodeSitePolicy for the keys.
	SitePolicy map[string]any `yaml:"site_policy" json:"site_policy"`
	// SelfDeclared holds the answers to the organisational questions; see
	// DecodeSelfDeclared for the keys. They never enter the host score.
	SelfDeclared map[string]any `yaml:"self_declared" json:"self_declared"`

	// Platform, when set, reports the agent's connection to the enterprise
	// platform for the *-PLT-001 and *-PLT-002 checks. The agent wires it;
	// without it those checks are NOT_CONFIGURED (a one-shot scan has no
	// uplink).
	Platform func() PlatformState `yaml:"-" json:"-"`
	// OPCUA, when set, lists the endpoints of a local OPC UA server
	// (GetEndpoints on 127.0.0.1) for the *-IND-002/005 checks. The agent can
	// wire collectors/probe here; without it those checks report ERROR when an
	// OPC UA listener exists.
	OPCUA func(addr string) ([]OPCUAEndpoint, error) `yaml:"-" json:"-"`
}

// PlatformState is what the agent knows about its enterprise platform.
type PlatformState struct {
	LastHeartbeat     time.Time // last heartbeat acknowledged by the broker
	MutualTLS         bool      // the uplink authenticates with a valid client certificate
	PolicyCurrent     bool      // the agent's policy version equals the platform's current one
	SOCAcknowledged   bool      // the last alert was acknowledged by the SOC within 30 days (or no alerts)
	UpstreamForwarded bool      // the site's events are forwarded upstream
}

// OPCUAEndpoint is one endpoint returned by GetEndpoints.
type OPCUAEndpoint struct {
	URL            string
	SecurityPolicy string // policy URI; ends in "#None" for no security
	SecurityMode   string // None, Sign, SignAndEncrypt
	TokenTypes     []string
}

// DefaultConfig returns the defaults: enabled, every 6 h, role auto, root "/".
func DefaultConfig() Config {
	return Config{Enabled: true, Interval: DefaultInterval, Role: RoleAuto, Root: "/"}
}

// Validate checks the configuration without touching the host. Errors wrap
// ErrInvalidConfig and name the key under collectors.baseline.
func (c Config) Validate() error {
	if c.Interval != 0 && c.Interval < MinInterval {
		return configErr("interval", "must be at least %s, got %s", MinInterval, c.Interval)
	}
	if c.Role != "" && !contains(roles(), c.Role) {
		return configErr("role", "must be one of %s, got %q", strings.Join(roles(), "|"), c.Role)
	}
	if _, err := DecodeSitePolicy(c.SitePolicy); err != nil {
		return err
	}
	if _, err := DecodeSelfDeclared(c.SelfDeclared); err != nil {
		return err
	}
	return nil
}

// contains reports whether s holds v.
func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// containsFold reports whether s holds v, ignoring case.
func containsFold(s []string, v string) bool {
	for _, x := range s {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
