package host

import (
	"strconv"
	"strings"
	"time"
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

// qfeDate turns Win32_QuickFixEngineering.InstalledOn into YYYY-MM-DD. The
// provider writes M/D/YYYY; a first number above 12 can only be a day
// (D/M/YYYY, as Wine writes it); Windows Vista-era entries hold a FILETIME
// as 16 hex digits. ok is false for anything else.
func qfeDate(s string) (date string, ok bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"1/2/2006", "2/1/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(time.DateOnly), true
		}
	}
	if len(s) == 16 {
		if ft, err := strconv.ParseUint(s, 16, 64); err == nil && ft > filetimeEpoch {
			return time.Unix(0, int64(ft-filetimeEpoch)*100).UTC().Format(time.DateOnly), true
		}
	}
	return "", false
}

// filetimeEpoch is 1970-01-01 in FILETIME units (100 ns since 1601).
const filetimeEpoch = 116444736000000000

// userHives splits the profiles of ProfileList (SIDs) into those whose
// registry hive is loaded under HKEY_USERS, and so readable, and those that
// are not (the user is logged off). Only ordinary accounts are considered:
// local and domain users (S-1-5-21-...), not the service accounts.
func userHives(profiles, loaded []string) (readable, unloaded []string) {
	have := make(map[string]bool, len(loaded))
	for _, l := range loaded {
		have[strings.ToUpper(l)] = true
	}
	for _, sid := range profiles {
		if !strings.HasPrefix(strings.ToUpper(sid), "S-1-5-21-") {
			continue
		}
		if have[strings.ToUpper(sid)] {
			readable = append(readable, sid)
		} else {
			unloaded = append(unloaded, sid)
		}
	}
	return readable, unloaded
}
