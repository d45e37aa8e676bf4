package baseline

import "strings"

// The Windows counterparts of issue 10's Linux checks: credential
// protection, SMB signing, name-resolution protocols and PowerShell logging.
// They read the registry through winSource only.

const (
	regDeviceGuardPol = `HKLM\SOFTWARE\Policies\Microsoft\Windows\DeviceGuard`
	regNetBT          = `HKLM\SYSTEM\CurrentControlSet\Services\NetBT\Parameters`
	regPowerShellPol  = `HKLM\SOFTWARE\Policies\Microsoft\Windows\PowerShell`
)

// winCredentialGuard is WIN-AUT-003: Credential Guard configured (policy or
// local LsaCfgFlags 1 or 2) with virtualisation-based security enabled.
func winCredentialGuard(w *winEnv) outcome {
	var v verdict
	flags, where, ok := w.dwordPolicy(&v, "LsaCfgFlags", regDeviceGuardPol, regLsa)
	if len(v.errs) > 0 {
		return v.outcome()
	}
	switch {
	case !ok:
		v.no("LsaCfgFlags not set (%s, %s): Credential Guard off", shortKey(regDeviceGuardPol), shortKey(regLsa))
	case flags != 1 && flags != 2:
		v.no("%s = %d: Credential Guard off (want 1 with UEFI lock or 2)", where, flags)
	default:
		v.ok("%s = %d", where, flags)
	}
	vbs, vwhere, vok := w.dwordPolicy(&v, "EnableVirtualizationBasedSecurity", regDeviceGuardPol, `HKLM\SYSTEM\CurrentControlSet\Control\DeviceGuard`)
	v.check(vok && vbs == 1, "EnableVirtualizationBasedSecurity = %d (%s)", vbs, orNone(vwhere))
	return v.outcome()
}

// winLSASSProtection is WIN-AUT-004: LSASS runs as a protected process
// (RunAsPPL 1, or 2 without the UEFI lock).
func winLSASSProtection(w *winEnv) outcome {
	var v verdict
	x, ok, err := w.dword(regLsa, "RunAsPPL")
	switch {
	case err != nil:
		v.errs = append(v.errs, err.Error())
	case !ok:
		v.no("%s\\RunAsPPL absent: LSASS is not a protected process", shortKey(regLsa))
	default:
		v.check(x == 1 || x == 2, "%s\\RunAsPPL = %d (want 1 or 2)", shortKey(regLsa), x)
	}
	return v.outcome()
}

// winSMBSigning is WIN-SVC-006: the SMB server and client require signing.
func winSMBSigning(w *winEnv) outcome {
	var v verdict
	w.wantDWORD(&v, regServices+`\LanmanServer\Parameters`, "RequireSecuritySignature", 1, false)
	w.wantDWORD(&v, regServices+`\LanmanWorkstation\Parameters`, "RequireSecuritySignature", 1, false)
	return v.outcome()
}

// winNameResolution is WIN-SVC-007: LLMNR off by policy and NetBIOS over
// TCP/IP off on every interface (or P-node resolution only).
func winNameResolution(w *winEnv) outcome {
	var v verdict
	w.wantDWORD(&v, `HKLM\SOFTWARE\Policies\Microsoft\Windows NT\DNSClient`, "EnableMulticast", 0, false)
	if nt, ok, err := w.dword(regNetBT, "NodeType"); err != nil {
		v.errs = append(v.errs, err.Error())
	} else if ok && nt == 2 {
		v.ok("%s\\NodeType = 2 (P-node: no NetBIOS broadcasts)", shortKey(regNetBT))
		return v.outcome()
	}
	ifs, err := w.src.RegSubKeys(regNetBT + `\Interfaces`)
	if err != nil && !absent(err) {
		v.errs = append(v.errs, "read "+regNetBT+`\Interfaces: `+err.Error())
		return v.outcome()
	}
	n := 0
	for _, i := range ifs {
		if !strings.HasPrefix(strings.ToLower(i), "tcpip_") {
			continue
		}
		n++
		x, ok, err := w.dword(regNetBT+`\Interfaces\`+i, "NetbiosOptions")
		switch {
		case err != nil:
			v.errs = append(v.errs, err.Error())
		case !ok || x != 2:
			v.no("NetBIOS over TCP/IP on interface %s: NetbiosOptions = %d (want 2; 0 means DHCP decides)", i, x)
		default:
			v.ok("NetBIOS over TCP/IP disabled on %s", i)
		}
	}
	if n == 0 && len(v.errs) == 0 {
		v.ok("no NetBT interfaces")
	}
	return v.outcome()
}

// winPowerShellLogging is WIN-LOG-005: script block logging and module
// logging for all modules.
func winPowerShellLogging(w *winEnv) outcome {
	var v verdict
	w.wantDWORD(&v, regPowerShellPol+`\ScriptBlockLogging`, "EnableScriptBlockLogging", 1, false)
	w.wantDWORD(&v, regPowerShellPol+`\ModuleLogging`, "EnableModuleLogging", 1, false)
	names, err := w.src.RegValues(regPowerShellPol + `\ModuleLogging\ModuleNames`)
	switch {
	case err != nil && !absent(err):
		v.errs = append(v.errs, err.Error())
	default:
		all := false
		for k, val := range names {
			if k == "*" || val == "*" {
				all = true
			}
		}
		v.check(all, "ModuleLogging\\ModuleNames covers * (%d entries)", len(names))
	}
	return v.outcome()
}
