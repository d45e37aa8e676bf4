package baseline

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// usbStorageBlocked is LNX-USB-001: the usb-storage driver cannot load (an
// `install usb-storage /bin/false|/bin/true` rule) and is not loaded, or
// USBGuard (LNX-USB-002) passes.
func usbStorageBlocked(e *env) outcome {
	if g := usbGuard(e); g.state == StatePass {
		return pass(append([]string{"USBGuard enforces a device allowlist (LNX-USB-002)"}, g.evidence...)...)
	}
	return modulesDisabled(e, "usb-storage")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// usbGuard is LNX-USB-002: usbguard active, ImplicitPolicyTarget=block, at
// least one allow rule, rules.conf hash equal to the platform's.
func usbGuard(e *env) outcome {
	var v verdict
	if ev, ok := e.running("usbguard-daemon", "usbguard"); ok {
		v.ok("%s", ev)
	} else {
		v.no("usbguard not running")
		return v.outcome()
	}
	conf, err := e.read("etc", "usbguard", "usbguard-daemon.conf")
	if err != nil {
		v.err(err)
	} else {
		t := parseKeyValues(conf)["ImplicitPolicyTarget"]
		v.check(t == "block", "ImplicitPolicyTarget=%s (/etc/usbguard/usbguard-daemon.conf)", orNone(t))
	}
	rules, err := e.read("etc", "usbguard", "rules.conf")
	if err != nil {
		v.err(err)
		return v.outcome()
	}
	n := 0
	for _, l := range lines(rules) {
		if strings.HasPrefix(l, "allow") {
			n++
		}
	}
	v.check(n > 0, "%d allow rules (/etc/usbguard/rules.conf)", n)
	o := v.outcome()
	if o.state != StatePass {
		return o
	}
	sum := sha256.Sum256(rules)
	h := hex.EncodeToString(sum[:])
	if e.site.USBGuardPolicySHA256 == "" {
		return notConfigured("usbguard_policy_sha256", append(o.evidence, "rules.conf sha256 "+h)...)
	}
	if !strings.EqualFold(h, e.site.USBGuardPolicySHA256) {
		return fail(append(o.evidence, "rules.conf sha256 "+h+" differs from the platform's policy")...)
	}
	return pass(append(o.evidence, "rules.conf sha256 matches the platform's policy")...)
}

// usbAutomount is LNX-USB-003: autofs disabled, desktop automount off,
// removable mounts noexec,nosuid,nodev.
func usbAutomount(e *env) outcome {
	var v verdict
	v.check(!e.unitEnabled("autofs.service"), "autofs.service enabled: %t", e.unitEnabled("autofs.service"))
	if files, errs := e.readGlob("etc/dconf/db/*.d/*"); len(files) > 0 || len(errs) > 0 {
		for _, err := range errs {
			v.err(err)
		}
		for _, k := range sortedKeys(files) {
			if kv := parseKeyValues(files[k]); kv["automount"] == "true" {
				v.no("/%s: automount=true", k)
			}
		}
	}
	b, err := e.read("proc", "mounts")
	if err != nil {
		if !isNotExist(err) {
			v.err(err)
		}
	} else {
		for _, m := range parseMounts(b) {
			if !strings.HasPrefix(m[1], "/media/") && !strings.HasPrefix(m[1], "/run/media/") {
				continue
			}
			opts := "," + m[3] + ","
			ok := strings.Contains(opts, ",noexec,") && strings.Contains(opts, ",nosuid,") && strings.Contains(opts, ",nodev,")
			v.check(ok, "removable mount %s options %s", m[1], m[3])
		}
	}
	if len(v.bad) == 0 {
		v.ok("no automount, removable mounts restricted")
	}
	return v.outcome()
}

// wirelessOff is LNX-USB-004: no active WLAN interface unless the role allows
// it, and bluetooth disabled or absent.
func wirelessOff(e *env) outcome {
	var v verdict
	for _, p := range e.root.Glob("sys/class/net/*/wireless") {
		ifc := strings.Split(p, "/")[3]
		st, _ := e.read("sys", "class", "net", ifc, "operstate")
		up := strings.TrimSpace(string(st)) == "up"
		if up && !e.site.AllowWireless {
			v.no("wireless interface %s is up", ifc)
		} else {
			v.ok("wireless interface %s up=%t (allow_wireless=%t)", ifc, up, e.site.AllowWireless)
		}
	}
	bt := e.unitEnabled("bluetooth.service")
	_, btRun := e.running("bluetoothd")
	v.check(!bt && !btRun, "bluetooth enabled=%t running=%t", bt, btRun)
	return v.outcome()
}
