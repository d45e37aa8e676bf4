package baseline

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows/registry"
)

// These tests run the live Windows source against the real OS: Windows, or
// Wine in the Windows lane. What Wine lacks (NetUserModalsGet levels 0/3,
// NetUserEnum level 3, AuditQuerySystemPolicy, the WMI classes) must come
// back as an error that names the API, never a panic or a silent zero.

func liveSource(t *testing.T) *winLive {
	t.Helper()
	src, err := openWinSource()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src.(*winLive)
}

// TestWinLiveRegistry writes values of every type the probes read under a
// scratch HKLM key and reads them back through the source.
func TestWinLiveRegistry(t *testing.T) {
	path := fmt.Sprintf(`SOFTWARE\edgeward-test-%d`, time.Now().UnixNano())
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, path+`\Sub`, registry.ALL_ACCESS)
	if err != nil {
		t.Skipf("writing under HKLM needs administrator rights: %v", err)
	}
	k.Close()
	t.Cleanup(func() {
		registry.DeleteKey(registry.LOCAL_MACHINE, path+`\Sub`)
		registry.DeleteKey(registry.LOCAL_MACHINE, path)
	})
	k, err = registry.OpenKey(registry.LOCAL_MACHINE, path, registry.ALL_ACCESS)
	if err != nil {
		t.Fatal(err)
	}
	ft := uint64(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano()/100) + 116444736000000000
	for _, err := range []error{
		k.SetDWordValue("Dword", 4),
		k.SetStringValue("NumericString", "255"),
		k.SetStringValue("Str", `C:\Program Files\x`),
		k.SetExpandStringValue("Expand", `%SystemRoot%\x`),
		k.SetStringsValue("Multi", []string{"a", "b"}),
		k.SetQWordValue("Qword", ft),
		k.SetBinaryValue("Filetime", []byte{byte(ft), byte(ft >> 8), byte(ft >> 16), byte(ft >> 24), byte(ft >> 32), byte(ft >> 40), byte(ft >> 48), byte(ft >> 56)}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	k.Close()

	w := liveSource(t)
	key := `HKLM\` + path
	if v, err := w.RegDWORD(key, "Dword"); err != nil || v != 4 {
		t.Errorf("RegDWORD = %d, %v", v, err)
	}
	if v, err := w.RegDWORD(key, "NumericString"); err != nil || v != 255 {
		t.Errorf("RegDWORD of a numeric REG_SZ = %d, %v", v, err)
	}
	for name, want := range map[string]string{"Str": `C:\Program Files\x`, "Expand": `%SystemRoot%\x`, "Multi": "a,b"} {
		if v, err := w.RegString(key, name); err != nil || v != want {
			t.Errorf("RegString(%s) = %q, %v; want %q", name, v, err, want)
		}
	}
	for _, name := range []string{"Qword", "Filetime"} {
		if v, err := w.RegQWORD(key, name); err != nil || v != ft {
			t.Errorf("RegQWORD(%s) = %d, %v; want %d", name, v, err, ft)
		}
	}
	if subs, err := w.RegSubKeys(key); err != nil || !slices.Equal(subs, []string{"Sub"}) {
		t.Errorf("RegSubKeys = %v, %v", subs, err)
	}
	if vals, err := w.RegValues(key); err != nil || vals["Str"] != `C:\Program Files\x` {
		t.Errorf("RegValues = %v, %v", vals, err)
	}
	for _, err := range []error{
		func() error { _, err := w.RegDWORD(key, "Absent"); return err }(),
		func() error { _, err := w.RegString(key+`\NoSuchKey`, "x"); return err }(),
		func() error { _, err := w.RegSubKeys(key + `\NoSuchKey`); return err }(),
	} {
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("absent value or key: error %v, want fs.ErrNotExist", err)
		}
	}
	if _, err := w.RegDWORD(`HKCU\Software`, "x"); err == nil {
		t.Error("a key outside HKLM was read")
	}
}

// TestWinLiveServices opens the service manager and services with the
// least rights and reads a service every Windows (and Wine) has.
func TestWinLiveServices(t *testing.T) {
	w := liveSource(t)
	if w.scm == 0 {
		t.Fatalf("service manager not opened with SC_MANAGER_CONNECT: %v", w.scmErr)
	}
	s, err := w.Service("RpcSs")
	if err != nil {
		t.Fatalf("Service(RpcSs): %v", err)
	}
	if s.StartType > 4 || s.Triggers < -1 {
		t.Errorf("RpcSs = %+v", s)
	}
	t.Logf("RpcSs: start %s, running %t, triggers %d", startName(s.StartType), s.Running, s.Triggers)
	if _, err := w.Service("edgeward-no-such-service"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent service: %v, want fs.ErrNotExist", err)
	}
}

// TestWinLiveAccounts reads the Administrators group by SID, the domain
// join state and this process's own listening socket.
func TestWinLiveAccounts(t *testing.T) {
	w := liveSource(t)
	members, err := w.GroupMembers(sidAdministrators)
	if err != nil || len(members) == 0 {
		t.Errorf("GroupMembers(%s) = %v, %v; want at least one member", sidAdministrators, members, err)
	}
	t.Logf("Administrators: %v", members)
	j, err := w.DomainJoin()
	if err != nil || j.Name == "" {
		t.Errorf("DomainJoin = %+v, %v", j, err)
	}
	t.Logf("join: %+v", j)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ls, err := w.Listeners()
	if err != nil {
		t.Fatalf("Listeners: %v", err)
	}
	if !slices.ContainsFunc(ls, func(l listener) bool { return l.Proto == "tcp" && l.Port == port && l.Addr.IsLoopback() }) {
		t.Errorf("own listener 127.0.0.1:%d not among %d listeners", port, len(ls))
	}
}

// TestWinLivePolicies calls the sources that need rights or APIs Wine lacks:
// each either answers consistently or fails with an error naming what
// failed.
func TestWinLivePolicies(t *testing.T) {
	w := liveSource(t)
	check := func(what string, err error, names ...string) {
		t.Helper()
		if err == nil {
			return
		}
		t.Logf("%s: %v", what, err)
		for _, n := range names {
			if strings.Contains(err.Error(), n) {
				return
			}
		}
		t.Errorf("%s error %q names none of %v", what, err, names)
	}

	p, err := w.AccountPolicy()
	check("account policy", err, "NetUserModalsGet")
	if err == nil && (p.Complexity < 0) != (p.PropertiesErr != "") {
		t.Errorf("account policy %+v: complexity unknown without a reason, or a reason with a value", p)
	}
	if _, err := samPasswordProperties(); err != nil {
		check("SAM password properties", err, "SAM")
	}
	audit, err := w.AuditPolicy()
	check("audit policy", err, "audit policy", "SeSecurityPrivilege")
	if err == nil && len(audit) != len(auditSubcategories()) {
		t.Errorf("audit policy has %d subcategories, want %d", len(audit), len(auditSubcategories()))
	}
	users, err := w.LocalUsers()
	check("local users", err, "NetUserEnum")
	if err == nil && !slices.ContainsFunc(users, func(u localUser) bool { return u.RID == 500 }) {
		t.Errorf("local users %v lack the built-in administrator (RID 500)", users)
	}
	last, err := w.LastPatch()
	check("last patch", err, "Windows Update history")
	if err == nil && last.Source == "" {
		t.Errorf("last patch %+v without its source", last)
	}
	ci, err := w.CodeIntegrity()
	check("code integrity", err, "Win32_DeviceGuard")
	if err == nil && (ci < ciOff || ci > ciEnforced) {
		t.Errorf("code integrity state %d", ci)
	}
	bl, err := w.BitLocker("C:")
	check("BitLocker", err, "Win32_EncryptableVolume")
	if err == nil && (bl < blOff || bl > blUnknown) {
		t.Errorf("BitLocker state %d", bl)
	}
}
