package baseline

import (
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// fakeWin is a fixture winSource: registry values, services, policies and
// sockets held in maps. A key or value absent from the maps is absent.
type fakeWin struct {
	dwords    map[string]uint32 // key|name
	strs      map[string]string // key|name
	qwords    map[string]uint64
	subkeys   map[string][]string
	values    map[string]map[string]string
	services  map[string]winService
	policy    accountPolicy
	audit     map[string]auditSetting
	users     []localUser
	groups    map[string][]string
	listeners []listener
	join      domainJoin
	patch     patchRecord
	ci        int              // code integrity (WDAC) state
	bitlocker map[string]int   // drive → protection status
	fail      map[string]error // method name → error
}

var _ winSource = (*fakeWin)(nil)

func notFound(what string) error { return fmt.Errorf("%s: %w", what, fs.ErrNotExist) }

func (f *fakeWin) RegDWORD(key, name string) (uint32, error) {
	if err := f.fail["RegDWORD"]; err != nil {
		return 0, err
	}
	v, ok := f.dwords[key+"|"+name]
	if !ok {
		return 0, notFound(name)
	}
	return v, nil
}
func (f *fakeWin) RegString(key, name string) (string, error) {
	v, ok := f.strs[key+"|"+name]
	if !ok {
		return "", notFound(name)
	}
	return v, nil
}
func (f *fakeWin) RegQWORD(key, name string) (uint64, error) {
	v, ok := f.qwords[key+"|"+name]
	if !ok {
		return 0, notFound(name)
	}
	return v, nil
}
func (f *fakeWin) RegSubKeys(key string) ([]string, error) {
	v, ok := f.subkeys[key]
	if !ok {
		return nil, notFound(key)
	}
	return v, nil
}
func (f *fakeWin) RegValues(key string) (map[string]string, error) {
	v, ok := f.values[key]
	if !ok {
		return nil, notFound(key)
	}
	return v, nil
}
func (f *fakeWin) Service(name string) (winService, error) {
	s, ok := f.services[name]
	if !ok {
		return winService{}, notFound(name)
	}
	return s, nil
}
func (f *fakeWin) AccountPolicy() (accountPolicy, error) {
	if err := f.fail["AccountPolicy"]; err != nil {
		return accountPolicy{}, err
	}
	return f.policy, nil
}
func (f *fakeWin) AuditPolicy() (map[string]auditSetting, error) {
	if err := f.fail["AuditPolicy"]; err != nil {
		return nil, err
	}
	return f.audit, nil
}
func (f *fakeWin) LocalUsers() ([]localUser, error) {
	if err := f.fail["LocalUsers"]; err != nil {
		return nil, err
	}
	return f.users, nil
}
func (f *fakeWin) GroupMembers(g string) ([]string, error) { return f.groups[g], nil }
func (f *fakeWin) Listeners() ([]listener, error) {
	if err := f.fail["Listeners"]; err != nil {
		return nil, err
	}
	return f.listeners, nil
}
func (f *fakeWin) DomainJoin() (domainJoin, error) { return f.join, f.fail["DomainJoin"] }
func (f *fakeWin) LastPatch() (patchRecord, error) { return f.patch, f.fail["LastPatch"] }
func (f *fakeWin) CodeIntegrity() (int, error)     { return f.ci, f.fail["CodeIntegrity"] }
func (f *fakeWin) BitLocker(drive string) (int, error) {
	return f.bitlocker[drive], f.fail["BitLocker"]
}
func (f *fakeWin) Close() error { return nil }

const (
	kExplorerPol = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\Explorer`
	kWUResults   = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\Results\Install`
	kWinlogon    = `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon`
	kWEF         = `HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\EventForwarding\SubscriptionManager`
)

// hardenedWin returns a Windows 10 LTSC engineering workstation on which
// every check passes (or is not applicable).
func hardenedWin() *fakeWin {
	ft := uint64(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano()/100) + 116444736000000000
	allAudit := map[string]auditSetting{}
	for _, s := range []string{"Credential Validation", "Logon", "Account Lockout", "User Account Management", "Security Group Management", "Audit Policy Change", "Sensitive Privilege Use", "Process Creation", "Removable Storage"} {
		allAudit[s] = auditSetting{true, true}
	}
	return &fakeWin{
		dwords: map[string]uint32{
			regServices + `\USBSTOR|Start`: 4,
			kExplorerPol + `|NoAutorun`:    1, kExplorerPol + `|NoDriveTypeAutoRun`: 255,
			`HKLM\SOFTWARE\Policies\Microsoft\Windows\Explorer|NoAutoplayfornonVolume`:             1,
			`HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\Scan|DisableRemovableDriveScanning`: 0,
			regServices + `\LanmanServer\Parameters|SMB1`:                                          0,
			regPolTS + `|fAllowToGetHelp`:                                                          0,
			regServices + `\LanmanServer\Parameters|AutoShareWks`:                                  0,
			regLsa + `|RestrictAnonymousSAM`:                                                       1,
			regLsa + `|RestrictAnonymous`:                                                          1,
			regPolTS + `|fDenyTSConnections`:                                                       1,
			regLsa + `|LimitBlankPasswordUse`:                                                      1,
			regPolSystem + `|EnableLUA`:                                                            1,
			regPolSystem + `|FilterAdministratorToken`:                                             1,
			regPolSystem + `|ConsentPromptBehaviorAdmin`:                                           2,
			regLsa + `|LMCompatibilityLevel`:                                                       5,
			regLsa + `|NoLMHash`:                                                                   1,
			regLsa + `|SCENoApplyLegacyAuditPolicy`:                                                1,
			`HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\Security|MaxSize`:                   196608,
			`HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\Application|MaxSize`:                32768,
			`HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\System|MaxSize`:                     32768,
			`HKLM\SOFTWARE\Policies\Microsoft\W32Time\TimeProviders\NtpClient|Enabled`:             1,
			`HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\DomainProfile|EnableFirewall`:        1,
			`HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\PrivateProfile|EnableFirewall`:       1,
			`HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\PublicProfile|EnableFirewall`:        1,
			`HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\DomainProfile|DefaultInboundAction`:  1,
			`HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\PublicProfile|DefaultInboundAction`:  1,
			`HKLM\SOFTWARE\Policies\Microsoft\Windows\SrpV2\Exe|EnforcementMode`:                   1,
			`HKLM\SOFTWARE\Policies\Microsoft\Windows\SrpV2\Script|EnforcementMode`:                1,
			regPolSystem + `|InactivityTimeoutSecs`:                                                600,
			regServices + `\Tcpip\Parameters|IPEnableRouter`:                                       0,
			// issue 10: credential protection, SMB signing, name resolution, PowerShell logging
			regDeviceGuardPol + `|LsaCfgFlags`:                                      1,
			regDeviceGuardPol + `|EnableVirtualizationBasedSecurity`:                1,
			regLsa + `|RunAsPPL`:                                                    1,
			regServices + `\LanmanServer\Parameters|RequireSecuritySignature`:       1,
			regServices + `\LanmanWorkstation\Parameters|RequireSecuritySignature`:  1,
			`HKLM\SOFTWARE\Policies\Microsoft\Windows NT\DNSClient|EnableMulticast`: 0,
			regNetBT + `\Interfaces\Tcpip_{1}|NetbiosOptions`:                       2,
			regPowerShellPol + `\ScriptBlockLogging|EnableScriptBlockLogging`:       1,
			regPowerShellPol + `\ModuleLogging|EnableModuleLogging`:                 1,
		},
		strs: map[string]string{
			regServices + `\Tcpip\Parameters|Domain`:                          "ot.plant.local",
			kWEF + `|1`:                                                       "Server=http://wec.plant.local:5985/wsman/SubscriptionManager/WEC,Refresh=60",
			regServices + `\W32Time\Parameters|Type`:                          "NTP",
			regServices + `\W32Time\Parameters|NtpServer`:                     "10.0.0.1,0x9",
			regCurVer + `|ProductName`:                                        "Windows 10 Enterprise LTSC 2021",
			regCurVer + `|CurrentBuild`:                                       "19044",
			regCurVer + `|EditionID`:                                          "EnterpriseS",
			regCurVer + `|InstallationType`:                                   "Client",
			`HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate|WUServer`: "http://wsus.plant.local:8530",
			kWUResults + `|LastSuccessTime`:                                   "2026-11-01 02:00:00",
			kWinlogon + `|AutoAdminLogon`:                                     "0",
			`HKLM\SOFTWARE\Microsoft\Ole|EnableDCOM`:                          "N",
			regUninstall + `\{S7}|DisplayName`:                                "SIMATIC STEP 7 V5.7",
			regServices + `\svcA|ImagePath`:                                   `"C:\Program Files\Siemens\Automation\s7oiehsx.exe" -service`,
			regServices + `\svcB|ImagePath`:                                   `C:\Windows\system32\svchost.exe -k netsvcs`,
		},
		qwords: map[string]uint64{`HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates|SignaturesLastUpdated`: ft},
		subkeys: map[string][]string{
			regUninstall:             {"{S7}"},
			regServices:              {"svcA", "svcB"},
			regNetBT + `\Interfaces`: {"Tcpip_{1}"},
			`HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Authentication\Credential Providers`: {"{60B78E88-EAD8-445C-9CFD-0B87F74EA6CD}", "{MFA-OTP}"},
		},
		values: map[string]map[string]string{
			regPowerShellPol + `\ModuleLogging\ModuleNames`: {"*": "*"},
			regFwPolicy + `\FirewallRules`: {
				"RDP-jump": "v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|RA4=10.0.9.0/255.255.255.0|Name=RDP from jump host|",
				"Modbus":   "v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=502|RA4=10.0.0.20|Name=Modbus PLC|",
			},
		},
		services: map[string]winService{
			"bthserv": {StartType: 4}, "RemoteRegistry": {StartType: 4}, "Spooler": {StartType: 4},
			"TermService": {StartType: 3}, "W32Time": {StartType: 2, Running: true}, "mpssvc": {StartType: 2, Running: true},
			"WinDefend": {StartType: 2, Running: true}, "AppIDSvc": {StartType: 2, Running: true}, "SharedAccess": {StartType: 4},
		},
		policy: accountPolicy{MinLength: 12, Complexity: 1, ReversibleStorage: 0, MaxAge: 90 * 24 * time.Hour, MinAge: 24 * time.Hour,
			History: 24, LockoutThreshold: 5, LockoutDuration: 15 * time.Minute, LockoutObservation: 15 * time.Minute},
		audit: allAudit,
		users: []localUser{
			{Name: "ot-admin", RID: 500, Enabled: true, Admin: true, LastLogon: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
			{Name: "Guest", RID: 501, Enabled: false},
			{Name: "eng1", RID: 1001, Enabled: true, LastLogon: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		},
		groups:    map[string][]string{sidAdministrators: {`EWS01\ot-admin`}},
		listeners: []listener{{"tcp", netip.MustParseAddr("0.0.0.0"), 135}, {"tcp", netip.MustParseAddr("10.0.0.5"), 502}},
		join:      domainJoin{Name: "OT", Joined: true},
		patch:     patchRecord{Time: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC), Source: "Windows Update history"},
	}
}

// hardenedSite is the site policy that goes with hardenedWin.
func hardenedSite(t testing.TB) map[string]any {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "project.zap17"), []byte("backup"), 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"allowed_listen_ports":       []any{"tcp/135", "tcp/502"},
		"accounts":                   []any{"ot-admin", "eng1"},
		"admin_users":                []any{"ot-admin"},
		"mfa_providers":              []any{"{MFA-OTP}"},
		"log_collectors":             []any{"wec.plant.local"},
		"central_log_retention_days": 365,
		"ntp_servers":                []any{"10.0.0.1"},
		"management_cidrs":           []any{"10.0.9.0/24"},
		"patch_window_days":          90,
		"backup_paths":               []any{dir},
	}
}

