package config

import (
	"golang.org/x/sys/windows/registry"
)

// machineID reads MachineGuid from HKLM\SOFTWARE\Microsoft\Cryptography (the
// 64-bit registry view); root is ignored.
func machineID(_ string) string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return ""
	}
	defer k.Close()
	v, _, err := k.GetStringValue("MachineGuid")
	if err != nil {
		return ""
	}
	return sanitizeID(v)
}
