package baseline

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// winBuildEOL is the end of support of a Windows build for an edition class.
type winBuildEOL struct {
	Build  int
	Server bool
	LTSC   bool
	End    string
	Name   string
}

// winEOLTable lists end-of-support dates by build (Microsoft lifecycle pages
// as of 2026; Enterprise/Education servicing for client builds, mainstream +
// extended for Server and LTSC). Builds below 10240 are past support.
func winEOLTable() []winBuildEOL {
	return []winBuildEOL{
		{10240, false, true, "2025-10-14", "Windows 10 LTSB 2015"},
		{14393, false, true, "2026-10-13", "Windows 10 LTSB 2016"},
		{17763, false, true, "2029-01-09", "Windows 10 LTSC 2019"},
		{19044, false, true, "2027-01-12", "Windows 10 LTSC 2021"},
		{19044, false, false, "2024-06-11", "Windows 10 21H2"},
		{19045, false, false, "2025-10-14", "Windows 10 22H2"},
		{22000, false, false, "2024-10-08", "Windows 11 21H2"},
		{22621, false, false, "2025-10-14", "Windows 11 22H2"},
		{22631, false, false, "2026-11-10", "Windows 11 23H2"},
		{26100, false, false, "2027-10-12", "Windows 11 24H2"},
		{26100, false, true, "2029-10-09", "Windows 11 LTSC 2024"},
		{26200, false, false, "2028-10-10", "Windows 11 25H2"},
		{14393, true, false, "2027-01-12", "Windows Server 2016"},
		{17763, true, false, "2029-01-09", "Windows Server 2019"},
		{20348, true, false, "2031-10-14", "Windows Server 2022"},
		{26100, true, false, "2034-10-10", "Windows Server 2025"},
	}
}

// winOSSupported is WIN-PAT-001.
func winOSSupported(w *winEnv) outcome {
	name, _, err := w.str(regCurVer, "ProductName")
	if err != nil {
		return errOut(err.Error())
	}
	build, _, _ := w.str(regCurVer, "CurrentBuild")
	edition, _, _ := w.str(regCurVer, "EditionID")
	inst, _, _ := w.str(regCurVer, "InstallationType")
	b, err := strconv.Atoi(build)
	ev := fmt.Sprintf("%s build %s edition %s", name, build, edition)
	if err != nil {
		return errOut(ev, "CurrentBuild not a number")
	}
	if b < 10240 {
		return fail(ev, "Windows before 10 / Server 2016 is past end of support (ESU evidence via an exemption)")
	}
	server := strings.EqualFold(inst, "Server") || strings.Contains(name, "Server")
	ltsc := strings.Contains(edition, "EnterpriseS") || strings.Contains(edition, "IoTEnterpriseS")
	for _, e := range winEOLTable() {
		if e.Build == b && e.Server == server && (server || e.LTSC == ltsc) {
			end, _ := time.Parse(time.DateOnly, e.End)
			if w.now.After(end.Add(24 * time.Hour)) {
				return fail(ev, e.Name+" end of support "+e.End)
			}
			return pass(ev, e.Name+" supported until "+e.End)
		}
	}
	return errOut(ev, "build not in the agent's end-of-support table")
}

// winPatches is WIN-PAT-002: a controlled update source (WSUS) or none, and a
// successful update install within patch_window_days.
func winPatches(w *winEnv) outcome {
	wsus, _, err := w.str(`HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate`, "WUServer")
	if err != nil {
		return errOut(err.Error())
	}
	ev := []string{"update source: " + map[bool]string{true: "WSUS " + wsus, false: "no WSUS (Internet or offline media)"}[wsus != ""]}
	last, ok := w.lastPatch()
	if !ok {
		return errOut(append(ev, "last update install time not recorded (WindowsUpdate\\Auto Update\\Results\\Install)")...)
	}
	age := days(w.now.Sub(last))
	ev = append(ev, fmt.Sprintf("last update installed %d days ago", age))
	if w.site.PatchWindowDays == 0 {
		return notConfigured("patch_window_days", ev...)
	}
	if age > w.site.PatchWindowDays {
		return fail(append(ev, "older than patch_window_days "+itoa(w.site.PatchWindowDays))...)
	}
	return pass(ev...)
}

// winAntiMalware is WIN-MAL-001.
func winAntiMalware(w *winEnv) outcome {
	var v verdict
	for _, p := range w.site.AVProducts {
		if s, ok := w.service(&v, p); ok && s.Running {
			return pass("listed product service " + p + " running")
		}
	}
	s, ok := w.service(&v, "WinDefend")
	v.check(ok && s.Running, "Microsoft Defender (WinDefend) running: %t", s.Running)
	w.wantDWORD(&v, `HKLM\SOFTWARE\Policies\Microsoft\Windows Defender`, "DisableAntiSpyware", 0, true)
	w.wantDWORD(&v, `HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\Real-Time Protection`, "DisableRealtimeMonitoring", 0, true)
	return v.outcome()
}