// winScan runs the Windows probes against a fixture source.
func winScan(t testing.TB, src *fakeWin, site map[string]any, role string, platform bool) *Report {
	t.Helper()
	cfg := Config{Role: role, SitePolicy: site}
	if platform {
		cfg.Platform = func() PlatformState {
			return PlatformState{LastHeartbeat: time.Date(2026, 11, 22, 2, 58, 0, 0, time.UTC), MutualTLS: true, PolicyCurrent: true, SOCAcknowledged: true, UpstreamForwarded: true}
		}
	}
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.target = "windows"
	c.role = role
	c.now = func() time.Time { return time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC) }
	c.winSrc = func() (winSource, error) { return src, nil }
	rep, err := c.Scan(context.Background())
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return rep
}

func windowsFixtureReport(t *testing.T) *Report {
	return winScan(t, hardenedWin(), hardenedSite(t), RoleWorkstation, false)
}

func TestWindowsHardenedHost(t *testing.T) {
	t.Parallel()
	rep := winScan(t, hardenedWin(), hardenedSite(t), RoleWorkstation, true)
	want := map[string]State{"WIN-RMT-002": StateNotApplicable, "WIN-ENC-001": StateNotApplicable, "WIN-IND-005": StateNotApplicable}
	for _, r := range rep.Results {
		w, ok := want[r.ID]
		if !ok {
			w = StatePass
		}
		if r.State != w {
			t.Errorf("%s = %s, want %s: %q", r.ID, r.State, w, r.Evidence)
		}
	}
	if cat, _ := LoadCatalog(); len(rep.Results) != len(cat.ForOS("windows")) {
		t.Errorf("%d Windows results, want %d", len(rep.Results), len(cat.ForOS("windows")))
	}
	if rep.Score.Level != 4 {
		t.Errorf("level %d, want 4: %+v", rep.Score.Level, rep.Score.Levels)
	}
}

