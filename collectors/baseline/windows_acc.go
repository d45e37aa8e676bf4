package baseline

import (
	"fmt"
	"strings"
	"time"
)

// policyOr reads the account policy or returns an ERROR outcome.
func (w *winEnv) policyOr() (accountPolicy, *outcome) {
	p, err := w.src.AccountPolicy()
	if err != nil {
		o := errOut("read account policy: " + err.Error())
		return p, &o
	}
	return p, nil
}

// triState checks a policy flag that may be unknown (-1, with why).
func triState(v *verdict, name string, got, want int, why string) {
	if got < 0 {
		if why == "" {
			why = "not readable"
		}
		v.errs = append(v.errs, name+" unknown: "+why)
		return
	}
	v.check(got == want, "%s = %d (want %d)", name, got, want)
}

// winPasswordPolicy is WIN-ACC-001.
func winPasswordPolicy(w *winEnv) outcome {
	p, o := w.policyOr()
	if o != nil {
		return *o
	}
	var v verdict
	v.check(p.MinLength >= w.site.MinPasswordLength, "MinimumPasswordLength = %d (site minimum %d)", p.MinLength, w.site.MinPasswordLength)
	triState(&v, "PasswordComplexity", p.Complexity, 1, p.PropertiesErr)
	triState(&v, "ClearTextPassword", p.ReversibleStorage, 0, p.PropertiesErr)
	return v.outcome()
}

// winPasswordAgeing is WIN-ACC-002.
func winPasswordAgeing(w *winEnv) outcome {
	p, o := w.policyOr()
	if o != nil {
		return *o
	}
	var v verdict
	maxd := int(p.MaxAge.Hours() / 24)
	v.check(p.MaxAge > 0 && maxd <= 90, "MaximumPasswordAge = %d days (0 = never)", maxd)
	v.check(p.MinAge >= 24*time.Hour, "MinimumPasswordAge = %d days", int(p.MinAge.Hours()/24))
	v.check(p.History >= 5, "PasswordHistorySize = %d", p.History)
	return v.outcome()
}

// winLockout is WIN-ACC-003.
func winLockout(w *winEnv) outcome {
	p, o := w.policyOr()
	if o != nil {
		return *o
	}
	var v verdict
	v.check(p.LockoutThreshold >= 1 && p.LockoutThreshold <= 5, "LockoutBadCount = %d (0 = never)", p.LockoutThreshold)
	v.check(p.LockoutDuration >= 15*time.Minute || (p.LockoutThreshold > 0 && p.LockoutDuration == 0), "LockoutDuration = %s", p.LockoutDuration)
	v.check(p.LockoutObservation >= 15*time.Minute, "ResetLockoutCount = %s", p.LockoutObservation)
	if len(w.site.LockoutExemptAccounts) > 0 {
		v.ok("essential accounts exempt by site policy: %s", joinList(w.site.LockoutExemptAccounts))
	}
	return v.outcome()
}

// winUsersOr reads local users or returns an ERROR outcome.
func (w *winEnv) usersOr() ([]localUser, *outcome) {
	u, err := w.src.LocalUsers()
	if err != nil {
		o := errOut("list local users: " + err.Error())
		return nil, &o
	}
	return u, nil
}

// winGuestAdmin is WIN-ACC-004: Guest (RID 501) disabled; built-in
// Administrator (RID 500) renamed or disabled.
func winGuestAdmin(w *winEnv) outcome {
	us, o := w.usersOr()
	if o != nil {
		return *o
	}
	var v verdict
	for _, u := range us {
		switch u.RID {
		case 501:
			v.check(!u.Enabled, "Guest account %q enabled=%t", u.Name, u.Enabled)
		case 500:
			v.check(!u.Enabled || !strings.EqualFold(u.Name, "Administrator"), "built-in administrator %q enabled=%t", u.Name, u.Enabled)
		}
	}
	return v.outcome()
}

// winBlankPasswords is WIN-ACC-005.
func winBlankPasswords(w *winEnv) outcome {
	var v verdict
	w.wantDWORD(&v, regLsa, "LimitBlankPasswordUse", 1, true)
	us, err := w.src.LocalUsers()
	if err != nil {
		v.errs = append(v.errs, "list local users: "+err.Error())
		return v.outcome()
	}
	for _, u := range us {
		if u.Enabled && u.PasswordNotReqd {
			v.no("enabled account %q does not require a password", u.Name)
		}
	}
	return v.outcome()
}

// winStaleAccounts is WIN-ACC-006.
func winStaleAccounts(w *winEnv) outcome {
	us, o := w.usersOr()
	if o != nil {
		return *o
	}
	var v verdict
	var enabled []string
	for _, u := range us {
		if !u.Enabled {
			continue
		}
		enabled = append(enabled, u.Name)
		if contains(vendorDefaultAccounts(), strings.ToLower(u.Name)) && !containsFold(w.site.Accounts, u.Name) {
			v.no("vendor-default or generic account %q enabled", u.Name)
		}
		if !u.LastLogon.IsZero() && w.now.Sub(u.LastLogon) > 90*24*time.Hour {
			v.no("account %q unused for %d days", u.Name, days(w.now.Sub(u.LastLogon)))
		}
	}
	if len(v.bad) > 0 {
		return v.outcome()
	}
	if len(w.site.Accounts) == 0 {
		return notConfigured("accounts", "enabled accounts: "+joinList(enabled))
	}
	for _, n := range enabled {
		v.check(containsFold(w.site.Accounts, n), "enabled account %q on the site list", n)
	}
	return v.outcome()
}

