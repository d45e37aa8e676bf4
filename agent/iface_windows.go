package agent

import "github.com/edgeward/edgeward/collectors/passive"

// checkInterface checks that a capture interface names an adapter of this
// host as the capture will resolve it: Windows' adapter list first (friendly
// name, GUID, NPF device name), then Npcap's descriptions, so wpcap.dll is
// loaded only when a capture interface is configured and is not a Windows
// adapter name.
func checkInterface(name string) error { return passive.CheckInterface(name) }
