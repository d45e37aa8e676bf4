package baseline

import "time"

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
	GroupMembers(group string) ([]string, error) // "Administrators"
	Listeners() ([]listener, error)
	Close() error
}

// winService is the state of one Windows service.
type winService struct {
	StartType uint32 // 0 boot, 1 system, 2 automatic, 3 manual, 4 disabled
	Running   bool
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
	Complexity         int // 1 on, 0 off, -1 unknown
	ReversibleStorage  int // ClearTextPassword: 1 on, 0 off, -1 unknown
	LockoutThreshold   int // 0 = never lock
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
