package baseline

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SitePolicy is the decoded collectors.baseline.site_policy: the site's
// allowlists and thresholds. A nil or empty list means "not configured": the
// checks that need it report NOT_CONFIGURED unless they fail for another
// reason. Thresholds have documented defaults.
//
// Keys (YAML):
//
//	allowed_listen_ports:   ["tcp/22", "udp/123", "tcp/502"]   role allowlist of listeners (LNX/WIN-SVC-001)
//	allowed_services:       ["cups", "Spooler", "TermService"]  services allowed to run (SVC-003/004, RMT-001)
//	admin_users:            ["alice"]                          approved admin/sudo/Administrators members (PRV-001)
//	nopasswd_accounts:      ["backup"]                         accounts allowed NOPASSWD in sudoers (LNX-PRV-001)
//	accounts:               ["alice", "bob"]                   approved interactive accounts (ACC-006)
//	lockout_exempt_accounts: ["hmi"]                           essential accounts exempt from lockout (ACC-003)
//	management_cidrs:       ["10.0.9.0/24"]                    jump-host / management networks (LNX-SSH-003, WIN-FW-002)
//	ntp_servers:            ["10.0.0.1"]                       authorised time sources (TIM-001)
//	log_collectors:         ["10.0.0.9"]                       central log collectors (LOG-004)
//	central_log_retention_days: 180                            declared central retention (LOG-003)
//	patch_window_days:      90                                 patch window (PAT-002)
//	av_products:            ["clamd"]                          anti-malware processes/services (MAL-001); default clamd, MsMpEng/WinDefend
//	av_signature_max_days:  7                                  signature age limit (MAL-001/002); default 7
//	usbguard_policy_sha256: "…"                                USBGuard rules.conf hash issued by the platform (LNX-USB-002)
//	device_control_services: ["…"]                             Windows device-control product services (WIN-USB-001)
//	backup_paths:           ["/var/backups"]                   where backups land (BAK-001)
//	backup_max_age_days:    30                                 newest backup age limit; default 30
//	ics_ports:              [1962]                             extra ICS ports (IND-001/003)
//	approved_remote_tools:  ["teamviewer"]                     报备 remote tools (LNX-IND-003, WIN-RMT-003)
//	ics_software:           ["codesys"]                        extra ICS software names (IND-004, WIN-IND-001)
//	mfa_providers:          ["{GUID}"]                         MFA credential providers (WIN-AUT-002)
//	allow_wireless:         false                              role allows Wi-Fi (USB-004)
//	hmi_display_exception:  false                              operator display must stay visible (ACC-007, WIN-LCK-001)
//	dcom_role:              false                              host serves OPC Classic / DCOM (WIN-IND-002)
//	router_role:            false                              host is a declared router (KRN-003, WIN-IND-004)
//	min_password_length:    8                                  default 8 (CIS 14)
//	exemptions: {LNX-SSH-001: {reason: "...", approver: "...", expires: "2027-01-31"}}
type SitePolicy struct {
	AllowedListenPorts      []string
	AllowedServices         []string
	AdminUsers              []string
	NopasswdAccounts        []string
	Accounts                []string
	LockoutExemptAccounts   []string
	ManagementCIDRs         []netip.Prefix
	NTPServers              []string
	LogCollectors           []string
	CentralLogRetentionDays int
	PatchWindowDays         int
	AVProducts              []string
	AVSignatureMaxDays      int
	USBGuardPolicySHA256    string
	DeviceControlServices   []string
	BackupPaths             []string
	BackupMaxAgeDays        int
	ICSPorts                []int
	ApprovedRemoteTools     []string
	ICSSoftware             []string
	MFAProviders            []string
	AllowWireless           bool
	HMIDisplayException     bool
	DCOMRole                bool
	RouterRole              bool
	MinPasswordLength       int
	Exemptions              map[string]Exemption
}

// Exemption is an approved exception for one check (catalog §4.1 EXEMPT).
type Exemption struct {
	Reason   string    `json:"reason"`
	Approver string    `json:"approver"`
	Expires  time.Time `json:"expires"`
}

