package baseline

import (
	"strings"
)

// bootPassword is LNX-ACC-009: GRUB requires a superuser password (set
// superusers plus a password_pbkdf2 entry, directly in grub.cfg or in the
// user.cfg it sources) to edit entries or reach its shell.
func bootPassword(e *env) outcome {
	cfgs := append(e.root.Glob("boot/grub/grub.cfg"), e.root.Glob("boot/grub2/grub.cfg")...)
	cfgs = append(cfgs, e.root.Glob("boot/efi/EFI/*/grub.cfg")...)
	if len(cfgs) == 0 {
		return na("no GRUB configuration (/boot/grub/grub.cfg, /boot/grub2/grub.cfg, /boot/efi/EFI/*/grub.cfg): the boot loader is not GRUB")
	}
	var v verdict
	for _, c := range cfgs {
		b, err := e.root.ReadRel(c)
		if err != nil {
			v.err(err)
			continue
		}
		text := string(b)
		// RHEL: grub.cfg sources ${config_directory}/user.cfg holding GRUB2_PASSWORD
		userCfg := strings.TrimSuffix(c, "grub.cfg") + "user.cfg"
		if ub, err := e.root.ReadRel(userCfg); err == nil && strings.Contains(text, "user.cfg") {
			if pw := parseKeyValues(ub)["GRUB2_PASSWORD"]; strings.HasPrefix(pw, "grub.pbkdf2.") {
				v.ok("/%s: GRUB2_PASSWORD (pbkdf2) for the root superuser, sourced by /%s", userCfg, c)
				continue
			}
		}
		supers, hashed, plain := "", false, false
		for _, l := range lines(b) {
			f := strings.Fields(l)
			switch {
			case len(f) >= 2 && strings.HasPrefix(f[0], "set") && strings.HasPrefix(strings.Join(f[1:], " "), "superusers="):
				supers = strings.Trim(strings.TrimPrefix(strings.Join(f[1:], " "), "superusers="), `"'`)
			case len(f) >= 3 && f[0] == "password_pbkdf2" && strings.HasPrefix(f[2], "grub.pbkdf2."):
				hashed = true
			case len(f) >= 3 && f[0] == "password":
				plain = true
			}
		}
		switch {
		case supers == "":
			v.no("/%s: no superusers set: anyone at the console can edit boot entries (init=/bin/sh)", c)
		case plain && !hashed:
			v.no("/%s: superusers %q with a plain-text password (use password_pbkdf2)", c, supers)
		case !hashed:
			v.no("/%s: superusers %q without a password_pbkdf2 entry", c, supers)
		default:
			v.ok("/%s: superusers %q with a password_pbkdf2 hash", c, supers)
		}
	}
	return v.outcome()
}

// unitText returns a systemd unit file and its drop-ins, first found in the
// unit directories (etc overrides run overrides lib).
func (e *env) unitText(unit string) (string, []string) {
	var text strings.Builder
	var files []string
	for _, d := range unitDirs() {
		p := d + "/" + unit
		if b, err := e.root.ReadRel(p); err == nil {
			text.Write(b)
			text.WriteByte('\n')
			files = append(files, "/"+p)
			break
		}
	}
	for _, d := range unitDirs() {
		for _, p := range e.root.Glob(d + "/" + unit + ".d/*.conf") {
			if b, err := e.root.ReadRel(p); err == nil {
				text.Write(b)
				text.WriteByte('\n')
				files = append(files, "/"+p)
			}
		}
	}
	return text.String(), files
}

// rescueAuth is LNX-ACC-010: single-user (rescue) and emergency mode ask for
// the root password: their units run sulogin and do not force a shell
// without one (SYSTEMD_SULOGIN_FORCE=1); on SysV-init RHEL, SINGLE is
// sulogin.
func rescueAuth(e *env) outcome {
	var v verdict
	found := false
	for _, u := range []string{"rescue.service", "emergency.service"} {
		text, files := e.unitText(u)
		if len(files) == 0 {
			continue
		}
		found = true
		exec := ""
		for _, l := range lines([]byte(text)) {
			if x, ok := strings.CutPrefix(l, "ExecStart="); ok && strings.TrimSpace(x) != "" {
				exec = strings.TrimSpace(x)
			}
		}
		force := strings.Contains(text, "SYSTEMD_SULOGIN_FORCE=1")
		switch {
		case !strings.Contains(exec, "sulogin"):
			v.no("%s runs %q without sulogin (%s)", u, exec, joinList(files))
		case force:
			v.no("%s sets SYSTEMD_SULOGIN_FORCE=1: a root shell without a password (%s)", u, joinList(files))
		default:
			v.ok("%s: %s (%s)", u, exec, joinList(files))
		}
	}
	if b, err := e.readOptional("etc", "sysconfig", "init"); err == nil && b != nil {
		found = true
		single := parseKeyValues(b)["SINGLE"]
		v.check(strings.HasSuffix(single, "sulogin"), "/etc/sysconfig/init SINGLE=%s", orNone(single))
	}
	if !found {
		return na("no rescue.service, emergency.service or /etc/sysconfig/init: no systemd or SysV single-user mode to check")
	}
	return v.outcome()
}
