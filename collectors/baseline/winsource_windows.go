package baseline

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/mgr"
)

// winLive reads the local registry, service manager and security APIs.
type winLive struct {
	m *mgr.Mgr // nil when the service manager could not be opened
}

var _ winSource = (*winLive)(nil)

var (
	modNetapi32                 = windows.NewLazySystemDLL("netapi32.dll")
	procNetUserModalsGet        = modNetapi32.NewProc("NetUserModalsGet")
	procNetLocalGroupGetMembers = modNetapi32.NewProc("NetLocalGroupGetMembers")
	modAdvapi32                 = windows.NewLazySystemDLL("advapi32.dll")
	procAuditQuerySystemPolicy  = modAdvapi32.NewProc("AuditQuerySystemPolicy")
	procAuditFree               = modAdvapi32.NewProc("AuditFree")
	modIphlpapi                 = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable     = modIphlpapi.NewProc("GetExtendedTcpTable")
	procGetExtendedUdpTable     = modIphlpapi.NewProc("GetExtendedUdpTable")
)

// openWinSource connects to the service manager (read-only use).
func openWinSource() (winSource, error) {
	m, err := mgr.ConnectRemote("") // local SCM
	if err != nil {
		return &winLive{}, nil // services then report errors per check
	}
	return &winLive{m: m}, nil
}

// Close disconnects from the service manager.
func (w *winLive) Close() error {
	if w.m != nil {
		return w.m.Disconnect()
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

// Service returns a service's start type and whether it runs.
func (w *winLive) Service(name string) (winService, error) {
	if w.m == nil {
		return winService{}, fmt.Errorf("service manager: %w", fs.ErrPermission)
	}
	s, err := w.m.OpenService(name)
	if err != nil {
		if err == windows.ERROR_SERVICE_DOES_NOT_EXIST {
			return winService{}, fs.ErrNotExist
		}
		return winService{}, regErr(err)
	}
	defer s.Close()
	c, err := s.Config()
	if err != nil {
		return winService{}, err
	}
	st, err := s.Query()
	if err != nil {
		return winService{}, err
	}
	return winService{StartType: c.StartType, Running: st.State == windows.SERVICE_RUNNING}, nil
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

// AccountPolicy reads the password and lockout policy. Complexity and
// reversible storage live in the SAM domain policy, which this build does not
// read (reported as unknown).
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
	return accountPolicy{
		MinLength: int(m0.MinPasswdLen), MaxAge: sec(m0.MaxPasswdAge), MinAge: sec(m0.MinPasswdAge), History: int(m0.PasswordHistLen),
		Complexity: -1, ReversibleStorage: -1,
		LockoutThreshold: int(m3.LockoutThreshold), LockoutDuration: sec(m3.LockoutDuration), LockoutObservation: sec(m3.LockoutObservationWindow),
	}, nil
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

// AuditPolicy reads the advanced audit policy (needs SeSecurityPrivilege:
// run as an administrator or as LocalSystem).
func (w *winLive) AuditPolicy() (map[string]auditSetting, error) {
	if err := procAuditQuerySystemPolicy.Find(); err != nil {
		return nil, ErrUnsupported
	}
	out := map[string]auditSetting{}
	for name, g := range auditSubcategories() {
		guid, err := windows.GUIDFromString(g)
		if err != nil {
			return nil, err
		}
		var p *auditPolicyInfo
		r, _, e := procAuditQuerySystemPolicy.Call(uintptr(unsafe.Pointer(&guid)), 1, uintptr(unsafe.Pointer(&p)))
		if r == 0 {
			if e == windows.ERROR_ACCESS_DENIED || e == windows.ERROR_PRIVILEGE_NOT_HELD {
				return nil, fmt.Errorf("query audit policy: %w", fs.ErrPermission)
			}
			return nil, fmt.Errorf("query audit policy %s: %w", name, e)
		}
		out[name] = auditSetting{Success: p.AuditingInfo&1 != 0, Failure: p.AuditingInfo&2 != 0}
		procAuditFree.Call(uintptr(unsafe.Pointer(p)))
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

// GroupMembers lists a local group's members as DOMAIN\name.
func (w *winLive) GroupMembers(group string) ([]string, error) {
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
		return nil, fmt.Errorf("NetLocalGroupGetMembers %s: error %d", group, r)
	}
	defer windows.NetApiBufferFree(buf)
	names := unsafe.Slice((**uint16)(unsafe.Pointer(buf)), read)
	out := make([]string, 0, read)
	for _, n := range names {
		out = append(out, windows.UTF16PtrToString(n))
	}
	return out, nil
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