// TestWindowsChecks changes one fixture value per case and asserts the one
// check it decides. Every Windows catalog check has at least one case.
func TestWindowsChecks(t *testing.T) {
	t.Parallel()
	type tc struct {
		name  string
		check string
		edit  func(f *fakeWin, site map[string]any)
		role  string
		want  State
	}
	set := func(k string, v uint32) func(*fakeWin, map[string]any) {
		return func(f *fakeWin, _ map[string]any) { f.dwords[k] = v }
	}
	del := func(k string) func(*fakeWin, map[string]any) {
		return func(f *fakeWin, _ map[string]any) { delete(f.dwords, k); delete(f.strs, k) }
	}
	str := func(k, v string) func(*fakeWin, map[string]any) {
		return func(f *fakeWin, _ map[string]any) { f.strs[k] = v }
	}
	svc := func(n string, s winService) func(*fakeWin, map[string]any) {
		return func(f *fakeWin, _ map[string]any) { f.services[n] = s }
	}
	unset := func(key string) func(*fakeWin, map[string]any) {
		return func(_ *fakeWin, site map[string]any) { delete(site, key) }
	}
	failWith := func(method string) func(*fakeWin, map[string]any) {
		return func(f *fakeWin, _ map[string]any) { f.fail = map[string]error{method: ErrUnsupported} }
	}
	tests := []tc{
		{"usbstor enabled", "WIN-USB-001", set(regServices+`\USBSTOR|Start`, 3), "", StateFail},
		{"deny all instead", "WIN-USB-001", func(f *fakeWin, s map[string]any) {
			f.dwords[regServices+`\USBSTOR|Start`] = 3
			f.dwords[`HKLM\SOFTWARE\Policies\Microsoft\Windows\RemovableStorageDevices|Deny_All`] = 1
		}, "", StatePass},
		{"device control product", "WIN-USB-001", func(f *fakeWin, s map[string]any) {
			f.dwords[regServices+`\USBSTOR|Start`] = 3
			f.services["DCAgent"] = winService{StartType: 2, Running: true}
			s["device_control_services"] = []any{"DCAgent"}
		}, "", StatePass},
		{"registry error", "WIN-USB-001", failWith("RegDWORD"), "", StateError},
		{"autorun 145", "WIN-USB-002", set(kExplorerPol+`|NoDriveTypeAutoRun`, 145), "", StateFail},
		{"autorun absent", "WIN-USB-002", del(kExplorerPol + `|NoAutorun`), "", StateFail},
		{"removable audit off", "WIN-USB-003", func(f *fakeWin, _ map[string]any) { f.audit["Removable Storage"] = auditSetting{true, false} }, "", StateFail},
		{"audit policy unreadable", "WIN-USB-003", failWith("AuditPolicy"), "", StateError},
		{"hotspot enabled", "WIN-USB-004", svc("icssvc", winService{StartType: 3}), "", StateFail},
		{"wifi in use", "WIN-USB-004", svc("WlanSvc", winService{StartType: 2, Running: true}), "", StateFail},
		{"wifi allowed", "WIN-USB-004", func(f *fakeWin, s map[string]any) {
			f.services["WlanSvc"] = winService{StartType: 2, Running: true}
			s["allow_wireless"] = true
		}, "", StatePass},
		{"unlisted listener", "WIN-SVC-001", func(f *fakeWin, _ map[string]any) {
			f.listeners = append(f.listeners, listener{"tcp", netip.MustParseAddr("0.0.0.0"), 5900})
		}, "", StateFail},
		{"no allowlist", "WIN-SVC-001", unset("allowed_listen_ports"), "", StateNotConfigured},
		{"listeners unreadable", "WIN-SVC-001", failWith("Listeners"), "", StateError},
		{"smb1 on", "WIN-SVC-002", set(regServices+`\LanmanServer\Parameters|SMB1`, 1), "", StateFail},
		{"mrxsmb10 auto", "WIN-SVC-002", set(regServices+`\mrxsmb10|Start`, 2), "", StateFail},
		{"telnet server", "WIN-SVC-003", svc("TlntSvr", winService{StartType: 2}), "", StateFail},
		{"ftp disabled", "WIN-SVC-003", svc("FTPSVC", winService{StartType: 4}), "", StatePass},
		{"spooler on", "WIN-SVC-004", svc("Spooler", winService{StartType: 2, Running: true}), "", StateFail},
		{"spooler allowlisted", "WIN-SVC-004", func(f *fakeWin, s map[string]any) {
			f.services["Spooler"] = winService{StartType: 2}
			s["allowed_services"] = []any{"Spooler"}
		}, "", StatePass},
		{"remote assistance", "WIN-SVC-004", set(regPolTS+`|fAllowToGetHelp`, 1), "", StateFail},
		{"anonymous SAM", "WIN-SVC-005", set(regLsa+`|RestrictAnonymousSAM`, 0), "", StateFail},
		{"guest auth", "WIN-SVC-005", set(`HKLM\SOFTWARE\Policies\Microsoft\Windows\LanmanWorkstation|AllowInsecureGuestAuth`, 1), "", StateFail},
		{"rdp on", "WIN-RMT-001", set(regPolTS+`|fDenyTSConnections`, 0), "", StateFail},
		{"rdp allowlisted", "WIN-RMT-001", func(f *fakeWin, s map[string]any) {
			f.dwords[regPolTS+`|fDenyTSConnections`] = 0
			s["allowed_services"] = []any{"TermService"}
		}, "", StatePass},
		{"rdp weak", "WIN-RMT-002", set(regPolTS+`|fDenyTSConnections`, 0), "", StateFail},
		{"rdp hardened", "WIN-RMT-002", func(f *fakeWin, _ map[string]any) {
			f.dwords[regPolTS+`|fDenyTSConnections`] = 0
			for k, v := range map[string]uint32{"UserAuthentication": 1, "MinEncryptionLevel": 3, "fPromptForPassword": 1, "SecurityLayer": 2, "MaxIdleTime": 900000} {
				f.dwords[regPolTS+`|`+k] = v
			}
		}, "", StatePass},
		{"teamviewer", "WIN-RMT-003", func(f *fakeWin, _ map[string]any) {
			f.subkeys[regUninstall] = append(f.subkeys[regUninstall], "TeamViewer")
			f.strs[regUninstall+`\TeamViewer|DisplayName`] = "TeamViewer 15"
		}, "", StateFail},
		{"sunlogin approved", "WIN-RMT-003", func(f *fakeWin, s map[string]any) {
			f.subkeys[regUninstall] = append(f.subkeys[regUninstall], "SL")
			f.strs[regUninstall+`\SL|DisplayName`] = "向日葵远程控制"
			s["approved_remote_tools"] = []any{"向日葵"}
		}, "", StatePass},
		{"short passwords", "WIN-ACC-001", func(f *fakeWin, _ map[string]any) { f.policy.MinLength = 6 }, "", StateFail},
		{"complexity unknown", "WIN-ACC-001", func(f *fakeWin, _ map[string]any) { f.policy.Complexity = -1 }, "", StateError},
		{"policy unreadable", "WIN-ACC-001", failWith("AccountPolicy"), "", StateError},
		{"never expires", "WIN-ACC-002", func(f *fakeWin, _ map[string]any) { f.policy.MaxAge = 0 }, "", StateFail},
		{"short history", "WIN-ACC-002", func(f *fakeWin, _ map[string]any) { f.policy.History = 0 }, "", StateFail},
		{"no lockout", "WIN-ACC-003", func(f *fakeWin, _ map[string]any) { f.policy.LockoutThreshold = 0 }, "", StateFail},
		{"guest enabled", "WIN-ACC-004", func(f *fakeWin, _ map[string]any) { f.users[1].Enabled = true }, "", StateFail},
		{"administrator not renamed", "WIN-ACC-004", func(f *fakeWin, _ map[string]any) { f.users[0].Name = "Administrator" }, "", StateFail},
		{"blank allowed", "WIN-ACC-005", set(regLsa+`|LimitBlankPasswordUse`, 0), "", StateFail},
		{"password not required", "WIN-ACC-005", func(f *fakeWin, _ map[string]any) { f.users[2].PasswordNotReqd = true }, "", StateFail},
		{"users unreadable", "WIN-ACC-005", failWith("LocalUsers"), "", StateError},
		{"stale account", "WIN-ACC-006", func(f *fakeWin, _ map[string]any) { f.users[2].LastLogon = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }, "", StateFail},
		{"generic engineer account", "WIN-ACC-006", func(f *fakeWin, _ map[string]any) {
			f.users = append(f.users, localUser{Name: "engineer", RID: 1002, Enabled: true})
		}, "", StateFail},
		{"no account list", "WIN-ACC-006", unset("accounts"), "", StateNotConfigured},
		{"autologon cleartext", "WIN-ACC-007", func(f *fakeWin, _ map[string]any) {
			f.strs[kWinlogon+`|AutoAdminLogon`] = "1"
			f.strs[kWinlogon+`|DefaultUserName`] = "hmi"
			f.strs[kWinlogon+`|DefaultPassword`] = "secret"
		}, "", StateFail},
		{"autologon lsa secret non-admin", "WIN-ACC-007", func(f *fakeWin, _ map[string]any) {
			f.strs[kWinlogon+`|AutoAdminLogon`] = "1"
			f.strs[kWinlogon+`|DefaultUserName`] = "hmi"
		}, "", StatePass},
		{"autologon admin", "WIN-ACC-007", func(f *fakeWin, _ map[string]any) {
			f.strs[kWinlogon+`|AutoAdminLogon`] = "1"
			f.strs[kWinlogon+`|DefaultUserName`] = "ot-admin"
		}, "", StateFail},
		{"extra admin", "WIN-PRV-001", func(f *fakeWin, _ map[string]any) {
			f.groups[sidAdministrators] = append(f.groups[sidAdministrators], `EWS01\operator`)
		}, "", StateFail},
		{"no admin list", "WIN-PRV-001", unset("admin_users"), "", StateNotConfigured},
		{"uac off", "WIN-PRV-002", set(regPolSystem+`|EnableLUA`, 0), "", StateFail},
		{"elevated msi", "WIN-PRV-002", set(`HKLM\SOFTWARE\Policies\Microsoft\Windows\Installer|AlwaysInstallElevated`, 1), "", StateFail},
		{"ntlmv1", "WIN-AUT-001", set(regLsa+`|LMCompatibilityLevel`, 3), "", StateFail},
		{"wdigest", "WIN-AUT-001", set(`HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\WDigest|UseLogonCredential`, 1), "", StateFail},
		{"workgroup", "WIN-AUT-002", func(f *fakeWin, _ map[string]any) { f.join = domainJoin{Name: "WORKGROUP"} }, "", StateFail},
		{"no mfa list", "WIN-AUT-002", unset("mfa_providers"), "", StateNotConfigured},
		{"logon not audited", "WIN-LOG-001", func(f *fakeWin, _ map[string]any) { f.audit["Logon"] = auditSetting{true, false} }, "", StateFail},
		{"legacy audit policy", "WIN-LOG-001", del(regLsa + `|SCENoApplyLegacyAuditPolicy`), "", StateFail},
		{"small security log", "WIN-LOG-002", set(`HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\Security|MaxSize`, 20480), "", StateFail},
		{"service max size bytes", "WIN-LOG-002", func(f *fakeWin, _ map[string]any) {
			delete(f.dwords, `HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\Application|MaxSize`)
			f.dwords[regServices+`\EventLog\Application|MaxSize`] = 20971520
		}, "", StateFail},
		{"no central retention", "WIN-LOG-003", unset("central_log_retention_days"), "", StateFail},
		{"auto backup logs", "WIN-LOG-003", func(f *fakeWin, s map[string]any) {
			delete(s, "central_log_retention_days")
			f.dwords[`HKLM\SOFTWARE\Policies\Microsoft\Windows\EventLog\Security|AutoBackupLogFiles`] = 1
		}, "", StatePass},
		{"no wef", "WIN-LOG-004", del(kWEF + `|1`), "", StateFail},
		{"no collector list", "WIN-LOG-004", unset("log_collectors"), "", StateNotConfigured},
		{"time.windows.com", "WIN-TIM-001", str(regServices+`\W32Time\Parameters|NtpServer`, "time.windows.com,0x9"), "", StateFail},
		{"w32time stopped", "WIN-TIM-001", svc("W32Time", winService{StartType: 3}), "", StateFail},
		{"domain hierarchy", "WIN-TIM-001", str(regServices+`\W32Time\Parameters|Type`, "NT5DS"), "", StatePass},
		{"no ntp list", "WIN-TIM-001", unset("ntp_servers"), "", StateNotConfigured},
		{"public profile off", "WIN-FW-001", set(`HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\PublicProfile|EnableFirewall`, 0), "", StateFail},
		{"mpssvc stopped", "WIN-FW-001", svc("mpssvc", winService{StartType: 4}), "", StateFail},
		{"inbound allow default", "WIN-FW-002", set(`HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\PublicProfile|DefaultInboundAction`, 0), "", StateFail},
		{"rdp from any", "WIN-FW-002", func(f *fakeWin, _ map[string]any) {
			f.values[regFwPolicy+`\FirewallRules`]["RDP-any"] = "v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|Name=Remote Desktop|"
		}, "", StateFail},
		{"no management cidrs", "WIN-FW-002", unset("management_cidrs"), "", StateNotConfigured},
		{"windows 7", "WIN-PAT-001", func(f *fakeWin, _ map[string]any) {
			f.strs[regCurVer+`|CurrentBuild`] = "7601"
			f.strs[regCurVer+`|ProductName`] = "Windows 7 Professional"
		}, "", StateFail},
		{"win10 22h2 ended", "WIN-PAT-001", func(f *fakeWin, _ map[string]any) {
			f.strs[regCurVer+`|CurrentBuild`] = "19045"
			f.strs[regCurVer+`|EditionID`] = "Enterprise"
		}, "", StateFail},
		{"server 2019", "WIN-PAT-001", func(f *fakeWin, _ map[string]any) {
			f.strs[regCurVer+`|CurrentBuild`] = "17763"
			f.strs[regCurVer+`|ProductName`] = "Windows Server 2019 Standard"
			f.strs[regCurVer+`|InstallationType`] = "Server"
		}, "", StatePass},
		{"old patches", "WIN-PAT-002", func(f *fakeWin, _ map[string]any) { f.patch.Time = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC) }, "", StateFail},
		{"no window", "WIN-PAT-002", unset("patch_window_days"), "", StateNotConfigured},
		{"update history unreadable", "WIN-PAT-002", failWith("LastPatch"), "", StateError},
		{"no update ever installed", "WIN-PAT-002", func(f *fakeWin, _ map[string]any) { f.patch.Time = time.Time{} }, "", StateFail},
		{"defender stopped", "WIN-MAL-001", svc("WinDefend", winService{StartType: 4}), "", StateFail},
		{"realtime off", "WIN-MAL-001", set(`HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\Real-Time Protection|DisableRealtimeMonitoring`, 1), "", StateFail},
		{"third-party av", "WIN-MAL-001", func(f *fakeWin, s map[string]any) {
			f.services["WinDefend"] = winService{StartType: 4}
			f.services["QHActiveDefense"] = winService{StartType: 2, Running: true}
			s["av_products"] = []any{"QHActiveDefense"}
		}, "", StatePass},
		{"old signatures", "WIN-MAL-002", func(f *fakeWin, _ map[string]any) {
			f.qwords[`HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates|SignaturesLastUpdated`] = uint64(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC).UnixNano()/100) + 116444736000000000
		}, "", StateFail},
		{"offline 30 days", "WIN-MAL-002", func(f *fakeWin, s map[string]any) {
			f.qwords[`HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates|SignaturesLastUpdated`] = uint64(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixNano()/100) + 116444736000000000
			s["av_signature_max_days"] = 30
		}, "", StatePass},
		{"applocker audit only", "WIN-MAL-003", set(`HKLM\SOFTWARE\Policies\Microsoft\Windows\SrpV2\Exe|EnforcementMode`, 0), "", StateFail},
		{"wdac enforced", "WIN-MAL-003", func(f *fakeWin, _ map[string]any) {
			delete(f.dwords, `HKLM\SOFTWARE\Policies\Microsoft\Windows\SrpV2\Exe|EnforcementMode`)
			f.ci = ciEnforced
		}, "", StatePass},
		{"no inactivity lock", "WIN-LCK-001", del(regPolSystem + `|InactivityTimeoutSecs`), "", StateFail},
		{"hmi exception", "WIN-LCK-001", func(f *fakeWin, s map[string]any) {
			delete(f.dwords, regPolSystem+`|InactivityTimeoutSecs`)
			s["hmi_display_exception"] = true
		}, RoleOperator, StateNotApplicable},
		{"unquoted path", "WIN-FIL-001", str(regServices+`\svcA|ImagePath`, `C:\Program Files\Vendor\OPC Server\opcsrv.exe -s`), "", StateFail},
		{"portable without bitlocker", "WIN-ENC-001", nil, RolePortable, StateFail},
		{"portable with bitlocker", "WIN-ENC-001", func(f *fakeWin, _ map[string]any) { f.bitlocker = map[string]int{"C:": blOn} }, RolePortable, StatePass},
		{"no backup paths", "WIN-BAK-001", unset("backup_paths"), "", StateNotConfigured},
		{"backup too old", "WIN-BAK-001", func(_ *fakeWin, s map[string]any) {
			s["backup_max_age_days"] = 1
			s["backup_paths"] = []any{t.TempDir()}
		}, "", StateFail},
		{"inventory unreadable", "WIN-IND-001", func(f *fakeWin, _ map[string]any) { delete(f.subkeys, regUninstall) }, "", StatePass},
		{"dcom enabled", "WIN-IND-002", str(`HKLM\SOFTWARE\Microsoft\Ole|EnableDCOM`, "Y"), "", StateFail},
		{"dcom hardening off", "WIN-IND-002", set(`HKLM\SOFTWARE\Microsoft\Ole\AppCompat|RequireIntegrityActivationAuthenticationLevel`, 0), "", StateFail},
		{"dcom role", "WIN-IND-002", func(f *fakeWin, s map[string]any) {
			f.strs[`HKLM\SOFTWARE\Microsoft\Ole|EnableDCOM`] = "Y"
			s["dcom_role"] = true
		}, "", StatePass},
		{"s7 on all interfaces", "WIN-IND-003", func(f *fakeWin, _ map[string]any) {
			f.listeners = append(f.listeners, listener{"tcp", netip.MustParseAddr("0.0.0.0"), 102})
		}, "", StateFail},
		{"modbus any but firewall-limited", "WIN-IND-003", func(f *fakeWin, _ map[string]any) {
			f.listeners[1].Addr = netip.MustParseAddr("0.0.0.0")
		}, "", StatePass},
		{"ip routing", "WIN-IND-004", set(regServices+`\Tcpip\Parameters|IPEnableRouter`, 1), "", StateFail},
		{"ics running", "WIN-IND-004", svc("SharedAccess", winService{StartType: 2, Running: true}), "", StateFail},
		{"declared router", "WIN-IND-004", func(f *fakeWin, s map[string]any) {
			f.dwords[regServices+`\Tcpip\Parameters|IPEnableRouter`] = 1
			s["router_role"] = true
		}, "", StatePass},
		{"opc ua without prober", "WIN-IND-005", func(f *fakeWin, _ map[string]any) {
			f.listeners = append(f.listeners, listener{"tcp", netip.MustParseAddr("0.0.0.0"), 4840})
		}, "", StateError},
		{"no platform", "WIN-PLT-001", nil, "", StateNotConfigured},
		{"no platform upstream", "WIN-PLT-002", nil, "", StateNotConfigured},
		// issue 10 (more cases in TestWindowsHardeningProbes)
		{"credential guard off", "WIN-AUT-003", set(regDeviceGuardPol+`|LsaCfgFlags`, 0), "", StateFail},
		{"lsass not protected", "WIN-AUT-004", del(regLsa + `|RunAsPPL`), "", StateFail},
		{"smb signing optional", "WIN-SVC-006", set(regServices+`\LanmanServer\Parameters|RequireSecuritySignature`, 0), "", StateFail},
		{"llmnr on", "WIN-SVC-007", set(`HKLM\SOFTWARE\Policies\Microsoft\Windows NT\DNSClient|EnableMulticast`, 1), "", StateFail},
		{"script block logging off", "WIN-LOG-005", del(regPowerShellPol + `\ScriptBlockLogging|EnableScriptBlockLogging`), "", StateFail},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.check] = true
		t.Run(tc.check+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			f := hardenedWin()
			site := hardenedSite(t)
			if tc.edit != nil {
				tc.edit(f, site)
			}
			role := tc.role
			if role == "" {
				role = RoleWorkstation
			}
			rep := winScan(t, f, site, role, false)
			for _, r := range rep.Results {
				if r.ID == tc.check && r.State != tc.want {
					t.Errorf("%s = %s, want %s: %q", r.ID, r.State, tc.want, r.Evidence)
				}
			}
		})
	}
	var missing []string
	for id := range windowsProbes() {
		if !covered[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("Windows checks without a table case: %v", missing)
	}
}

