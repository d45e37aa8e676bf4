package host

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"unsafe"

	gonet "github.com/shirou/gopsutil/v3/net"
	"github.com/yusufpapurcu/wmi"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/mgr"
)

// socketTable lists the inet sockets with their owning process. gopsutil's
// ConnectionsWithoutUids is a stub on Windows; Connections reads
// GetExtendedTcpTable / GetExtendedUdpTable with the owning PIDs.
func socketTable(ctx context.Context) ([]gonet.ConnectionStat, error) {
	return gonet.ConnectionsWithContext(ctx, "inet")
}

// uninstallKey is the machine-wide list of installed programs.
const uninstallKey = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`

// osParts are the Windows-specific sections: registry and service manager.
func (c *Collector) osParts() []part {
	return []part{
		{"hostname", c.readHostname},
		{"users", readUsersWindows},
		{"software", c.readSoftware},
		{"services", c.readServices},
		{"hotfixes", readHotfixes},
	}
}

// readUsersWindows lists logged-on users from the terminal-services
// sessions of this machine (console and remote desktop).
func readUsersWindows(_ context.Context, inv *Inventory) error {
	var (
		infos *windows.WTS_SESSION_INFO
		count uint32
	)
	if err := windows.WTSEnumerateSessions(0, 0, 1, &infos, &count); err != nil {
		return fmt.Errorf("enumerate sessions: %w", err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(infos)))
	if count == 0 {
		// Windows always has session 0 (services); an empty list means the
		// session manager did not answer, not that nobody is logged on.
		return errors.New("enumerate sessions: no session listed, not even session 0: logged-on users unknown")
	}
	query := windows.NewLazySystemDLL("wtsapi32.dll").NewProc("WTSQuerySessionInformationW")
	if err := query.Find(); err != nil {
		return fmt.Errorf("find WTSQuerySessionInformationW: %w", err)
	}
	info := func(session, class uint32) string {
		var (
			buf *uint16
			n   uint32
		)
		r, _, _ := query.Call(0, uintptr(session), uintptr(class), uintptr(unsafe.Pointer(&buf)), uintptr(unsafe.Pointer(&n)))
		if r == 0 || buf == nil {
			return ""
		}
		defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))
		return windows.UTF16PtrToString(buf)
	}
	// WTS_INFO_CLASS values.
	const wtsUserName, wtsDomainName, wtsClientName = 5, 7, 10
	var ss []wtsSession
	for _, si := range unsafe.Slice(infos, int(count)) {
		ss = append(ss, wtsSession{
			Station: windows.UTF16PtrToString(si.WindowStationName),
			State:   si.State,
			User:    info(si.SessionID, wtsUserName),
			Domain:  info(si.SessionID, wtsDomainName),
			Client:  info(si.SessionID, wtsClientName),
		})
	}
	inv.Users = capList(inv, "users", usersFromSessions(ss), MaxUsers)
	return nil
}

// readSoftware reads the Uninstall keys of the 64-bit and the 32-bit
// (WOW6432Node) registry views, then those of every user whose hive is
// loaded (per-user installations). Profiles whose hive is not loaded (the
// user is logged off) or not readable by the agent are listed in
// Unavailable as software.per_user.
func (c *Collector) readSoftware(ctx context.Context, inv *Inventory) error {
	var (
		all    []Software
		opened bool
		first  error
	)
	seen := make(map[Software]bool)
	add := func(sw Software) {
		if !seen[sw] {
			seen[sw] = true
			all = append(all, sw)
		}
	}
	for _, v := range []struct {
		access uint32
		arch   string
	}{{registry.WOW64_64KEY, "x64"}, {registry.WOW64_32KEY, "x86"}} {
		err := readUninstall(ctx, registry.LOCAL_MACHINE, uninstallKey, v.access, v.arch, "", add)
		if err == nil {
			opened = true
		} else if first == nil {
			first = err
		}
	}
	if !opened {
		return fmt.Errorf("open uninstall key: %w", first)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := readUserSoftware(ctx, inv, add); err != nil {
		inv.unavailable("software.per_user", err.Error())
	}
	sortSoftware(all)
	inv.Software = capList(inv, "software", all, MaxSoftware)
	return nil
}

// readUninstall hands every program of one Uninstall key to add. It fails
// only when the key cannot be opened.
func readUninstall(ctx context.Context, root registry.Key, path string, access uint32, arch, user string, add func(Software)) error {
	k, err := registry.OpenKey(root, path, registry.ENUMERATE_SUB_KEYS|registry.QUERY_VALUE|access)
	if err != nil {
		return err
	}
	defer k.Close()
	names, err := k.ReadSubKeyNames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sk, err := registry.OpenKey(k, n, registry.QUERY_VALUE|access)
		if err != nil {
			continue
		}
		sw, ok := softwareFromUninstallKey(sk, arch)
		sk.Close()
		if ok {
			sw.User = user
			add(sw)
		}
	}
	return nil
}

// readUserSoftware reads the Uninstall key of each loaded user hive. The
// error lists the profiles it could not read.
func readUserSoftware(ctx context.Context, inv *Inventory, add func(Software)) error {
	profiles, err := subKeyNames(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList`)
	if err != nil {
		return fmt.Errorf("list user profiles: %w", err)
	}
	loaded, err := subKeyNames(registry.USERS, "")
	if err != nil {
		return fmt.Errorf("list loaded user hives: %w", err)
	}
	readable, unloaded := userHives(profiles, loaded)
	var denied []string
	for _, sid := range readable {
		err := readUninstall(ctx, registry.USERS, sid+`\`+uninstallKey, 0, "", accountName(sid), add)
		switch {
		case err == nil, errors.Is(err, registry.ErrNotExist):
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			denied = append(denied, accountName(sid)+" ("+err.Error()+")")
		}
	}
	var why []string
	if len(unloaded) > 0 {
		names := make([]string, len(unloaded))
		for i, sid := range unloaded {
			names[i] = accountName(sid)
		}
		why = append(why, fmt.Sprintf("%d profiles not loaded (logged off; a hive is read only while loaded): %s", len(unloaded), strings.Join(names, ", ")))
	}
	if len(denied) > 0 {
		why = append(why, fmt.Sprintf("%d loaded profiles not readable by the agent: %s", len(denied), strings.Join(denied, ", ")))
	}
	if len(why) > 0 {
		return errors.New(strings.Join(why, "; "))
	}
	return nil
}

// subKeyNames lists the subkeys of root\path.
func subKeyNames(root registry.Key, path string) ([]string, error) {
	k, err := registry.OpenKey(root, path, registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	return k.ReadSubKeyNames(-1)
}

// accountName is DOMAIN\user for a SID string, else the SID itself.
func accountName(sid string) string {
	s, err := windows.StringToSid(sid)
	if err != nil {
		return sid
	}
	user, domain, _, err := s.LookupAccount("")
	if err != nil {
		return sid
	}
	if domain != "" {
		return domain + `\` + user
	}
	return user
}

// win32QuickFixEngineering is the part of the WMI class that is read.
type win32QuickFixEngineering struct {
	HotFixID    string
	Description string
	InstalledOn string
	InstalledBy string
}

// readHotfixes lists the installed updates from WMI, as Get-HotFix does.
func readHotfixes(_ context.Context, inv *Inventory) error {
	var qfe []win32QuickFixEngineering
	if err := wmi.Query("SELECT HotFixID, Description, InstalledOn, InstalledBy FROM Win32_QuickFixEngineering", &qfe, ".", `root\CIMV2`); err != nil {
		return fmt.Errorf("query Win32_QuickFixEngineering: %w", err)
	}
	out := make([]Hotfix, 0, len(qfe))
	undated := 0
	for _, q := range qfe {
		id := strings.TrimSpace(q.HotFixID)
		if id == "" || strings.EqualFold(id, "File 1") { // placeholder rows of old systems
			continue
		}
		h := Hotfix{ID: id, Description: strings.TrimSpace(q.Description), InstalledBy: strings.TrimSpace(q.InstalledBy)}
		if d, ok := qfeDate(q.InstalledOn); ok {
			h.InstalledOn = d
		} else {
			undated++
		}
		out = append(out, h)
	}
	if undated > 0 {
		inv.unavailable("hotfixes.installed_on", fmt.Sprintf("install date not recorded for %d of %d updates", undated, len(out)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	inv.Hotfixes = capList(inv, "hotfixes", out, MaxHotfixes)
	return nil
}

// readServices lists Win32 services through the service control manager,
// asking only for the rights an unprivileged user has (connect, enumerate,
// query config) rather than mgr.Connect's full access.
func (c *Collector) readServices(ctx context.Context, inv *Inventory) error {
	h, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT|windows.SC_MANAGER_ENUMERATE_SERVICE)
	if err != nil {
		return fmt.Errorf("open service manager: %w", err)
	}
	m := &mgr.Mgr{Handle: h}
	defer m.Disconnect()

	var (
		buf              []byte
		needed, returned uint32
	)
	for {
		var p *byte
		if len(buf) > 0 {
			p = &buf[0]
		}
		err = windows.EnumServicesStatusEx(h, windows.SC_ENUM_PROCESS_INFO, windows.SERVICE_WIN32,
			windows.SERVICE_STATE_ALL, p, uint32(len(buf)), &needed, &returned, nil, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ERROR_MORE_DATA) || needed <= uint32(len(buf)) {
			return fmt.Errorf("enumerate services: %w", err)
		}
		buf = make([]byte, needed)
	}
	if returned == 0 {
		return nil
	}
	ents := unsafe.Slice((*windows.ENUM_SERVICE_STATUS_PROCESS)(unsafe.Pointer(&buf[0])), int(returned))
	svcs := make([]Service, 0, len(ents))
	noConfig := 0
	for _, e := range ents {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s := Service{
			Name:        windows.UTF16PtrToString(e.ServiceName),
			Description: windows.UTF16PtrToString(e.DisplayName),
			State:       winServiceState(e.ServiceStatusProcess.CurrentState),
			PID:         int(e.ServiceStatusProcess.ProcessId),
		}
		if sh, err := windows.OpenService(h, e.ServiceName, windows.SERVICE_QUERY_CONFIG); err == nil {
			svc := &mgr.Service{Name: s.Name, Handle: sh}
			if cfg, err := svc.Config(); err == nil {
				s.StartMode = winStartMode(cfg.StartType, cfg.DelayedAutoStart)
			} else {
				noConfig++
			}
			svc.Close()
		} else {
			noConfig++
		}
		svcs = append(svcs, s)
	}
	if noConfig > 0 {
		inv.unavailable("services.start_mode", fmt.Sprintf("configuration not readable for %d of %d services", noConfig, len(svcs)))
	}
	sortServices(svcs)
	inv.Services = capList(inv, "services", svcs, MaxServices)
	return nil
}
