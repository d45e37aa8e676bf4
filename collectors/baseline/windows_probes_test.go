package baseline

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// winCheck scans an edited hardened fixture and returns one check's result.
func winCheck(t *testing.T, id string, edit func(f *fakeWin, site map[string]any)) Result {
	t.Helper()
	f, site := hardenedWin(), hardenedSite(t)
	if edit != nil {
		edit(f, site)
	}
	for _, r := range winScan(t, f, site, RoleWorkstation, false).Results {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result for %s", id)
	return Result{}
}

// TestWinOSSupported covers the end-of-support table: IoT Enterprise LTSC
// outlives Enterprise LTSC, Home/Pro ends before Enterprise, a build older
// than every supported release is FAIL, an unknown newer one is ERROR.
func TestWinOSSupported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, product, build, edition, inst string
		now                                 string
		want                                State
		evidence                            string
	}{
		{"win10 iot ltsc 2021 in 2027", "Windows 10 IoT Enterprise LTSC 2021", "19044", "IoTEnterpriseS", "Client", "2027-06-01", StatePass, "2032-01-13"},
		{"win10 ltsc 2021 in 2027", "Windows 10 Enterprise LTSC 2021", "19044", "EnterpriseS", "Client", "2027-06-01", StateFail, "2027-01-12"},
		{"win11 iot ltsc 2024 in 2030", "Windows 10 IoT Enterprise LTSC", "26100", "IoTEnterpriseS", "Client", "2030-01-01", StatePass, "2034-10-10"},
		{"win11 ltsc 2024 in 2030", "Windows 10 Enterprise LTSC", "26100", "EnterpriseS", "Client", "2030-01-01", StateFail, "2029-10-09"},
		{"ltsc 2019", "Windows 10 Enterprise LTSC 2019", "17763", "EnterpriseS", "Client", "2026-11-22", StatePass, "2029-01-09"},
		{"ltsb 2016 ended", "Windows 10 Enterprise 2016 LTSB", "14393", "EnterpriseS", "Client", "2026-11-22", StateFail, "2026-10-13"},
		{"ltsb 2015 ended", "Windows 10 Enterprise 2015 LTSB", "10240", "EnterpriseS", "Client", "2026-11-22", StateFail, "2025-10-14"},
		{"win11 24h2 pro ended", "Windows 10 Pro", "26100", "Professional", "Client", "2026-11-22", StateFail, "2026-10-13"},
		{"win11 24h2 enterprise", "Windows 10 Enterprise", "26100", "Enterprise", "Client", "2026-11-22", StatePass, "2027-10-12"},
		{"win11 23h2 education", "Windows 10 Education", "22631", "Education", "Client", "2026-11-01", StatePass, "2026-11-10"},
		{"win11 25h2 home", "Windows 10 Home", "26200", "Core", "Client", "2026-11-22", StatePass, "2027-10-12"},
		{"win10 22h2 pro", "Windows 10 Pro", "19045", "Professional", "Client", "2026-11-22", StateFail, "2025-10-14"},
		{"win10 1903 without edition (Wine)", "Microsoft Windows 10", "18362", "", "", "2026-11-22", StateFail, "2020-12-08"},
		{"windows 8.1", "Windows 8.1 Pro", "9600", "Professional", "Client", "2026-11-22", StateFail, "older than every supported release"},
		{"windows 7", "Windows 7 Professional", "7601", "Professional", "Client", "2026-11-22", StateFail, "older than every supported release"},
		{"server 2012 r2", "Windows Server 2012 R2 Standard", "9600", "ServerStandard", "Server", "2026-11-22", StateFail, "older than every supported release"},
		{"server 2022 core", "Windows Server 2022 Datacenter", "20348", "ServerDatacenter", "Server Core", "2026-11-22", StatePass, "2031-10-14"},
		{"server 2025", "Windows Server 2025 Standard", "26100", "ServerStandard", "Server", "2026-11-22", StatePass, "2034-10-10"},
		{"server 2016", "Windows Server 2016 Standard", "14393", "ServerStandard", "Server", "2026-11-22", StatePass, "2027-01-12"},
		{"future build", "Windows 11 Pro", "28000", "Professional", "Client", "2026-11-22", StateError, "newer than"},
		{"preview build", "Windows 11 Pro", "22635", "Professional", "Client", "2026-11-22", StateError, "not a release"},
		{"not a number", "Windows 11 Pro", "x", "Professional", "Client", "2026-11-22", StateError, "not a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := hardenedWin()
			f.strs[regCurVer+"|ProductName"], f.strs[regCurVer+"|CurrentBuild"] = tc.product, tc.build
			f.strs[regCurVer+"|EditionID"], f.strs[regCurVer+"|InstallationType"] = tc.edition, tc.inst
			now, _ := time.Parse(time.DateOnly, tc.now)
			o := winOSSupported(&winEnv{src: f, now: now})
			if o.state != tc.want || !strings.Contains(strings.Join(o.evidence, "; "), tc.evidence) {
				t.Errorf("%s, %q; want %s mentioning %q", o.state, o.evidence, tc.want, tc.evidence)
			}
		})
	}
}

