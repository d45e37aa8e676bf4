package baseline

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// winRelease is the end of support of one Windows release, from
// Microsoft's lifecycle pages. Releases are told apart by build and kind:
// "client" (the semi-annual and annual releases), "ltsc" (Enterprise
// LTSB/LTSC), "iot-ltsc" (IoT Enterprise LTSC, whose support is longer for
// 2021 and 2024) and "server". A client release ends on End for Enterprise,
// Education and IoT Enterprise, and on Home for Home and Pro.
type winRelease struct {
	Build int
	Kind  string
	Name  string
	End   string
	Home  string // client Home/Pro end; "" = End
}

// winReleases lists the releases since Windows 10 and Server 2016 (as of
// 2026-12). An LTSC build not listed for IoT uses the LTSC row.
func winReleases() []winRelease {
	return []winRelease{
		{10240, "client", "Windows 10 1507", "2017-05-09", ""},
		{10586, "client", "Windows 10 1511", "2018-04-10", "2017-10-10"},
		{14393, "client", "Windows 10 1607", "2019-04-09", "2018-04-10"},
		{15063, "client", "Windows 10 1703", "2019-10-08", "2018-10-09"},
		{16299, "client", "Windows 10 1709", "2020-10-13", "2019-04-09"},
		{17134, "client", "Windows 10 1803", "2021-05-11", "2019-11-12"},
		{17763, "client", "Windows 10 1809", "2021-05-11", "2020-11-10"},
		{18362, "client", "Windows 10 1903", "2020-12-08", ""},
		{18363, "client", "Windows 10 1909", "2022-05-10", "2021-05-11"},
		{19041, "client", "Windows 10 2004", "2021-12-14", ""},
		{19042, "client", "Windows 10 20H2", "2023-05-09", "2022-05-10"},
		{19043, "client", "Windows 10 21H1", "2022-12-13", ""},
		{19044, "client", "Windows 10 21H2", "2024-06-11", "2023-06-13"},
		{19045, "client", "Windows 10 22H2", "2025-10-14", ""},
		{22000, "client", "Windows 11 21H2", "2024-10-08", "2023-10-10"},
		{22621, "client", "Windows 11 22H2", "2025-10-14", "2024-10-08"},
		{22631, "client", "Windows 11 23H2", "2026-11-10", "2025-11-11"},
		{26100, "client", "Windows 11 24H2", "2027-10-12", "2026-10-13"},
		{26200, "client", "Windows 11 25H2", "2028-10-10", "2027-10-12"},
		{10240, "ltsc", "Windows 10 Enterprise LTSB 2015", "2025-10-14", ""},
		{14393, "ltsc", "Windows 10 Enterprise LTSB 2016", "2026-10-13", ""},
		{17763, "ltsc", "Windows 10 Enterprise LTSC 2019", "2029-01-09", ""},
		{19044, "ltsc", "Windows 10 Enterprise LTSC 2021", "2027-01-12", ""},
		{19044, "iot-ltsc", "Windows 10 IoT Enterprise LTSC 2021", "2032-01-13", ""},
		{26100, "ltsc", "Windows 11 Enterprise LTSC 2024", "2029-10-09", ""},
		{26100, "iot-ltsc", "Windows 11 IoT Enterprise LTSC 2024", "2034-10-10", ""},
		{14393, "server", "Windows Server 2016", "2027-01-12", ""},
		{17763, "server", "Windows Server 2019", "2029-01-09", ""},
		{18362, "server", "Windows Server 1903", "2020-12-08", ""},
		{18363, "server", "Windows Server 1909", "2021-05-11", ""},
		{19041, "server", "Windows Server 2004", "2021-12-14", ""},
		{19042, "server", "Windows Server 20H2", "2022-08-09", ""},
		{20348, "server", "Windows Server 2022", "2031-10-14", ""},
		{25398, "server", "Windows Server 23H2", "2025-10-24", ""},
		{26100, "server", "Windows Server 2025", "2034-10-10", ""},
	}
}

// winEdition classifies a host for winReleases: its kind and whether a
// client release ends on the Home/Pro date. An unknown edition gets the
// Home/Pro date, the earliest Microsoft promises for any edition.
func winEdition(productName, editionID, installationType string) (kind string, home bool) {
	ed := strings.ToLower(editionID)
	switch {
	case strings.HasPrefix(strings.ToLower(installationType), "server") || strings.Contains(productName, "Server"):
		return "server", false
	case strings.HasPrefix(ed, "iotenterprises"):
		return "iot-ltsc", false
	case strings.HasPrefix(ed, "enterprises"):
		return "ltsc", false
	case strings.HasPrefix(ed, "enterprise"), strings.HasPrefix(ed, "education"), strings.HasPrefix(ed, "iotenterprise"),
		ed == "serverrdsh": // Enterprise multi-session
		return "client", false
	}
	return "client", true
}