// DecodeSitePolicy decodes collectors.baseline.site_policy as produced by a
// YAML or JSON decoder (map[string]any). Unknown keys and values of the wrong
// type are errors wrapping ErrInvalidConfig that name the key, for example
// `site_policy.ntp_servers: must be a list of strings`.
func DecodeSitePolicy(m map[string]any) (*SitePolicy, error) {
	p := &SitePolicy{AVSignatureMaxDays: 7, BackupMaxAgeDays: 30, MinPasswordLength: 8}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		key := "site_policy." + k
		var err error
		switch k {
		case "allowed_listen_ports":
			p.AllowedListenPorts, err = strList(v)
			for _, s := range p.AllowedListenPorts {
				if _, _, e := parsePortSpec(s); e != nil && err == nil {
					err = e
				}
			}
		case "allowed_services":
			p.AllowedServices, err = strList(v)
		case "admin_users":
			p.AdminUsers, err = strList(v)
		case "nopasswd_accounts":
			p.NopasswdAccounts, err = strList(v)
		case "accounts":
			p.Accounts, err = strList(v)
		case "lockout_exempt_accounts":
			p.LockoutExemptAccounts, err = strList(v)
		case "management_cidrs":
			var l []string
			if l, err = strList(v); err == nil {
				for _, s := range l {
					pf, e := netip.ParsePrefix(s)
					if e != nil {
						err = fmt.Errorf("bad CIDR %q", s)
						break
					}
					p.ManagementCIDRs = append(p.ManagementCIDRs, pf)
				}
			}
		case "ntp_servers":
			p.NTPServers, err = strList(v)
		case "log_collectors":
			p.LogCollectors, err = strList(v)
		case "central_log_retention_days":
			p.CentralLogRetentionDays, err = intVal(v, 0, 100000)
		case "patch_window_days":
			p.PatchWindowDays, err = intVal(v, 1, 3650)
		case "av_products":
			p.AVProducts, err = strList(v)
		case "av_signature_max_days":
			p.AVSignatureMaxDays, err = intVal(v, 1, 3650)
		case "usbguard_policy_sha256":
			p.USBGuardPolicySHA256, err = strVal(v)
		case "device_control_services":
			p.DeviceControlServices, err = strList(v)
		case "backup_paths":
			p.BackupPaths, err = strList(v)
		case "backup_max_age_days":
			p.BackupMaxAgeDays, err = intVal(v, 1, 3650)
		case "ics_ports":
			p.ICSPorts, err = intList(v, 1, 65535)
		case "approved_remote_tools":
			p.ApprovedRemoteTools, err = strList(v)
		case "ics_software":
			p.ICSSoftware, err = strList(v)
		case "mfa_providers":
			p.MFAProviders, err = strList(v)
		case "allow_wireless":
			p.AllowWireless, err = boolVal(v)
		case "hmi_display_exception":
			p.HMIDisplayException, err = boolVal(v)
		case "dcom_role":
			p.DCOMRole, err = boolVal(v)
		case "router_role":
			p.RouterRole, err = boolVal(v)
		case "min_password_length":
			p.MinPasswordLength, err = intVal(v, 1, 128)
		case "exemptions":
			p.Exemptions, err = exemptions(v, key)
			if err != nil {
				return nil, err
			}
		default:
			return nil, configErr(key, "unknown key")
		}
		if err != nil {
			return nil, configErr(key, "%w", err)
		}
	}
	return p, nil
}

// exemptions decodes site_policy.exemptions.
func exemptions(v any, key string) (map[string]Exemption, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, configErr(key, "must be a map of check id to {reason, approver, expires}")
	}
	out := make(map[string]Exemption, len(m))
	for id, raw := range m {
		k := key + "." + id
		e, ok := raw.(map[string]any)
		if !ok {
			return nil, configErr(k, "must be a map with reason, approver, expires")
		}
		var x Exemption
		for f, fv := range e {
			s, err := strVal(fv)
			if t, ok := fv.(time.Time); ok {
				s, err = t.Format(time.DateOnly), nil
			}
			if err != nil {
				return nil, configErr(k+"."+f, "%w", err)
			}
			switch f {
			case "reason":
				x.Reason = s
			case "approver":
				x.Approver = s
			case "expires":
				t, err := time.Parse(time.DateOnly, s)
				if err != nil {
					return nil, configErr(k+".expires", "must be a date YYYY-MM-DD, got %q", s)
				}
				x.Expires = t
			default:
				return nil, configErr(k+"."+f, "unknown key")
			}
		}
		if x.Reason == "" || x.Approver == "" || x.Expires.IsZero() {
			return nil, configErr(k, "reason, approver and expires are required")
		}
		out[id] = x
	}
	return out, nil
}

// parsePortSpec parses "tcp/22" or "udp/123".
func parsePortSpec(s string) (proto string, port int, err error) {
	proto, num, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "/")
	if !ok || (proto != "tcp" && proto != "udp") {
		return "", 0, fmt.Errorf("port %q: want tcp/N or udp/N", s)
	}
	port, err = strconv.Atoi(num)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: want tcp/N or udp/N", s)
	}
	return proto, port, nil
}

func strVal(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("must be a string, got %T", v)
	}
	return s, nil
}

func strList(v any) ([]string, error) {
	switch l := v.(type) {
	case nil:
		return nil, nil
	case []string:
		return l, nil
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("must be a list of strings, got an item of type %T", x)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a list of strings, got %T", v)
}

func intVal(v any, lo, hi int) (int, error) {
	var n int
	switch x := v.(type) {
	case int:
		n = x
	case int64:
		n = int(x)
	case uint64:
		if x > math.MaxInt32 {
			return 0, fmt.Errorf("must be between %d and %d, got %d", lo, hi, x)
		}
		n = int(x)
	case float64:
		if x != math.Trunc(x) {
			return 0, fmt.Errorf("must be an integer, got %v", x)
		}
		n = int(x)
	default:
		return 0, fmt.Errorf("must be an integer, got %T", v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("must be between %d and %d, got %d", lo, hi, n)
	}
	return n, nil
}

func intList(v any, lo, hi int) ([]int, error) {
	l, ok := v.([]any)
	if !ok {
		if il, ok := v.([]int); ok {
			return il, nil
		}
		return nil, fmt.Errorf("must be a list of integers, got %T", v)
	}
	out := make([]int, 0, len(l))
	for _, x := range l {
		n, err := intVal(x, lo, hi)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func boolVal(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("must be true or false, got %T", v)
	}
	return b, nil
}
