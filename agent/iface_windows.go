package agent

// checkInterface accepts every name on Windows: capture interfaces are Npcap
// devices, which the capture resolves (and names in its error) when it
// opens them; resolving them here would load wpcap.dll for every command.
func checkInterface(string) error { return nil }