// TestWinTimeSyncTrigger: a stopped W32Time with start triggers (the
// default outside a domain) is not a failure; one without, or whose
// triggers cannot be read, is.
func TestWinTimeSyncTrigger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		svc  winService
		want State
	}{
		{"running", winService{StartType: 2, Running: true}, StatePass},
		{"trigger start, stopped", winService{StartType: 3, Triggers: 2}, StatePass},
		{"manual, no trigger", winService{StartType: 3}, StateFail},
		{"disabled with triggers", winService{StartType: 4, Triggers: 2}, StateFail},
		{"triggers unreadable", winService{StartType: 3, Triggers: -1}, StateError},
	} {
		r := winCheck(t, "WIN-TIM-001", func(f *fakeWin, _ map[string]any) { f.services["W32Time"] = tc.svc })
		if r.State != tc.want {
			t.Errorf("%s: %s, want %s: %q", tc.name, r.State, tc.want, r.Evidence)
		}
	}
}

// TestWinFirewallRules covers port ranges, lists, keywords and address
// forms in FirewallRules values.
func TestWinFirewallRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, rule string
		want       State
	}{
		{"range over rdp, any source", "v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort2_10=3380-3400|Name=range|", StateFail},
		{"list with smb, any source", "v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=135,445|Name=list|", StateFail},
		{"repeated lport, any source", "v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=80|LPort=5985|Name=repeat|", StateFail},
		{"winrm range from management subnet", "v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=5985-5986|RA4=10.0.9.0/255.255.255.0|Name=winrm|", StatePass},
		{"address range inside", "v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|RA4=10.0.9.10-10.0.9.20|Name=jump hosts|", StatePass},
		{"address range leaving the subnet", "v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|RA4=10.0.9.10-10.0.10.20|Name=wide|", StateFail},
		{"prefix wider than management", "v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|RA4=10.0.0.0/16|Name=wide|", StateFail},
		{"local subnet keyword", "v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|RA42=LocalSubnet|Name=lan|", StateFail},
		{"any program any port", "v2.31|Action=Allow|Active=TRUE|Dir=In|Name=everything|", StateFail},
		{"program-scoped without ports", `v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|App=C:\Vendor\hmi.exe|Name=hmi|`, StatePass},
		{"udp rule on a tcp port", "v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=17|LPort=3389|Name=rdp udp|", StatePass},
		{"inactive", "v2.31|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=3389|Name=off|", StatePass},
		{"block rule", "v2.31|Action=Block|Active=TRUE|Dir=In|Protocol=6|LPort=3389|Name=block|", StatePass},
		{"rpc keyword only", "v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=RPC|Name=rpc dynamic|", StatePass},
	} {
		r := winCheck(t, "WIN-FW-002", func(f *fakeWin, _ map[string]any) { f.values[regFwPolicy+`\FirewallRules`]["x"] = tc.rule })
		if r.State != tc.want {
			t.Errorf("%s: %s, want %s: %q", tc.name, r.State, tc.want, r.Evidence)
		}
	}
}

