package host

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/mgr"
)

// uninstallKey is the machine-wide list of installed programs.
const uninstallKey = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`

// osParts are the Windows-specific sections: registry and service manager.
func (c *Collector) osParts() []part {
	return []part{
		{"hostname", c.readHostname},
		{"users", readUsersWindows},
		{"software", c.readSoftware},
		{"services", c.readServices},
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
// (WOW6432Node) registry views.
func (c *Collector) readSoftware(ctx context.Context, inv *Inventory) error {
	views := []struct {
		access uint32
		arch   string
	}{{registry.WOW64_64KEY, "x64"}, {registry.WOW64_32KEY, "x86"}}
	var (
		all    []Software
		opened bool
		first  error
	)
	seen := make(map[Software]bool)
	for _, v := range views {
		k, err := registry.OpenKey(registry.LOCAL_MACHINE, uninstallKey, registry.ENUMERATE_SUB_KEYS|registry.QUERY_VALUE|v.access)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		opened = true
		names, err := k.ReadSubKeyNames(-1)
		if err != nil {
			inv.unavailable("software."+v.arch, err.Error())
		}
		for _, n := range names {
			if ctx.Err() != nil {
				k.Close()
				return ctx.Err()
			}
			sk, err := registry.OpenKey(k, n, registry.QUERY_VALUE|v.access)
			if err != nil {
				continue
			}
			sw, ok := softwareFromUninstallKey(sk, v.arch)
			sk.Close()
			if ok && !seen[sw] {
				seen[sw] = true
				all = append(all, sw)
			}
		}
		k.Close()
	}
	if !opened {
		return fmt.Errorf("open uninstall key: %w", first)
	}
	sortSoftware(all)
	inv.Software = capList(inv, "software", all, MaxSoftware)
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
