package baseline

import (
	"errors"
	"testing"
)

// TestWindowsHardeningProbes: each new Windows probe passes on the
// hardened fixture host and fails (or errors) after one change.
func TestWindowsHardeningProbes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		probe winProbe
		edit  func(f *fakeWin)
		want  State
	}{
		{"Credential Guard on", winCredentialGuard, nil, StatePass},
		{"Credential Guard off by policy", winCredentialGuard, func(f *fakeWin) { f.dwords[regDeviceGuardPol+`|LsaCfgFlags`] = 0 }, StateFail},
		{"Credential Guard local setting only", winCredentialGuard, func(f *fakeWin) {
			delete(f.dwords, regDeviceGuardPol+`|LsaCfgFlags`)
			f.dwords[regLsa+`|LsaCfgFlags`] = 2
		}, StatePass},
		{"Credential Guard without VBS", winCredentialGuard, func(f *fakeWin) { delete(f.dwords, regDeviceGuardPol+`|EnableVirtualizationBasedSecurity`) }, StateFail},
		{"registry unreadable", winCredentialGuard, func(f *fakeWin) { f.fail = map[string]error{"RegDWORD": errors.New("access denied")} }, StateError},
		{"RunAsPPL 1", winLSASSProtection, nil, StatePass},
		{"RunAsPPL absent", winLSASSProtection, func(f *fakeWin) { delete(f.dwords, regLsa+`|RunAsPPL`) }, StateFail},
		{"RunAsPPL 0", winLSASSProtection, func(f *fakeWin) { f.dwords[regLsa+`|RunAsPPL`] = 0 }, StateFail},
		{"SMB signing required", winSMBSigning, nil, StatePass},
		{"SMB client signing not required", winSMBSigning, func(f *fakeWin) {
			f.dwords[regServices+`\LanmanWorkstation\Parameters|RequireSecuritySignature`] = 0
		}, StateFail},
		{"SMB server signing absent", winSMBSigning, func(f *fakeWin) {
			delete(f.dwords, regServices+`\LanmanServer\Parameters|RequireSecuritySignature`)
		}, StateFail},
		{"LLMNR and NetBIOS off", winNameResolution, nil, StatePass},
		{"LLMNR on", winNameResolution, func(f *fakeWin) {
			delete(f.dwords, `HKLM\SOFTWARE\Policies\Microsoft\Windows NT\DNSClient|EnableMulticast`)
		}, StateFail},
		{"NetBIOS decided by DHCP on one interface", winNameResolution, func(f *fakeWin) {
			f.subkeys[regNetBT+`\Interfaces`] = []string{"Tcpip_{1}", "Tcpip_{2}"}
		}, StateFail},
		{"P-node covers every interface", winNameResolution, func(f *fakeWin) {
			f.subkeys[regNetBT+`\Interfaces`] = []string{"Tcpip_{1}", "Tcpip_{2}"}
			f.dwords[regNetBT+`|NodeType`] = 2
		}, StatePass},
		{"PowerShell logging on", winPowerShellLogging, nil, StatePass},
		{"script block logging off", winPowerShellLogging, func(f *fakeWin) {
			f.dwords[regPowerShellPol+`\ScriptBlockLogging|EnableScriptBlockLogging`] = 0
		}, StateFail},
		{"module logging for some modules only", winPowerShellLogging, func(f *fakeWin) {
			f.values[regPowerShellPol+`\ModuleLogging\ModuleNames`] = map[string]string{"Microsoft.PowerShell.Utility": "Microsoft.PowerShell.Utility"}
		}, StateFail},
	}
	for _, tc := range tests {
		f := hardenedWin()
		if tc.edit != nil {
			tc.edit(f)
		}
		site, _ := DecodeSitePolicy(nil)
		o := tc.probe(&winEnv{src: f, site: site})
		if o.state != tc.want {
			t.Errorf("%s: %s %q, want %s", tc.name, o.state, o.evidence, tc.want)
		}
		if len(o.evidence) == 0 {
			t.Errorf("%s: no evidence", tc.name)
		}
	}
}