func TestAddrsWithin(t *testing.T) {
	t.Parallel()
	within := []netip.Prefix{netip.MustParsePrefix("10.0.9.0/24"), netip.MustParsePrefix("fd00:9::/64")}
	for in, want := range map[string]bool{
		"10.0.9.7": true, "10.0.9.0/24": true, "10.0.9.128/255.255.255.128": true, "10.0.9.1-10.0.9.9": true,
		"fd00:9::5": true, "fd00:9::/64": true, "10.0.8.1": false, "10.0.9.0/23": false, "10.0.9.0/255.255.0.0": false,
		"10.0.9.1-10.0.10.1": false, "LocalSubnet": false, "10.0.9.0/255.0.255.0": false, "10.0.9.1,10.0.9.2": false,
	} {
		if got := addrsWithin([]string{in}, within); got != want {
			t.Errorf("addrsWithin(%q) = %t, want %t", in, got, want)
		}
	}
}

// TestWinAccountPolicyProperties: complexity and reversible encryption
// from the SAM password properties, and a clear ERROR when unreadable.
func TestWinAccountPolicyProperties(t *testing.T) {
	t.Parallel()
	for props, want := range map[uint32][2]int{0: {0, 0}, 0x1: {1, 0}, 0x10: {0, 1}, 0x11: {1, 1}, 0x3f: {1, 1}} {
		if c, r := passwordProperties(props); c != want[0] || r != want[1] {
			t.Errorf("passwordProperties(%#x) = %d, %d; want %v", props, c, r, want)
		}
	}
	r := winCheck(t, "WIN-ACC-001", func(f *fakeWin, _ map[string]any) {
		f.policy.Complexity, f.policy.ReversibleStorage, f.policy.PropertiesErr = -1, -1, "SamConnect: access denied"
	})
	if r.State != StateError || !strings.Contains(strings.Join(r.Evidence, ";"), "SamConnect: access denied") {
		t.Errorf("unreadable properties: %s %q, want ERROR with the reason", r.State, r.Evidence)
	}
	if r := winCheck(t, "WIN-ACC-001", func(f *fakeWin, _ map[string]any) { f.policy.ReversibleStorage = 1 }); r.State != StateFail {
		t.Errorf("reversible encryption on: %s %q, want FAIL", r.State, r.Evidence)
	}
}

