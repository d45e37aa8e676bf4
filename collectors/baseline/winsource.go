package baseline

import (
	"strconv"
	"strings"
	"time"
)

// winSource is what the Windows probes read: the registry (HKLM paths such
// as `HKLM\SYSTEM\CurrentControlSet\Services\USBSTOR`), the service manager,
// the local security and audit policy, local accounts and listening sockets.
// The real implementation is in winsource_windows.go; tests use a fixture.
// Absent keys, values and services return an error wrapping fs.ErrNotExist;
// what the build cannot read returns ErrUnsupported.
type winSource interface {
	RegDWORD(key, name string) (uint32, error)
	RegString(key, name string) (string, error) // REG_SZ, REG_EXPAND_SZ; REG_MULTI_SZ joined by ","
	RegQWORD(key, name string) (uint64, error)  // REG_QWORD or an 8-byte REG_BINARY (FILETIME)
	RegSubKeys(key string) ([]string, error)
	RegValues(key string) (map[string]string, error) // string values of a key by name
	Service(name string) (winService, error)
	AccountPolicy() (accountPolicy, error)
	AuditPolicy() (map[string]auditSetting, error) // subcategory (English name) → setting
	LocalUsers() ([]localUser, error)
	GroupMembers(sid string) ([]string, error) // members of a local group given by SID ("S-1-5-32-544")
	Listeners() ([]listener, error)
	DomainJoin() (domainJoin, error)     // NetGetJoinInformation
	LastPatch() (patchRecord, error)     // newest successful update installation
	CodeIntegrity() (int, error)         // Win32_DeviceGuard CodeIntegrityPolicyEnforcementStatus
	BitLocker(drive string) (int, error) // Win32_EncryptableVolume ProtectionStatus of a drive ("C:")
	Close() error
}

// sidAdministrators is the local Administrators group, whatever its
// (localised) name.
const sidAdministrators = "S-1-5-32-544"

// domainJoin is the machine's join state.
type domainJoin struct {
	Name   string // domain or workgroup name
	Joined bool   // joined to an Active Directory domain
}

// patchRecord is the newest successful update installation and where it
// was read. Time is zero when the source holds no installation at all.
type patchRecord struct {
	Time   time.Time
	Source string
}

// Code integrity (WDAC) and BitLocker protection states, as the WMI
// classes report them.
const (
	ciOff      = 0
	ciAudit    = 1
	ciEnforced = 2

	blOff     = 0
	blOn      = 1
	blUnknown = 2
)

// winService is the state of one Windows service.
type winService struct {
	StartType uint32 // 0 boot, 1 system, 2 automatic, 3 manual, 4 disabled
	Running   bool
	// Triggers is the number of start triggers (trigger-start services
	// such as W32Time start on an event, not at boot); -1 when unknown.
	Triggers int
}

// Disabled reports whether the service cannot start.
func (s winService) Disabled() bool { return s.StartType == 4 }

// accountPolicy is the local password and lockout policy (net accounts /
// secedit). Durations are zero when "never"; Complexity is -1 when unknown.
type accountPolicy struct {
	MinLength          int
	MaxAge             time.Duration // 0 = never expires
	MinAge             time.Duration
	History            int
	Complexity         int    // 1 on, 0 off, -1 unknown
	ReversibleStorage  int    // ClearTextPassword: 1 on, 0 off, -1 unknown
	PropertiesErr      string // why Complexity and ReversibleStorage are unknown
	LockoutThreshold   int    // 0 = never lock
	LockoutDuration    time.Duration
	LockoutObservation time.Duration
}

// auditSetting is the advanced audit policy of one subcategory.
type auditSetting struct{ Success, Failure bool }

// localUser is one local account.
type localUser struct {
	Name            string
	RID             uint32
	Enabled         bool
	PasswordNotReqd bool
	Admin           bool
	LastLogon       time.Time // zero when never
}

// winEnv is the state of one Windows scan.
type winEnv struct {
	src  winSource
	site *SitePolicy
	role string
	cfg  *Config
	now  time.Time
}

// winProbe decides one Windows check.
type winProbe func(w *winEnv) outcome

// passwordProperties decodes DOMAIN_PASSWORD_INFORMATION.PasswordProperties
// (ntsecapi.h): DOMAIN_PASSWORD_COMPLEX (0x1) is "Password must meet
// complexity requirements", DOMAIN_PASSWORD_STORE_CLEARTEXT (0x10) is
// "Store passwords using reversible encryption".
func passwordProperties(props uint32) (complexity, reversible int) {
	bit := func(mask uint32) int {
		if props&mask != 0 {
			return 1
		}
		return 0
	}
	return bit(0x1), bit(0x10)
}

// wuaEntry is one IUpdateHistoryEntry: Operation 1 is an installation
// (uoInstallation), Result 2 and 3 are succeeded and succeeded with errors
// (orcSucceeded, orcSucceededWithErrors).
type wuaEntry struct {
	Operation, Result int
	Date              time.Time
}

// newestInstall is the date of the newest successful installation, zero
// when there is none.
func newestInstall(entries []wuaEntry) time.Time {
	var newest time.Time
	for _, e := range entries {
		if e.Operation == 1 && (e.Result == 2 || e.Result == 3) && e.Date.After(newest) {
			newest = e.Date
		}
	}
	return newest.UTC()
}

// qfeTime parses Win32_QuickFixEngineering.InstalledOn: M/D/YYYY as the
// provider writes it (D/M/YYYY when the first number cannot be a month), or
// a FILETIME in 16 hex digits (Windows Vista era).
func qfeTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"1/2/2006", "2/1/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if len(s) == 16 {
		if ft, err := strconv.ParseUint(s, 16, 64); err == nil {
			if t := filetime(ft); !t.IsZero() {
				return t, true
			}
		}
	}
	return time.Time{}, false
}
