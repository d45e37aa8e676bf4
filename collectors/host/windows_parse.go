package host

import (
	"strings"
)

// registryValues is the part of a registry key (golang.org/x/sys/windows/
// registry.Key) that softwareFromUninstallKey reads, so that the mapping is
// tested on every OS.
type registryValues interface {
	GetStringValue(name string) (val string, valtype uint32, err error)
	GetIntegerValue(name string) (val uint64, valtype uint32, err error)
}

// softwareFromUninstallKey turns one subkey of
// SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall into a Software entry,
// as "Programs and Features" shows it: entries without a DisplayName,
// system components (SystemComponent=1) and updates of another product
// (ParentKeyName set) are skipped (ok false). arch is "x64" or "x86" after
// the registry view the key came from.
func softwareFromUninstallKey(k registryValues, arch string) (sw Software, ok bool) {
	str := func(name string) string {
		v, _, err := k.GetStringValue(name)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(v)
	}
	name := str("DisplayName")
	if name == "" || str("ParentKeyName") != "" {
		return Software{}, false
	}
	if v, _, err := k.GetIntegerValue("SystemComponent"); err == nil && v == 1 {
		return Software{}, false
	}
	return Software{
		Name:         name,
		Version:      str("DisplayVersion"),
		Architecture: arch,
		Vendor:       str("Publisher"),
		InstallDate:  installDate(str("InstallDate")),
		Source:       "registry",
	}, true
}

// installDate turns the registry's YYYYMMDD into YYYY-MM-DD; anything else
// is dropped.
func installDate(s string) string {
	if len(s) != 8 {
		return ""
	}
	for i := 0; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return ""
		}
	}
	return s[:4] + "-" + s[4:6] + "-" + s[6:]
}

// Windows service states (SERVICE_STATUS.dwCurrentState) and start types
// (QUERY_SERVICE_CONFIG.dwStartType), as in winsvc.h.
const (
	winServiceStopped         = 1
	winServiceStartPending    = 2
	winServiceStopPending     = 3
	winServiceRunning         = 4
	winServiceContinuePending = 5
	winServicePausePending    = 6
	winServicePaused          = 7

	winStartBoot     = 0
	winStartSystem   = 1
	winStartAuto     = 2
	winStartDemand   = 3
	winStartDisabled = 4
)

// winServiceState names a service state, "unknown" for other values.
func winServiceState(s uint32) string {
	switch s {
	case winServiceStopped:
		return "stopped"
	case winServiceStartPending:
		return "start_pending"
	case winServiceStopPending:
		return "stop_pending"
	case winServiceRunning:
		return "running"
	case winServiceContinuePending:
		return "continue_pending"
	case winServicePausePending:
		return "pause_pending"
	case winServicePaused:
		return "paused"
	}
	return "unknown"
}

// winStartMode names a start type; delayed marks an auto start that is
// delayed. "" for unknown values.
func winStartMode(t uint32, delayed bool) string {
	switch t {
	case winStartBoot:
		return "boot"
	case winStartSystem:
		return "system"
	case winStartAuto:
		if delayed {
			return "auto_delayed"
		}
		return "auto"
	case winStartDemand:
		return "manual"
	case winStartDisabled:
		return "disabled"
	}
	return ""
}

// wtsSession is what the collector reads of one Windows terminal-services
// session (WTSEnumerateSessions plus WTSQuerySessionInformation).
type wtsSession struct {
	Station string // WinStation name: "Console", "RDP-Tcp#3"
	State   uint32 // WTS_CONNECTSTATE_CLASS
	User    string
	Domain  string
	Client  string // client computer name of a remote session
}

// WTS_CONNECTSTATE_CLASS values that mean a user is logged on.
const (
	wtsActive       = 0
	wtsDisconnected = 4
)

// usersFromSessions keeps the sessions with a logged-on user (active, or
// disconnected but still logged on) as DOMAIN\user entries.
func usersFromSessions(ss []wtsSession) []User {
	var out []User
	for _, s := range ss {
		if s.User == "" || (s.State != wtsActive && s.State != wtsDisconnected) {
			continue
		}
		name := s.User
		if s.Domain != "" {
			name = s.Domain + `\` + s.User
		}
		out = append(out, User{Name: name, Terminal: s.Station, Host: s.Client})
	}
	return out
}
