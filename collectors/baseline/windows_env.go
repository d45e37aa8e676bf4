package baseline

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Registry paths used by several Windows probes.
const (
	regLsa       = `HKLM\SYSTEM\CurrentControlSet\Control\Lsa`
	regServices  = `HKLM\SYSTEM\CurrentControlSet\Services`
	regPolSystem = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System`
	regPolTS     = `HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services`
	regTS        = `HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server`
	regFwPolicy  = `HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy`
	regCurVer    = `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`
	regUninstall = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`
	regUninst32  = `HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall`
)

// absent reports whether err says the key, value or service does not exist.
func absent(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// dword reads a DWORD: ok is false when it is absent; err is any other error.
func (w *winEnv) dword(key, name string) (v uint32, ok bool, err error) {
	v, err = w.src.RegDWORD(key, name)
	if err != nil {
		if absent(err) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("read %s\\%s: %w", key, name, err)
	}
	return v, true, nil
}

// str reads a string value; "" with ok false when absent.
func (w *winEnv) str(key, name string) (s string, ok bool, err error) {
	s, err = w.src.RegString(key, name)
	if err != nil {
		if absent(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("read %s\\%s: %w", key, name, err)
	}
	return s, true, nil
}

// dwordPolicy reads the first present of several (key, name) pairs: the
// policy key first, then the local setting.
func (w *winEnv) dwordPolicy(v *verdict, name string, keys ...string) (uint32, string, bool) {
	for _, k := range keys {
		x, ok, err := w.dword(k, name)
		if err != nil {
			v.errs = append(v.errs, err.Error())
			return 0, "", false
		}
		if ok {
			return x, k + `\` + name, true
		}
	}
	return 0, "", false
}

// wantDWORD checks that a DWORD equals want; absentOK says what an absent
// value means.
func (w *winEnv) wantDWORD(v *verdict, key, name string, want uint32, absentOK bool) {
	x, ok, err := w.dword(key, name)
	switch {
	case err != nil:
		v.errs = append(v.errs, err.Error())
	case !ok:
		v.check(absentOK, "%s\\%s absent (default)", shortKey(key), name)
	default:
		v.check(x == want, "%s\\%s = %d (want %d)", shortKey(key), name, x, want)
	}
}

// service returns a service state; ok false when not installed.
func (w *winEnv) service(v *verdict, name string) (winService, bool) {
	s, err := w.src.Service(name)
	if err != nil {
		if !absent(err) {
			v.errs = append(v.errs, fmt.Sprintf("query service %s: %v", name, err))
		}
		return winService{}, false
	}
	return s, true
}

// shortKey trims the common registry prefixes for evidence.
func shortKey(k string) string {
	for _, p := range []string{`HKLM\SYSTEM\CurrentControlSet\`, `HKLM\SOFTWARE\`} {
		if strings.HasPrefix(k, p) {
			return strings.TrimPrefix(k, p)
		}
	}
	return k
}

// startName names a service start type.
func startName(t uint32) string {
	switch t {
	case 0:
		return "boot"
	case 1:
		return "system"
	case 2:
		return "automatic"
	case 3:
		return "manual"
	case 4:
		return "disabled"
	}
	return fmt.Sprint(t)
}

// installedSoftware returns the DisplayName of every Uninstall entry.
func (w *winEnv) installedSoftware() ([]string, error) {
	var out []string
	var firstErr error
	for _, base := range []string{regUninstall, regUninst32} {
		keys, err := w.src.RegSubKeys(base)
		if err != nil {
			if !absent(err) && firstErr == nil {
				firstErr = fmt.Errorf("read %s: %w", base, err)
			}
			continue
		}
		for _, k := range keys {
			if n, ok, _ := w.str(base+`\`+k, "DisplayName"); ok && n != "" {
				out = append(out, n)
			}
		}
	}
	return out, firstErr
}