// winOSSupported is WIN-PAT-001: the release's end of support has not
// passed. A build missing from the table that is older than every release
// still supported is FAIL (unsupported); a newer or in-between unknown
// build is ERROR (the table needs the release).
func winOSSupported(w *winEnv) outcome {
	name, _, err := w.str(regCurVer, "ProductName")
	if err != nil {
		return errOut(err.Error())
	}
	build, _, _ := w.str(regCurVer, "CurrentBuild")
	edition, _, _ := w.str(regCurVer, "EditionID")
	inst, _, _ := w.str(regCurVer, "InstallationType")
	b, err := strconv.Atoi(build)
	ev := fmt.Sprintf("%s build %s edition %s", orNone(name), orNone(build), orNone(edition))
	if err != nil {
		return errOut(ev, "CurrentBuild not a number")
	}
	kind, home := winEdition(name, edition, inst)
	end := func(r winRelease) (time.Time, string) {
		d := r.End
		if home && r.Home != "" {
			d = r.Home
		}
		t, _ := time.Parse(time.DateOnly, d)
		return t, d
	}
	verdict := func(r winRelease) outcome {
		t, d := end(r)
		if home && r.Kind == "client" {
			d += " (Home/Pro date: edition " + orNone(edition) + ")"
		}
		if w.now.After(t.Add(24 * time.Hour)) {
			return fail(ev, r.Name+" end of support "+d, "supported only under Extended Security Updates: record ESU through an exemption")
		}
		return pass(ev, r.Name+" supported until "+d)
	}
	find := func(kind string) (winRelease, bool) {
		for _, r := range winReleases() {
			if r.Build == b && r.Kind == kind {
				return r, true
			}
		}
		return winRelease{}, false
	}
	for _, k := range []string{kind, map[string]string{"iot-ltsc": "ltsc", "ltsc": "client"}[kind]} {
		if r, ok := find(k); ok && k != "" {
			return verdict(r)
		}
	}
	// Not in the table: compare with the releases of the same family.
	family := func(k string) bool { return (k == "server") == (kind == "server") }
	oldest, newest := winRelease{}, 0
	for _, r := range winReleases() {
		if !family(r.Kind) {
			continue
		}
		newest = max(newest, r.Build)
		if t, _ := end(r); !w.now.After(t.Add(24*time.Hour)) && (oldest.Build == 0 || r.Build < oldest.Build) {
			oldest = r
		}
	}
	switch {
	case oldest.Build == 0 || b < oldest.Build:
		return fail(ev, fmt.Sprintf("build %d is older than every supported release (oldest still supported: %s, build %d): unsupported", b, oldest.Name, oldest.Build))
	case b > newest:
		return errOut(ev, fmt.Sprintf("build %d is newer than the agent's end-of-support table (newest: %d): update edgeward", b, newest))
	}
	return errOut(ev, fmt.Sprintf("build %d is not a release in the agent's end-of-support table (preview build?)", b))
}

// winPatches is WIN-PAT-002: a controlled update source (WSUS) or none, and a
// successful update installation within patch_window_days, from the
// Windows Update history (else the installed-updates list).
func winPatches(w *winEnv) outcome {
	wsus, _, err := w.str(`HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate`, "WUServer")
	if err != nil {
		return errOut(err.Error())
	}
	ev := []string{"update source: " + map[bool]string{true: "WSUS " + wsus, false: "no WSUS (Internet or offline media)"}[wsus != ""]}
	last, err := w.src.LastPatch()
	if err != nil {
		return errOut(append(ev, "last update installation not readable: "+err.Error())...)
	}
	if last.Time.IsZero() {
		return fail(append(ev, "no successful update installation recorded ("+last.Source+")")...)
	}
	age := days(w.now.Sub(last.Time))
	ev = append(ev, fmt.Sprintf("last update installed %s, %d days ago (%s)", last.Time.Format(time.DateOnly), age, last.Source))
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

// winAllowlisting is WIN-MAL-003: WDAC enforced (Win32_DeviceGuard), or
// AppLocker Exe and Script collections enforced with AppIDSvc running.
func winAllowlisting(w *winEnv) outcome {
	ci, ciErr := w.src.CodeIntegrity()
	if ciErr == nil && ci == ciEnforced {
		return pass("WDAC code integrity policy enforced (Win32_DeviceGuard)")
	}
	var v verdict
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
	o := v.outcome()
	switch {
	case o.state == StatePass:
		return o
	case ciErr != nil:
		// WDAC may be enforced: without its state there is no verdict.
		return errOut(append([]string{"WDAC state not readable: " + ciErr.Error()}, o.evidence...)...)
	}
	o.evidence = append(o.evidence, "WDAC code integrity: "+map[int]string{ciOff: "off", ciAudit: "audit mode only"}[ci])
	return o
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
// station is BitLocker-protected (Win32_EncryptableVolume ProtectionStatus);
// fixed stations are NOT_APPLICABLE.
func winBitLocker(w *winEnv) outcome {
	if w.role != RolePortable {
		return na("role " + w.role + ": BitLocker required only on portable engineering stations")
	}
	drive := systemDrive()
	st, err := w.src.BitLocker(drive)
	switch {
	case err != nil:
		return errOut("read BitLocker state of " + drive + ": " + err.Error())
	case st == blOn:
		return pass("BitLocker protection on for the OS volume " + drive)
	case st == blUnknown:
		return errOut("BitLocker protection of " + drive + " unknown (volume locked?)")
	}
	return fail("OS volume " + drive + " not BitLocker-protected (protection off: not or partly encrypted, or protectors suspended)")
}

// systemDrive is the OS volume, "C:" unless %SystemDrive% says otherwise.
func systemDrive() string {
	if d := os.Getenv("SystemDrive"); len(d) == 2 && d[1] == ':' {
		return strings.ToUpper(d)
	}
	return "C:"
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
		proto := map[string]string{"tcp": "6", "udp": "17"}[l.Proto]
		opening, anySource := 0, 0
		for _, s := range rules {
			if r := parseFwRule(s); r.opens(proto, l.Port) {
				opening++
				if len(r.RemoteAddrs) == 0 {
					anySource++
				}
			}
		}
		// The catalog asks for rules scoped to listed peers: an ICS
		// listener on every NIC needs one, and none may open it to all.
		v.check(opening > 0 && anySource == 0, "%s on all interfaces, %d of %d inbound allow rules limit the sources", l, opening-anySource, opening)
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