// winAutoLogon is WIN-ACC-007.
func winAutoLogon(w *winEnv) outcome {
	const k = `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon`
	al, _, err := w.str(k, "AutoAdminLogon")
	if err != nil {
		return errOut(err.Error())
	}
	if al != "1" {
		return pass("AutoAdminLogon = " + orNone(al))
	}
	user, _, _ := w.str(k, "DefaultUserName")
	_, hasPw, err := w.str(k, "DefaultPassword")
	if err != nil {
		return errOut(err.Error())
	}
	if hasPw {
		return fail("AutoAdminLogon = 1 for "+user, "DefaultPassword stored in cleartext in the registry")
	}
	members, err := w.src.GroupMembers(sidAdministrators)
	if err != nil {
		return errOut("AutoAdminLogon = 1 for "+user, "list Administrators ("+sidAdministrators+"): "+err.Error())
	}
	for _, m := range members {
		if strings.EqualFold(m, user) || strings.HasSuffix(strings.ToLower(m), `\`+strings.ToLower(user)) {
			return fail("AutoAdminLogon = 1 for "+user, user+" is an administrator")
		}
	}
	return pass("AutoAdminLogon = 1 for non-admin "+user, "password held as an LSA secret (no DefaultPassword)")
}

// winAdmins is WIN-PRV-001: the members of the local Administrators group,
// found by its SID so that localised names work.
func winAdmins(w *winEnv) outcome {
	members, err := w.src.GroupMembers(sidAdministrators)
	if err != nil {
		return errOut("list Administrators (" + sidAdministrators + "): " + err.Error())
	}
	ev := "Administrators (" + sidAdministrators + "): " + joinList(members)
	if len(w.site.AdminUsers) == 0 {
		return notConfigured("admin_users", ev)
	}
	var v verdict
	for _, m := range members {
		short := m
		if i := strings.LastIndex(m, `\`); i >= 0 {
			short = m[i+1:]
		}
		v.check(containsFold(w.site.AdminUsers, m) || containsFold(w.site.AdminUsers, short), "Administrators member %q on the site admin list", m)
	}
	return v.outcome()
}

// winUAC is WIN-PRV-002.
func winUAC(w *winEnv) outcome {
	var v verdict
	w.wantDWORD(&v, regPolSystem, "EnableLUA", 1, true)
	w.wantDWORD(&v, regPolSystem, "FilterAdministratorToken", 1, false)
	if x, ok, err := w.dword(regPolSystem, "ConsentPromptBehaviorAdmin"); err != nil {
		v.errs = append(v.errs, err.Error())
	} else {
		v.check(ok && (x == 1 || x == 2), "ConsentPromptBehaviorAdmin = %d (want 1 or 2)", x)
	}
	w.wantDWORD(&v, `HKLM\SOFTWARE\Policies\Microsoft\Windows\Installer`, "AlwaysInstallElevated", 0, true)
	return v.outcome()
}

// winLegacyAuth is WIN-AUT-001. RunAsPPL is reported, not required (the
// catalog asks for it only where the ICS software tolerates it).
func winLegacyAuth(w *winEnv) outcome {
	var v verdict
	w.wantDWORD(&v, regLsa, "LMCompatibilityLevel", 5, false)
	w.wantDWORD(&v, regLsa, "NoLMHash", 1, true)
	w.wantDWORD(&v, `HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\WDigest`, "UseLogonCredential", 0, true)
	if x, ok, _ := w.dword(regLsa, "RunAsPPL"); ok {
		v.ok("RunAsPPL = %d", x)
	} else {
		v.ok("RunAsPPL not set (LSA protection off; enable where the ICS software tolerates it)")
	}
	return v.outcome()
}

// winCentralAuth is WIN-AUT-002: joined to a domain (NetGetJoinInformation;
// a DNS suffix is not a join) and an MFA credential provider from
// site_policy.mfa_providers registered.
func winCentralAuth(w *winEnv) outcome {
	j, err := w.src.DomainJoin()
	if err != nil {
		return errOut("read domain membership: " + err.Error())
	}
	if !j.Joined {
		return fail("not joined to a domain (workgroup " + orNone(j.Name) + ")")
	}
	dom := j.Name
	if len(w.site.MFAProviders) == 0 {
		return notConfigured("mfa_providers", "domain "+dom)
	}
	cps, err := w.src.RegSubKeys(`HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Authentication\Credential Providers`)
	if err != nil {
		return errOut("read credential providers: " + err.Error())
	}
	for _, c := range cps {
		if containsFold(w.site.MFAProviders, c) {
			return pass("domain "+dom, "MFA credential provider "+c)
		}
	}
	return fail("domain "+dom, fmt.Sprintf("none of the MFA providers %s registered", joinList(w.site.MFAProviders)))
}
