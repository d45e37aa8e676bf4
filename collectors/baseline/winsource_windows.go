package baseline

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/yusufpapurcu/wmi"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// winLive reads the local registry, service manager and security APIs with
// the least rights each needs, so that a standard user or a service account
// reads everything the OS lets it read, and LocalSystem reads protected
// services (WinDefend, mpssvc) that deny SC_MANAGER_ALL_ACCESS and
// SERVICE_ALL_ACCESS even to it.
type winLive struct {
	scm    windows.Handle // 0 when the service manager could not be opened
	scmErr error
}

var _ winSource = (*winLive)(nil)

var (
	modNetapi32                 = windows.NewLazySystemDLL("netapi32.dll")
	procNetUserModalsGet        = modNetapi32.NewProc("NetUserModalsGet")
	procNetLocalGroupGetMembers = modNetapi32.NewProc("NetLocalGroupGetMembers")
	modAdvapi32                 = windows.NewLazySystemDLL("advapi32.dll")
	procAuditQuerySystemPolicy  = modAdvapi32.NewProc("AuditQuerySystemPolicy")
	procAuditFree               = modAdvapi32.NewProc("AuditFree")
	procAdjustTokenPrivileges   = modAdvapi32.NewProc("AdjustTokenPrivileges")
	modIphlpapi                 = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable     = modIphlpapi.NewProc("GetExtendedTcpTable")
	procGetExtendedUdpTable     = modIphlpapi.NewProc("GetExtendedUdpTable")
)

// openWinSource connects to the service manager with SC_MANAGER_CONNECT,
// the right every authenticated user has.
func openWinSource() (winSource, error) {
	h, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT)
	if err != nil {
		return &winLive{scmErr: fmt.Errorf("open service manager: %w", regErr(err))}, nil // services then report errors per check
	}
	return &winLive{scm: h}, nil
}

// Close disconnects from the service manager.
func (w *winLive) Close() error {
	if w.scm != 0 {
		return windows.CloseServiceHandle(w.scm)
	}
	return nil
}