// filetime converts a Windows FILETIME (100 ns since 1601) to time.
func filetime(ft uint64) time.Time {
	const epochDiff = 116444736000000000
	if ft < epochDiff {
		return time.Time{}
	}
	return time.Unix(0, int64(ft-epochDiff)*100).UTC()
}

// winSignatures is WIN-MAL-002.
func winSignatures(w *winEnv) outcome {
	ft, err := w.src.RegQWORD(`HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates`, "SignaturesLastUpdated")
	if err != nil {
		if absent(err) {
			return fail("Defender signature update time not recorded (no Defender signatures)")
		}
		return errOut("read SignaturesLastUpdated: " + err.Error())
	}
	t := filetime(ft)
	age := days(w.now.Sub(t))
	ev := fmt.Sprintf("signatures updated %s (%d days ago)", t.Format(time.DateOnly), age)
	if age > w.site.AVSignatureMaxDays {
		return fail(ev, "limit av_signature_max_days "+itoa(w.site.AVSignatureMaxDays))
	}
	return pass(ev)
}

// winAllowlisting is WIN-MAL-003: AppLocker Exe and Script collections
// enforced with AppIDSvc running, or WDAC enforced.
func winAllowlisting(w *winEnv) outcome {
	var v verdict
	if x, ok, err := w.dword(`HKLM\SYSTEM\CurrentControlSet\Control\DeviceGuard`, "CodeIntegrityPolicyEnforcementStatus"); err == nil && ok && x == 2 {
		return pass("WDAC code integrity policy enforced")
	}
	for _, c := range []string{"Exe", "Script"} {
		x, ok, err := w.dword(`HKLM\SOFTWARE\Policies\Microsoft\Windows\SrpV2\`+c, "EnforcementMode")
		if err != nil {
			v.errs = append(v.errs, err.Error())
			continue
		}
		v.check(ok && x == 1, "AppLocker %s EnforcementMode = %s", c, map[bool]string{true: itoa(int(x)), false: "not configured"}[ok])
	}
	s, ok := w.service(&v, "AppIDSvc")
	v.check(ok && s.Running, "Application Identity (AppIDSvc) running: %t", s.Running)
	return v.outcome()
}

// winInactivityLock is WIN-LCK-001.
func winInactivityLock(w *winEnv) outcome {
	if w.role == RoleOperator && w.site.HMIDisplayException {
		return na("operator station with declared display exception (hmi_display_exception)")
	}
	x, ok, err := w.dword(regPolSystem, "InactivityTimeoutSecs")
	if err != nil {
		return errOut(err.Error())
	}
	if ok && x >= 1 && x <= 900 {
		return pass(fmt.Sprintf("InactivityTimeoutSecs = %d", x))
	}
	return fail(fmt.Sprintf("InactivityTimeoutSecs = %s (want 1..900)", map[bool]string{true: itoa(int(x)), false: "not set"}[ok]))
}

// winServicePaths is WIN-FIL-001 (service part): no service ImagePath with
// spaces left unquoted. Directory ACLs are not evaluated by this build.
func winServicePaths(w *winEnv) outcome {
	svcs, err := w.src.RegSubKeys(regServices)
	if err != nil {
		return errOut("read services: " + err.Error())
	}
	var v verdict
	for _, s := range svcs {
		p, ok, _ := w.str(regServices+`\`+s, "ImagePath")
		if !ok || strings.HasPrefix(p, `"`) {
			continue
		}
		exe := p
		if i := strings.Index(strings.ToLower(p), ".exe"); i >= 0 {
			exe = p[:i+4]
		}
		if strings.Contains(exe, " ") {
			v.no("service %s ImagePath unquoted with spaces: %s", s, p)
		}
	}
	v.ok("%d services checked for unquoted paths; ICS directory ACLs not evaluated by this build", len(svcs))
	return v.outcome()
}

// winBitLocker is WIN-ENC-001: the OS volume of a portable engineering
// station is BitLocker-protected; fixed stations are NOT_APPLICABLE.
func winBitLocker(w *winEnv) outcome {
	if w.role != RolePortable {
		return na("role " + w.role + ": BitLocker required only on portable engineering stations")
	}
	x, ok, err := w.dword(`HKLM\SYSTEM\CurrentControlSet\Control\BitLockerStatus`, "BootStatus")
	if err != nil {
		return errOut(err.Error())
	}
	if ok && x == 1 {
		return pass("BitLocker protects the OS volume (BitLockerStatus\\BootStatus = 1)")
	}
	return fail("OS volume not BitLocker-protected")
}

