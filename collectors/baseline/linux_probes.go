package baseline

// linuxProbe decides one Linux check from the files under the scan's root.
type linuxProbe func(e *env) outcome

// linuxProbes maps every Linux catalog id to its probe. The map is new on
// every call.
func linuxProbes() map[string]linuxProbe {
	return map[string]linuxProbe{
		"LNX-USB-001": usbStorageBlocked,
		"LNX-USB-002": usbGuard,
		"LNX-USB-003": usbAutomount,
		"LNX-USB-004": wirelessOff,
		"LNX-SVC-001": listenersAllowlisted,
		"LNX-SVC-002": cleartextServices,
		"LNX-SVC-003": nonEssentialDaemons,
		"LNX-SVC-004": snmpCommunity,
		"LNX-SSH-001": sshRootLogin,
		"LNX-SSH-002": sshLimits,
		"LNX-SSH-003": sshRestricted,
		"LNX-SSH-004": sshMFA,
		"LNX-SSH-005": sshCrypto,
		"LNX-ACC-001": passwordQuality,
		"LNX-ACC-002": passwordAgeing,
		"LNX-ACC-003": loginLockout,
		"LNX-ACC-004": emptyPasswords,
		"LNX-ACC-005": uidZero,
		"LNX-ACC-006": staleAccounts,
		"LNX-ACC-007": sessionTimeout,
		"LNX-PRV-001": leastPrivilege,
		"LNX-PRV-002": macEnforcing,
		"LNX-LOG-001": auditDaemon,
		"LNX-LOG-002": auditRules,
		"LNX-LOG-003": logRetention,
		"LNX-LOG-004": logForwarding,
		"LNX-TIM-001": timeSync,
		"LNX-FW-001":  hostFirewall,
		"LNX-FW-002":  firewallDefaultDeny,
		"LNX-PAT-001": osSupported,
		"LNX-PAT-002": patchesSigned,
		"LNX-MAL-001": antiMalware,
		"LNX-MAL-002": fileIntegrity,
		"LNX-MAL-003": appAllowlisting,
		"LNX-FIL-001": filePermissions,
		"LNX-KRN-001": kernelMemory,
		"LNX-KRN-002": networkStack,
		"LNX-KRN-003": noForwarding,
		"LNX-ENC-001": diskEncryption,
		"LNX-BAK-001": backupRecent,
		"LNX-IND-001": icsListeners,
		"LNX-IND-002": opcuaLinux,
		"LNX-IND-003": unapprovedRemoteTools,
		"LNX-IND-004": inventoryLinux,
		"LNX-PLT-001": func(e *env) outcome { return platformConnected(e.cfg, e.now) },
		"LNX-PLT-002": func(e *env) outcome { return platformUpstream(e.cfg) },
	}
}