// TestWinAPISources covers the checks that read system APIs instead of
// the registry: domain join, WDAC, BitLocker, the update history.
func TestWinAPISources(t *testing.T) {
	t.Parallel()
	boom := errors.New("RPC server unavailable")
	for _, tc := range []struct {
		name, id string
		edit     func(f *fakeWin, site map[string]any)
		role     string
		want     State
	}{
		{"join unreadable", "WIN-AUT-002", func(f *fakeWin, _ map[string]any) { f.fail = map[string]error{"DomainJoin": boom} }, "", StateError},
		{"dns suffix without join", "WIN-AUT-002", func(f *fakeWin, _ map[string]any) { f.join = domainJoin{Name: "WORKGROUP"} }, "", StateFail},
		{"wdac audit only", "WIN-MAL-003", func(f *fakeWin, _ map[string]any) {
			f.ci = ciAudit
			f.dwords[`HKLM\SOFTWARE\Policies\Microsoft\Windows\SrpV2\Exe|EnforcementMode`] = 0
		}, "", StateFail},
		{"wdac unreadable, applocker off", "WIN-MAL-003", func(f *fakeWin, _ map[string]any) {
			f.fail = map[string]error{"CodeIntegrity": boom}
			f.dwords[`HKLM\SOFTWARE\Policies\Microsoft\Windows\SrpV2\Exe|EnforcementMode`] = 0
		}, "", StateError},
		{"wdac unreadable, applocker on", "WIN-MAL-003", func(f *fakeWin, _ map[string]any) { f.fail = map[string]error{"CodeIntegrity": boom} }, "", StatePass},
		{"bitlocker unreadable", "WIN-ENC-001", func(f *fakeWin, _ map[string]any) { f.fail = map[string]error{"BitLocker": boom} }, RolePortable, StateError},
		{"bitlocker unknown", "WIN-ENC-001", func(f *fakeWin, _ map[string]any) { f.bitlocker = map[string]int{"C:": blUnknown} }, RolePortable, StateError},
		{"bitlocker suspended", "WIN-ENC-001", func(f *fakeWin, _ map[string]any) { f.bitlocker = map[string]int{"C:": blOff} }, RolePortable, StateFail},
		{"recent update", "WIN-PAT-002", nil, "", StatePass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, site := hardenedWin(), hardenedSite(t)
			if tc.edit != nil {
				tc.edit(f, site)
			}
			role := tc.role
			if role == "" {
				role = RoleWorkstation
			}
			for _, r := range winScan(t, f, site, role, false).Results {
				if r.ID == tc.id && r.State != tc.want {
					t.Errorf("%s = %s, want %s: %q", r.ID, r.State, tc.want, r.Evidence)
				}
			}
		})
	}
}

func TestNewestInstall(t *testing.T) {
	t.Parallel()
	d := func(day int) time.Time { return time.Date(2026, 11, day, 3, 0, 0, 0, time.UTC) }
	got := newestInstall([]wuaEntry{
		{Operation: 1, Result: 2, Date: d(3)},
		{Operation: 1, Result: 4, Date: d(20)}, // failed
		{Operation: 2, Result: 2, Date: d(21)}, // uninstallation
		{Operation: 1, Result: 3, Date: d(10)}, // succeeded with errors
		{Operation: 1, Result: 5, Date: d(22)}, // aborted
	})
	if !got.Equal(d(10)) {
		t.Errorf("newestInstall = %v, want %v", got, d(10))
	}
	if !newestInstall(nil).IsZero() {
		t.Error("no history should give a zero time")
	}
	for in, want := range map[string]string{"11/20/2026": "2026-11-20", "22/2/2022": "2022-02-22", "01d1e27a3c6f8000": "2016-07-20", "": ""} {
		got, ok := qfeTime(in)
		if (ok && got.Format(time.DateOnly) != want) || ok != (want != "") {
			t.Errorf("qfeTime(%q) = %v, %t; want %q", in, got, ok, want)
		}
	}
}

// panicWin is a source whose listener table panics, as a malformed API
// answer could make it.
type panicWin struct{ *fakeWin }

func (panicWin) Listeners() ([]listener, error) { panic("index out of range [7] with length 3") }

// TestWinProbePanic: a probe that panics reports ERROR for its checks, and
// every other check still runs.
func TestWinProbePanic(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Role: RoleWorkstation, SitePolicy: hardenedSite(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.target = "windows"
	c.now = func() time.Time { return time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC) }
	c.winSrc = func() (winSource, error) { return panicWin{hardenedWin()}, nil }
	rep, err := c.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		switch r.ID {
		case "WIN-SVC-001", "WIN-IND-003", "WIN-IND-005":
			if r.State != StateError || !strings.Contains(strings.Join(r.Evidence, ";"), "probe failed: index out of range") {
				t.Errorf("%s = %s %q, want ERROR naming the panic", r.ID, r.State, r.Evidence)
			}
		case "WIN-USB-001":
			if r.State != StatePass {
				t.Errorf("%s = %s after another probe panicked", r.ID, r.State)
			}
		}
	}
}
