package baseline

import (
	"fmt"
	"strings"
)

// winUSBStorage is WIN-USB-001: USBSTOR Start = 4, or Deny_All = 1, or a
// listed device-control product running.
func winUSBStorage(w *winEnv) outcome {
	var v verdict
	start, ok, err := w.dword(regServices+`\USBSTOR`, "Start")
	if err != nil {
		return errOut(err.Error())
	}
	if ok && start == 4 {
		return pass("USBSTOR Start = 4 (disabled)")
	}
	deny, dok, err := w.dword(`HKLM\SOFTWARE\Policies\Microsoft\Windows\RemovableStorageDevices`, "Deny_All")
	if err != nil {
		return errOut(err.Error())
	}
	if dok && deny == 1 {
		return pass("RemovableStorageDevices Deny_All = 1")
	}
	for _, s := range w.site.DeviceControlServices {
		if st, ok := w.service(&v, s); ok && st.Running {
			return pass("device-control service " + s + " running")
		}
	}
	usbstor := "USBSTOR driver key absent"
	if ok {
		usbstor = fmt.Sprintf("USBSTOR Start = %d (%s)", start, startName(start))
	}
	return fail(usbstor, "Deny_All not set", "no listed device-control service running (device_control_services: "+joinList(w.site.DeviceControlServices)+")")
}

// winAutoRun is WIN-USB-002: NoAutorun = 1, NoDriveTypeAutoRun = 255,
// NoAutoplayfornonVolume = 1.
func winAutoRun(w *winEnv) outcome {
	var v verdict
	w.wantDWORD(&v, `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\Explorer`, "NoAutorun", 1, false)
	w.wantDWORD(&v, `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\Explorer`, "NoDriveTypeAutoRun", 255, false)
	w.wantDWORD(&v, `HKLM\SOFTWARE\Policies\Microsoft\Windows\Explorer`, "NoAutoplayfornonVolume", 1, false)
	return v.outcome()
}

// winAuditOn checks one audit subcategory for success and/or failure.
func winAuditOn(v *verdict, pol map[string]auditSetting, sub string, success, failure bool) {
	s := pol[sub]
	ok := (!success || s.Success) && (!failure || s.Failure)
	v.check(ok, "audit %q success=%t failure=%t", sub, s.Success, s.Failure)
}

// winRemovableAudit is WIN-USB-003: Removable Storage audited S+F and
// removable drives scanned.
func winRemovableAudit(w *winEnv) outcome {
	var v verdict
	pol, err := w.src.AuditPolicy()
	if err != nil {
		v.errs = append(v.errs, "read audit policy: "+err.Error())
	} else {
		winAuditOn(&v, pol, "Removable Storage", true, true)
	}
	w.wantDWORD(&v, `HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\Scan`, "DisableRemovableDriveScanning", 0, false)
	return v.outcome()
}

// winWireless is WIN-USB-004: no WLAN service running unless the role allows
// it; bthserv, BTAGService and icssvc disabled or absent.
func winWireless(w *winEnv) outcome {
	var v verdict
	if s, ok := w.service(&v, "WlanSvc"); ok && s.Running && !w.site.AllowWireless {
		v.no("WLAN AutoConfig (WlanSvc) running: a Wi-Fi adapter is in use")
	}
	for _, n := range []string{"bthserv", "BTAGService", "icssvc"} {
		if s, ok := w.service(&v, n); ok {
			v.check(s.Disabled(), "service %s start %s", n, startName(s.StartType))
		}
	}
	if len(v.bad)+len(v.good) == 0 {
		v.ok("no Bluetooth or hotspot service installed")
	}
	return v.outcome()
}