func TestOPCUAEndpoints(t *testing.T) {
	t.Parallel()
	ls := []listener{{"tcp", netip.MustParseAddr("0.0.0.0"), 4840}}
	secure := func(string) ([]OPCUAEndpoint, error) {
		return []OPCUAEndpoint{{URL: "opc.tcp://127.0.0.1:4840", SecurityPolicy: "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256", SecurityMode: "SignAndEncrypt", TokenTypes: []string{"UserName"}}}, nil
	}
	none := func(string) ([]OPCUAEndpoint, error) {
		return []OPCUAEndpoint{{URL: "opc.tcp://127.0.0.1:4840", SecurityPolicy: "http://opcfoundation.org/UA/SecurityPolicy#None", SecurityMode: "None", TokenTypes: []string{"Anonymous"}}}, nil
	}
	broken := func(string) ([]OPCUAEndpoint, error) { return nil, fmt.Errorf("connection refused") }
	tests := []struct {
		name   string
		ls     []listener
		prober func(string) ([]OPCUAEndpoint, error)
		want   State
	}{
		{"no listener", nil, secure, StateNotApplicable},
		{"no prober", ls, nil, StateError},
		{"secure", ls, secure, StatePass},
		{"none policy", ls, none, StateFail},
		{"probe error", ls, broken, StateError},
	}
	for _, tc := range tests {
		if got := opcuaEndpoints(tc.ls, tc.prober); got.state != tc.want {
			t.Errorf("%s: %s, want %s (%q)", tc.name, got.state, tc.want, got.evidence)
		}
	}
}

func TestFiletime(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	ft := uint64(want.UnixNano()/100) + 116444736000000000
	if got := filetime(ft); !got.Equal(want) {
		t.Errorf("filetime = %v, want %v", got, want)
	}
	if !filetime(1).IsZero() {
		t.Error("filetime before 1970 should be zero")
	}
}