// openKey opens an HKLM path for reading.
func openKey(key string) (registry.Key, error) {
	path, ok := strings.CutPrefix(key, `HKLM\`)
	if !ok {
		return 0, fmt.Errorf("key %q: only HKLM is read", key)
	}
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, path, registry.QUERY_VALUE|registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		return 0, regErr(err)
	}
	return k, nil
}

// regErr maps "not found" to fs.ErrNotExist.
func regErr(err error) error {
	if err == registry.ErrNotExist || err == windows.ERROR_FILE_NOT_FOUND || err == windows.ERROR_PATH_NOT_FOUND {
		return fs.ErrNotExist
	}
	if err == windows.ERROR_ACCESS_DENIED {
		return fs.ErrPermission
	}
	return err
}

// RegDWORD reads a REG_DWORD (or a numeric REG_SZ) under HKLM.
func (w *winLive) RegDWORD(key, name string) (uint32, error) {
	k, err := openKey(key)
	if err != nil {
		return 0, err
	}
	defer k.Close()
	v, typ, err := k.GetIntegerValue(name)
	if err != nil {
		if s, _, serr := k.GetStringValue(name); serr == nil { // some policies are REG_SZ
			var n uint32
			if _, perr := fmt.Sscan(s, &n); perr == nil {
				return n, nil
			}
		}
		return 0, regErr(err)
	}
	_ = typ
	return uint32(v), nil
}

// RegString reads a REG_SZ / REG_EXPAND_SZ, or a REG_MULTI_SZ joined by ",".
func (w *winLive) RegString(key, name string) (string, error) {
	k, err := openKey(key)
	if err != nil {
		return "", err
	}
	defer k.Close()
	if s, _, err := k.GetStringValue(name); err == nil {
		return s, nil
	}
	l, _, err := k.GetStringsValue(name)
	if err != nil {
		return "", regErr(err)
	}
	return strings.Join(l, ","), nil
}

// RegQWORD reads a REG_QWORD or an 8-byte REG_BINARY.
func (w *winLive) RegQWORD(key, name string) (uint64, error) {
	k, err := openKey(key)
	if err != nil {
		return 0, err
	}
	defer k.Close()
	if v, _, err := k.GetIntegerValue(name); err == nil {
		return v, nil
	}
	b, _, err := k.GetBinaryValue(name)
	if err != nil {
		return 0, regErr(err)
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("value %s: %d bytes, want 8", name, len(b))
	}
	return binary.LittleEndian.Uint64(b), nil
}

// RegSubKeys lists the subkeys of an HKLM key.
func (w *winLive) RegSubKeys(key string) ([]string, error) {
	k, err := openKey(key)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadSubKeyNames(-1)
	if err != nil {
		return nil, regErr(err)
	}
	return names, nil
}

// RegValues returns the string values of an HKLM key by name.
func (w *winLive) RegValues(key string) (map[string]string, error) {
	k, err := openKey(key)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadValueNames(-1)
	if err != nil {
		return nil, regErr(err)
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		if s, _, err := k.GetStringValue(n); err == nil {
			out[n] = s
		}
	}
	return out, nil
}

// Service returns a service's start type, whether it runs and its number
// of start triggers, opening it with SERVICE_QUERY_CONFIG and
// SERVICE_QUERY_STATUS only.
func (w *winLive) Service(name string) (winService, error) {
	if w.scm == 0 {
		return winService{}, w.scmErr
	}
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return winService{}, err
	}
	h, err := windows.OpenService(w.scm, n, windows.SERVICE_QUERY_CONFIG|windows.SERVICE_QUERY_STATUS)
	if err != nil {
		if err == windows.ERROR_SERVICE_DOES_NOT_EXIST {
			return winService{}, fs.ErrNotExist
		}
		return winService{}, regErr(err)
	}
	defer windows.CloseServiceHandle(h)
	var cfg *windows.QUERY_SERVICE_CONFIG
	for size := uint32(1024); ; {
		buf := make([]byte, size)
		cfg = (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&buf[0]))
		err := windows.QueryServiceConfig(h, cfg, size, &size)
		if err == nil {
			break
		}
		if err != windows.ERROR_INSUFFICIENT_BUFFER || size <= uint32(len(buf)) {
			return winService{}, fmt.Errorf("query service %s configuration: %w", name, regErr(err))
		}
	}
	var st windows.SERVICE_STATUS
	if err := windows.QueryServiceStatus(h, &st); err != nil {
		return winService{}, fmt.Errorf("query service %s status: %w", name, regErr(err))
	}
	return winService{StartType: cfg.StartType, Running: st.CurrentState == windows.SERVICE_RUNNING, Triggers: serviceTriggers(h)}, nil
}

// serviceTriggerInfo is SERVICE_TRIGGER_INFO.
type serviceTriggerInfo struct {
	Count    uint32
	Triggers uintptr
	Reserved uintptr
}

// serviceTriggers is the number of start triggers of a service
// (QueryServiceConfig2 SERVICE_CONFIG_TRIGGER_INFO), -1 when unknown.
func serviceTriggers(h windows.Handle) int {
	var need uint32
	err := windows.QueryServiceConfig2(h, windows.SERVICE_CONFIG_TRIGGER_INFO, nil, 0, &need)
	if err != windows.ERROR_INSUFFICIENT_BUFFER || need < uint32(unsafe.Sizeof(serviceTriggerInfo{})) {
		return -1
	}
	buf := make([]byte, need)
	if err := windows.QueryServiceConfig2(h, windows.SERVICE_CONFIG_TRIGGER_INFO, &buf[0], need, &need); err != nil {
		return -1
	}
	return int((*serviceTriggerInfo)(unsafe.Pointer(&buf[0])).Count)
}

// userModals0 is USER_MODALS_INFO_0; userModals3 is USER_MODALS_INFO_3.
type userModals0 struct {
	MinPasswdLen, MaxPasswdAge, MinPasswdAge, ForceLogoff, PasswordHistLen uint32
}
type userModals3 struct {
	LockoutDuration, LockoutObservationWindow, LockoutThreshold uint32
}

func netUserModals(level uint32) (unsafe.Pointer, error) {
	var buf *byte
	r, _, _ := procNetUserModalsGet.Call(0, uintptr(level), uintptr(unsafe.Pointer(&buf)))
	if r != 0 {
		return nil, fmt.Errorf("NetUserModalsGet level %d: error %d", level, r)
	}
	return unsafe.Pointer(buf), nil
}

// AccountPolicy reads the password and lockout policy (NetUserModalsGet,
// what "net accounts" shows) and the password properties that only the SAM
// domain holds: complexity and reversible encryption.
func (w *winLive) AccountPolicy() (accountPolicy, error) {
	if err := procNetUserModalsGet.Find(); err != nil {
		return accountPolicy{}, ErrUnsupported
	}
	p0, err := netUserModals(0)
	if err != nil {
		return accountPolicy{}, err
	}
	m0 := *(*userModals0)(p0)
	windows.NetApiBufferFree((*byte)(p0))
	p3, err := netUserModals(3)
	if err != nil {
		return accountPolicy{}, err
	}
	m3 := *(*userModals3)(p3)
	windows.NetApiBufferFree((*byte)(p3))
	sec := func(s uint32) time.Duration {
		if s == 0xFFFFFFFF { // TIMEQ_FOREVER
			return 0
		}
		return time.Duration(s) * time.Second
	}
	p := accountPolicy{
		MinLength: int(m0.MinPasswdLen), MaxAge: sec(m0.MaxPasswdAge), MinAge: sec(m0.MinPasswdAge), History: int(m0.PasswordHistLen),
		Complexity: -1, ReversibleStorage: -1,
		LockoutThreshold: int(m3.LockoutThreshold), LockoutDuration: sec(m3.LockoutDuration), LockoutObservation: sec(m3.LockoutObservationWindow),
	}
	if props, err := samPasswordProperties(); err != nil {
		p.PropertiesErr = err.Error()
	} else {
		p.Complexity, p.ReversibleStorage = passwordProperties(props)
	}
	return p, nil
}

var (
	modSamlib                      = windows.NewLazySystemDLL("samlib.dll")
	procSamConnect                 = modSamlib.NewProc("SamConnect")
	procSamLookupDomainInSamServer = modSamlib.NewProc("SamLookupDomainInSamServer")
	procSamOpenDomain              = modSamlib.NewProc("SamOpenDomain")
	procSamQueryInformationDomain  = modSamlib.NewProc("SamQueryInformationDomain")
	procSamFreeMemory              = modSamlib.NewProc("SamFreeMemory")
	procSamCloseHandle             = modSamlib.NewProc("SamCloseHandle")
)

// underWine reports whether the program runs under Wine, whose ntdll has
// wine_get_version. Some Wine exports are stubs that abort the process when
// called; those calls are skipped there.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// domainPasswordInformation is DOMAIN_PASSWORD_INFORMATION (ntsecapi.h).
type domainPasswordInformation struct {
	MinPasswordLength     uint16
	PasswordHistoryLength uint16
	PasswordProperties    uint32
	MaxPasswordAge        int64
	MinPasswordAge        int64
}

// samPasswordProperties reads PasswordProperties of the local account
// domain (MS-SAMR SamrQueryInformationDomain, DomainPasswordInformation),
// as "net accounts" and secedit do; DOMAIN_READ_PASSWORD_PARAMETERS is
// granted to every authenticated user.
func samPasswordProperties() (uint32, error) {
	const (
		samServerConnect             = 0x1
		samServerLookupDomain        = 0x20
		domainReadPasswordParameters = 0x1
		domainPasswordInformationCls = 1
	)
	if underWine() {
		// Wine's samlib exports SamConnect as a stub that aborts the
		// process when called.
		return 0, fmt.Errorf("read SAM password properties: samlib.dll is not implemented by Wine: %w", ErrUnsupported)
	}
	for _, p := range []*windows.LazyProc{procSamConnect, procSamLookupDomainInSamServer, procSamOpenDomain, procSamQueryInformationDomain} {
		if err := p.Find(); err != nil {
			return 0, fmt.Errorf("read SAM password properties: %w", err)
		}
	}
	fail := func(what string, st uintptr) error {
		return fmt.Errorf("read SAM password properties: %s: %w", what, windows.NTStatus(st))
	}
	var server uintptr
	oa := windows.OBJECT_ATTRIBUTES{Length: uint32(unsafe.Sizeof(windows.OBJECT_ATTRIBUTES{}))}
	if st, _, _ := procSamConnect.Call(0, uintptr(unsafe.Pointer(&server)), samServerConnect|samServerLookupDomain, uintptr(unsafe.Pointer(&oa))); st != 0 {
		return 0, fail("SamConnect", st)
	}
	defer procSamCloseHandle.Call(server)
	host, err := windows.ComputerName()
	if err != nil {
		return 0, fmt.Errorf("read SAM password properties: %w", err)
	}
	name, err := windows.NewNTUnicodeString(host)
	if err != nil {
		return 0, err
	}
	var sid *windows.SID
	if st, _, _ := procSamLookupDomainInSamServer.Call(server, uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(&sid))); st != 0 {
		return 0, fail("SamLookupDomainInSamServer "+host, st)
	}
	defer procSamFreeMemory.Call(uintptr(unsafe.Pointer(sid)))
	var domain uintptr
	if st, _, _ := procSamOpenDomain.Call(server, domainReadPasswordParameters, uintptr(unsafe.Pointer(sid)), uintptr(unsafe.Pointer(&domain))); st != 0 {
		return 0, fail("SamOpenDomain", st)
	}
	defer procSamCloseHandle.Call(domain)
	var info *domainPasswordInformation
	if st, _, _ := procSamQueryInformationDomain.Call(domain, domainPasswordInformationCls, uintptr(unsafe.Pointer(&info))); st != 0 {
		return 0, fail("SamQueryInformationDomain", st)
	}
	defer procSamFreeMemory.Call(uintptr(unsafe.Pointer(info)))
	return info.PasswordProperties, nil
}

// auditSubcategories maps the subcategories the checks read to their GUIDs.
func auditSubcategories() map[string]string {
	return map[string]string{
		"Credential Validation":     "{0CCE923F-69AE-11D9-BED3-505054503030}",
		"Logon":                     "{0CCE9215-69AE-11D9-BED3-505054503030}",
		"Account Lockout":           "{0CCE9217-69AE-11D9-BED3-505054503030}",
		"User Account Management":   "{0CCE9235-69AE-11D9-BED3-505054503030}",
		"Security Group Management": "{0CCE9237-69AE-11D9-BED3-505054503030}",
		"Audit Policy Change":       "{0CCE922F-69AE-11D9-BED3-505054503030}",
		"Sensitive Privilege Use":   "{0CCE9228-69AE-11D9-BED3-505054503030}",
		"Process Creation":          "{0CCE922B-69AE-11D9-BED3-505054503030}",
		"Removable Storage":         "{0CCE9245-69AE-11D9-BED3-505054503030}",
	}
}

// auditPolicyInfo is AUDIT_POLICY_INFORMATION.
type auditPolicyInfo struct {
	SubCategory  windows.GUID
	AuditingInfo uint32
	CategoryGUID windows.GUID
}

// securityPrivilege enables SeSecurityPrivilege once per process; the
// error is kept.
var securityPrivilege struct {
	once sync.Once
	err  error
}

// enablePrivilege enables a privilege the process token holds.
// AdjustTokenPrivileges succeeds with ERROR_NOT_ALL_ASSIGNED when the token
// does not hold it, so the last error is checked too.
func enablePrivilege(name string) error {
	var tok windows.Token
	if err := windows.OpenProcessToken(windows.CurrentProcess(), windows.TOKEN_ADJUST_PRIVILEGES|windows.TOKEN_QUERY, &tok); err != nil {
		return fmt.Errorf("open process token: %w", err)
	}
	defer tok.Close()
	var tp windows.Tokenprivileges
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return err
	}
	if err := windows.LookupPrivilegeValue(nil, n, &tp.Privileges[0].Luid); err != nil {
		return fmt.Errorf("look up %s: %w", name, err)
	}
	tp.PrivilegeCount = 1
	tp.Privileges[0].Attributes = windows.SE_PRIVILEGE_ENABLED
	r, _, e := procAdjustTokenPrivileges.Call(uintptr(tok), 0, uintptr(unsafe.Pointer(&tp)), 0, 0, 0)
	switch {
	case r == 0:
		return fmt.Errorf("enable %s: %w", name, e)
	case e == windows.ERROR_NOT_ALL_ASSIGNED:
		return fmt.Errorf("enable %s: not held (run as an administrator or as LocalSystem): %w", name, fs.ErrPermission)
	}
	return nil
}

// AuditPolicy reads the advanced audit policy of the subcategories the
// checks use. AuditQuerySystemPolicy needs SeSecurityPrivilege enabled (an
// administrator or LocalSystem holds it, disabled) and returns a BOOLEAN:
// only its low byte is the result.
func (w *winLive) AuditPolicy() (map[string]auditSetting, error) {
	if err := procAuditQuerySystemPolicy.Find(); err != nil {
		return nil, ErrUnsupported
	}
	securityPrivilege.once.Do(func() { securityPrivilege.err = enablePrivilege("SeSecurityPrivilege") })
	if err := securityPrivilege.err; err != nil {
		return nil, fmt.Errorf("query audit policy: %w", err)
	}
	subs := auditSubcategories()
	names := sortedKeys(subs)
	guids := make([]windows.GUID, len(names))
	for i, name := range names {
		g, err := windows.GUIDFromString(subs[name])
		if err != nil {
			return nil, err
		}
		guids[i] = g
	}
	var p *auditPolicyInfo
	r, _, e := procAuditQuerySystemPolicy.Call(uintptr(unsafe.Pointer(&guids[0])), uintptr(len(guids)), uintptr(unsafe.Pointer(&p)))
	if byte(r) == 0 {
		if e == windows.ERROR_ACCESS_DENIED || e == windows.ERROR_PRIVILEGE_NOT_HELD {
			return nil, fmt.Errorf("query audit policy: %w", fs.ErrPermission)
		}
		return nil, fmt.Errorf("query audit policy: %w", e)
	}
	defer procAuditFree.Call(uintptr(unsafe.Pointer(p)))
	out := make(map[string]auditSetting, len(names))
	for i, info := range unsafe.Slice(p, len(guids)) {
		out[names[i]] = auditSetting{Success: info.AuditingInfo&1 != 0, Failure: info.AuditingInfo&2 != 0}
	}
	return out, nil
}

// userInfo3 is USER_INFO_3.
type userInfo3 struct {
	Name, Password              *uint16
	PasswordAge, Priv           uint32
	HomeDir, Comment            *uint16
	Flags                       uint32
	ScriptPath                  *uint16
	AuthFlags                   uint32
	FullName, UsrComment, Parms *uint16
	Workstations                *uint16
	LastLogon, LastLogoff       uint32
	AcctExpires, MaxStorage     uint32
	UnitsPerWeek                uint32
	LogonHours                  *byte
	BadPwCount, NumLogons       uint32
	LogonServer                 *uint16
	CountryCode, CodePage       uint32
	UserID, PrimaryGroupID      uint32
	Profile, HomeDirDrive       *uint16
	PasswordExpired             uint32
}

// LocalUsers lists local accounts (NetUserEnum level 3).
func (w *winLive) LocalUsers() ([]localUser, error) {
	var buf *byte
	var read, total, resume uint32
	const filterNormal = 0x2
	if err := windows.NetUserEnum(nil, 3, filterNormal, &buf, 0xFFFFFFFF, &read, &total, &resume); err != nil {
		return nil, fmt.Errorf("NetUserEnum: %w", err)
	}
	defer windows.NetApiBufferFree(buf)
	users := unsafe.Slice((*userInfo3)(unsafe.Pointer(buf)), read)
	out := make([]localUser, 0, read)
	for _, u := range users {
		lu := localUser{Name: windows.UTF16PtrToString(u.Name), RID: u.UserID, Enabled: u.Flags&0x2 == 0,
			PasswordNotReqd: u.Flags&0x20 != 0, Admin: u.Priv == 2}
		if u.LastLogon != 0 {
			lu.LastLogon = time.Unix(int64(u.LastLogon), 0).UTC()
		}
		out = append(out, lu)
	}
	return out, nil
}

// GroupMembers lists the members of the local group with the given SID
// as DOMAIN\name. The group is looked up by SID, so a localised name
// ("Administratoren", "Администраторы") is found too.
func (w *winLive) GroupMembers(sid string) ([]string, error) {
	s, err := windows.StringToSid(sid)
	if err != nil {
		return nil, fmt.Errorf("group %s: %w", sid, err)
	}
	group, _, _, err := s.LookupAccount("")
	if err != nil {
		return nil, fmt.Errorf("look up group %s: %w", sid, err)
	}
	g, err := windows.UTF16PtrFromString(group)
	if err != nil {
		return nil, err
	}
	var buf *byte
	var read, total uint32
	var resume uintptr
	r, _, _ := procNetLocalGroupGetMembers.Call(0, uintptr(unsafe.Pointer(g)), 3, uintptr(unsafe.Pointer(&buf)), 0xFFFFFFFF,
		uintptr(unsafe.Pointer(&read)), uintptr(unsafe.Pointer(&total)), uintptr(unsafe.Pointer(&resume)))
	if r != 0 {
		return nil, fmt.Errorf("NetLocalGroupGetMembers %s (%s): %w", group, sid, syscall.Errno(r))
	}
	defer windows.NetApiBufferFree(buf)
	names := unsafe.Slice((**uint16)(unsafe.Pointer(buf)), read)
	out := make([]string, 0, read)
	for _, n := range names {
		out = append(out, windows.UTF16PtrToString(n))
	}
	return out, nil
}

// DomainJoin asks NetGetJoinInformation whether the machine is joined to a
// domain (a DNS suffix or a workgroup named like a domain is not a join).
func (w *winLive) DomainJoin() (domainJoin, error) {
	var name *uint16
	var typ uint32
	if err := windows.NetGetJoinInformation(nil, &name, &typ); err != nil {
		return domainJoin{}, fmt.Errorf("NetGetJoinInformation: %w", err)
	}
	defer windows.NetApiBufferFree((*byte)(unsafe.Pointer(name)))
	return domainJoin{Name: windows.UTF16PtrToString(name), Joined: typ == windows.NetSetupDomainName}, nil
}

// CodeIntegrity reads Win32_DeviceGuard.CodeIntegrityPolicyEnforcementStatus
// (0 off, 1 audit, 2 enforced): whether a WDAC policy is enforced.
func (w *winLive) CodeIntegrity() (int, error) {
	var dg []struct{ CodeIntegrityPolicyEnforcementStatus uint32 }
	err := wmi.Query("SELECT CodeIntegrityPolicyEnforcementStatus FROM Win32_DeviceGuard", &dg, ".", `root\Microsoft\Windows\DeviceGuard`)
	if err != nil {
		return 0, fmt.Errorf("query Win32_DeviceGuard: %w", err)
	}
	if len(dg) == 0 {
		return 0, fmt.Errorf("query Win32_DeviceGuard: no instance: %w", fs.ErrNotExist)
	}
	return int(dg[0].CodeIntegrityPolicyEnforcementStatus), nil
}

// BitLocker reads Win32_EncryptableVolume.ProtectionStatus of a drive (0
// off, 1 on, 2 unknown). The class answers administrators only.
func (w *winLive) BitLocker(drive string) (int, error) {
	var vols []struct {
		DriveLetter      string
		ProtectionStatus uint32
	}
	err := wmi.Query("SELECT DriveLetter, ProtectionStatus FROM Win32_EncryptableVolume WHERE DriveLetter = '"+drive+"'", &vols,
		".", `root\CIMV2\Security\MicrosoftVolumeEncryption`)
	if err != nil {
		return 0, fmt.Errorf("query Win32_EncryptableVolume (root\\CIMV2\\Security\\MicrosoftVolumeEncryption, administrators only): %w", err)
	}
	if len(vols) == 0 {
		return blOff, nil // not an encryptable volume: not protected
	}
	return int(vols[0].ProtectionStatus), nil
}

// Listeners lists TCP listeners and UDP endpoints (IPv4 and IPv6).
func (w *winLive) Listeners() ([]listener, error) {
	var out []listener
	for _, t := range []struct {
		proc   *windows.LazyProc
		af     uint32
		class  uint32
		proto  string
		rowLen int
	}{
		{procGetExtendedTcpTable, windows.AF_INET, 3, "tcp", 24},  // TCP_TABLE_OWNER_PID_LISTENER, MIB_TCPROW_OWNER_PID
		{procGetExtendedTcpTable, windows.AF_INET6, 3, "tcp", 56}, // MIB_TCP6ROW_OWNER_PID
		{procGetExtendedUdpTable, windows.AF_INET, 1, "udp", 12},  // UDP_TABLE_OWNER_PID, MIB_UDPROW_OWNER_PID
		{procGetExtendedUdpTable, windows.AF_INET6, 1, "udp", 28}, // MIB_UDP6ROW_OWNER_PID
	} {
		var size uint32
		t.proc.Call(0, uintptr(unsafe.Pointer(&size)), 0, uintptr(t.af), uintptr(t.class), 0)
		if size == 0 {
			continue
		}
		buf := make([]byte, size+1024)
		size = uint32(len(buf))
		r, _, _ := t.proc.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0, uintptr(t.af), uintptr(t.class), 0)
		if r != 0 {
			return out, fmt.Errorf("%s table: error %d", t.proto, r)
		}
		n := int(binary.LittleEndian.Uint32(buf))
		for i := 0; i < n; i++ {
			row := buf[4+i*t.rowLen:]
			if len(row) < t.rowLen {
				break
			}
			var addr netip.Addr
			var port uint32
			if t.af == windows.AF_INET {
				addr = netip.AddrFrom4([4]byte(row[0:4]))
				port = binary.LittleEndian.Uint32(row[4:8])
				if t.proto == "tcp" {
					addr = netip.AddrFrom4([4]byte(row[4:8]))
					port = binary.LittleEndian.Uint32(row[8:12])
				}
			} else {
				addr = netip.AddrFrom16([16]byte(row[0:16])).Unmap()
				port = binary.LittleEndian.Uint32(row[20:24])
			}
			p := int(port&0xff)<<8 | int(port>>8&0xff) // network byte order in the low 16 bits
			out = append(out, listener{Proto: t.proto, Addr: addr, Port: p})
		}
	}
	return out, nil
}