// winListenersAllowlisted is WIN-SVC-001.
func winListenersAllowlisted(w *winEnv) outcome {
	ls, err := w.src.Listeners()
	if err != nil {
		return errOut("list listeners: " + err.Error())
	}
	allowed := map[string]bool{}
	for _, s := range w.site.AllowedListenPorts {
		p, n, _ := parsePortSpec(s)
		allowed[fmt.Sprintf("%s/%d", p, n)] = true
	}
	var exposed []string
	var v verdict
	for _, l := range ls {
		if l.loopback() {
			continue
		}
		exposed = append(exposed, l.String())
		v.check(allowed[fmt.Sprintf("%s/%d", l.Proto, l.Port)], "listener %s", l)
	}
	if len(w.site.AllowedListenPorts) == 0 {
		return notConfigured("allowed_listen_ports", "listeners: "+joinList(exposed))
	}
	if len(exposed) == 0 {
		v.ok("no listeners outside loopback")
	}
	return v.outcome()
}

// winSMBv1 is WIN-SVC-002: SMB1 = 0 (or the SMB1 driver absent) and
// mrxsmb10 Start = 4 or absent.
func winSMBv1(w *winEnv) outcome {
	var v verdict
	drv, drvOK, err := w.dword(regServices+`\mrxsmb10`, "Start")
	if err != nil {
		return errOut(err.Error())
	}
	v.check(!drvOK || drv == 4, "mrxsmb10 Start = %s", map[bool]string{true: startName(drv), false: "absent (feature removed)"}[drvOK])
	smb1, ok, err := w.dword(regServices+`\LanmanServer\Parameters`, "SMB1")
	switch {
	case err != nil:
		v.errs = append(v.errs, err.Error())
	case ok:
		v.check(smb1 == 0, "LanmanServer SMB1 = %d", smb1)
	default:
		srv, srvOK, _ := w.dword(regServices+`\srv`, "Start") // SMB1 server driver
		v.check(!srvOK || srv == 4, "LanmanServer SMB1 absent, SMB1 server driver srv %s", map[bool]string{true: startName(srv), false: "absent"}[srvOK])
	}
	return v.outcome()
}

// winCleartext is WIN-SVC-003: FTPSVC, simptcp, TlntSvr and tftpd not
// installed or disabled.
func winCleartext(w *winEnv) outcome {
	var v verdict
	for _, n := range []string{"FTPSVC", "simptcp", "TlntSvr", "tftpd"} {
		if s, ok := w.service(&v, n); ok {
			v.check(s.Disabled(), "service %s start %s", n, startName(s.StartType))
		}
	}
	if len(v.bad)+len(v.good) == 0 {
		v.ok("no FTP, Telnet, TFTP or Simple TCP/IP service installed")
	}
	return v.outcome()
}

// winUnneededServices is WIN-SVC-004.
func winUnneededServices(w *winEnv) outcome {
	var v verdict
	for _, n := range []string{"RemoteRegistry", "SSDPSRV", "upnphost", "Spooler", "SNMP", "W3SVC", "WinRM", "RemoteAccess"} {
		if containsFold(w.site.AllowedServices, n) {
			continue
		}
		if s, ok := w.service(&v, n); ok && !s.Disabled() {
			v.no("service %s start %s", n, startName(s.StartType))
		}
	}
	x, where, ok := w.dwordPolicy(&v, "fAllowToGetHelp", regPolTS, `HKLM\SYSTEM\CurrentControlSet\Control\Remote Assistance`)
	if ok {
		v.check(x == 0, "%s = %d", shortKey(where), x)
	} else if len(v.errs) == 0 {
		v.no("fAllowToGetHelp not set (Remote Assistance allowed by default)")
	}
	return v.outcome()
}

// winSharesAnonymous is WIN-SVC-005.
func winSharesAnonymous(w *winEnv) outcome {
	var v verdict
	p := regServices + `\LanmanServer\Parameters`
	if !containsFold(w.site.AllowedServices, "AdminShares") {
		w.wantDWORD(&v, p, "AutoShareWks", 0, false)
		if _, ok, _ := w.dword(p, "AutoShareServer"); ok {
			w.wantDWORD(&v, p, "AutoShareServer", 0, false)
		}
	}
	w.wantDWORD(&v, regLsa, "RestrictAnonymousSAM", 1, false)
	w.wantDWORD(&v, regLsa, "RestrictAnonymous", 1, false)
	w.wantDWORD(&v, `HKLM\SOFTWARE\Policies\Microsoft\Windows\LanmanWorkstation`, "AllowInsecureGuestAuth", 0, true)
	return v.outcome()
}