// winICSListeners is WIN-IND-003.
func winICSListeners(w *winEnv) outcome {
	ls, err := w.src.Listeners()
	if err != nil {
		return errOut("list listeners: " + err.Error())
	}
	ports := icsPorts(w.site)
	if w.site.DCOMRole {
		ports[135] = true
	}
	rules, _ := w.ruleValues()
	var v verdict
	for _, l := range ls {
		if !ports[l.Port] {
			continue
		}
		if !l.wildcard() {
			v.ok("%s bound to a specific address", l)
			continue
		}
		limited := false
		for _, s := range rules {
			r := parseFwRule(s)
			if r.Active && r.Action == "Allow" && r.Dir == "In" && contains(r.LPorts, strconv.Itoa(l.Port)) && len(r.RemoteAddrs) > 0 {
				limited = true
			}
		}
		v.check(limited, "%s on all interfaces, firewall source limit: %t", l, limited)
	}
	if len(v.good)+len(v.bad) == 0 {
		v.ok("no industrial-protocol listener")
	}
	return v.outcome()
}

// winNoRouting is WIN-IND-004.
func winNoRouting(w *winEnv) outcome {
	var v verdict
	if w.site.RouterRole {
		return pass("declared router role (router_role)")
	}
	w.wantDWORD(&v, regServices+`\Tcpip\Parameters`, "IPEnableRouter", 0, true)
	if s, ok := w.service(&v, "SharedAccess"); ok {
		v.check(!s.Running, "Internet Connection Sharing (SharedAccess) running: %t", s.Running)
	}
	return v.outcome()
}

// winDCOM is WIN-IND-002.
func winDCOM(w *winEnv) outcome {
	var v verdict
	x, ok, err := w.dword(`HKLM\SOFTWARE\Microsoft\Ole\AppCompat`, "RequireIntegrityActivationAuthenticationLevel")
	if err != nil {
		v.errs = append(v.errs, err.Error())
	} else {
		v.check(!ok || x != 0, "RequireIntegrityActivationAuthenticationLevel = %s", map[bool]string{true: itoa(int(x)), false: "absent (enforced on patched OS)"}[ok])
	}
	en, _, err := w.str(`HKLM\SOFTWARE\Microsoft\Ole`, "EnableDCOM")
	if err != nil {
		v.errs = append(v.errs, err.Error())
	} else if !w.site.DCOMRole {
		v.check(strings.EqualFold(en, "N"), "EnableDCOM = %s on a host without a DCOM / OPC Classic role", orNone(en))
	} else {
		v.ok("EnableDCOM = %s (declared DCOM / OPC Classic role)", orNone(en))
	}
	return v.outcome()
}

// icsSoftwareWindows are engineering / SCADA products looked for by
// WIN-IND-001.
func icsSoftwareWindows() []string {
	return []string{"SIMATIC", "STEP 7", "TIA Portal", "WinCC", "Studio 5000", "RSLogix", "FactoryTalk", "RSLinx", "EcoStruxure", "Unity Pro",
		"InTouch", "Wonderware", "AVEVA", "iFIX", "HOLLiAS", "SUPCON", "KingView", "组态王", "ForceControl", "力控", "MCGS", "KEPServerEX", "Matrikon", "CODESYS"}
}

// winICSInventory is WIN-IND-001.
func winICSInventory(w *winEnv) outcome {
	sw, err := w.installedSoftware()
	if err != nil {
		return errOut(err.Error())
	}
	var found []string
	for _, n := range sw {
		for _, p := range append(icsSoftwareWindows(), w.site.ICSSoftware...) {
			if strings.Contains(strings.ToLower(n), strings.ToLower(p)) {
				found = append(found, n)
				break
			}
		}
	}
	ev := []string{fmt.Sprintf("installed programs: %d", len(sw)), "ICS software: " + joinList(found)}
	if len(found) > 0 && w.role != RoleWorkstation && w.role != RolePortable {
		ev = append(ev, "engineering software on a "+w.role+" host: review")
	}
	return pass(ev...)
}

// winOPCUA is WIN-IND-005.
func winOPCUA(w *winEnv) outcome {
	ls, err := w.src.Listeners()
	if err != nil {
		return errOut("list listeners: " + err.Error())
	}
	return opcuaEndpoints(ls, w.cfg.OPCUA)
}

// winBackup is WIN-BAK-001: newest file under backup_paths.
func winBackup(w *winEnv) outcome {
	if len(w.site.BackupPaths) == 0 {
		return notConfigured("backup_paths")
	}
	e := &env{root: fsRoot{dir: ""}, site: w.site, now: w.now, memo: map[string]any{}, memErr: map[string]error{}}
	return backupRecent(e)
}