// winRDPEnabled reports whether Remote Desktop accepts connections.
func (w *winEnv) rdpEnabled(v *verdict) bool {
	x, _, ok := w.dwordPolicy(v, "fDenyTSConnections", regPolTS, regTS)
	deny := ok && x == 1
	if s, ok := w.service(v, "TermService"); ok && s.Disabled() {
		deny = true
	}
	return !deny
}

// winRDPOff is WIN-RMT-001: RDP disabled unless allowlisted.
func winRDPOff(w *winEnv) outcome {
	var v verdict
	on := w.rdpEnabled(&v)
	if len(v.errs) > 0 {
		return v.outcome()
	}
	if !on {
		return pass("Remote Desktop disabled (fDenyTSConnections = 1 or TermService disabled)")
	}
	if containsFold(w.site.AllowedServices, "TermService") {
		return pass("Remote Desktop enabled and allowlisted for the role (allowed_services: TermService)")
	}
	return fail("Remote Desktop enabled (fDenyTSConnections ≠ 1) and not in allowed_services")
}

// winRDPHardened is WIN-RMT-002.
func winRDPHardened(w *winEnv) outcome {
	var v verdict
	if !w.rdpEnabled(&v) {
		return na("Remote Desktop disabled")
	}
	rdpTcp := regTS + `\WinStations\RDP-Tcp`
	check := func(name string, ok func(uint32) bool, want string) {
		x, where, found := w.dwordPolicy(&v, name, regPolTS, rdpTcp)
		if !found {
			v.no("%s not set (want %s)", name, want)
			return
		}
		v.check(ok(x), "%s = %d (want %s)", shortKey(where), x, want)
	}
	check("UserAuthentication", func(x uint32) bool { return x == 1 }, "1, NLA")
	check("MinEncryptionLevel", func(x uint32) bool { return x >= 3 }, "3")
	check("fPromptForPassword", func(x uint32) bool { return x == 1 }, "1")
	check("SecurityLayer", func(x uint32) bool { return x == 2 }, "2, TLS")
	check("MaxIdleTime", func(x uint32) bool { return x > 0 && x <= 15*60*1000 }, "≤ 900000 ms")
	return v.outcome()
}

// remoteToolsWindows are remote-control products matched in Uninstall names
// and service names.
func remoteToolsWindows() []string {
	return []string{"TeamViewer", "AnyDesk", "Sunlogin", "向日葵", "ToDesk", "RustDesk", "RealVNC", "TightVNC", "UltraVNC", "Radmin", "frpc", "ngrok"}
}

// winRemoteTools is WIN-RMT-003.
func winRemoteTools(w *winEnv) outcome {
	sw, err := w.installedSoftware()
	if err != nil {
		return errOut(err.Error())
	}
	var v verdict
	for _, name := range sw {
		for _, t := range remoteToolsWindows() {
			if strings.Contains(strings.ToLower(name), strings.ToLower(t)) && !containsFold(w.site.ApprovedRemoteTools, t) {
				v.no("installed: %s", name)
			}
		}
	}
	for _, s := range []string{"TeamViewer", "AnyDesk", "SunloginService", "ToDesk_Service", "RustDesk", "vncserver", "tvnserver", "uvnc_service", "RServer3"} {
		if st, ok := w.service(&v, s); ok && st.Running && !containsFold(w.site.ApprovedRemoteTools, s) {
			v.no("service %s running", s)
		}
	}
	if len(v.bad) == 0 {
		v.ok("no unapproved remote-control tool (approved: %s)", joinList(w.site.ApprovedRemoteTools))
	}
	return v.outcome()
}
