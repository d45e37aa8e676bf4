package agent

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/edgeward/edgeward"

// TestImportGraph enforces the package boundaries of DESIGN.md §2: a star
// centred on agent. collectors imports only the standard library; each
// collectors/* package imports only collectors (passive also its protocol
// decoders; host and passive the gopsutil helper collectors/internal/psproc); buffer, uplink and the decoders import no edgeward package; and
// nothing but the main package imports agent.
func TestImportGraph(t *testing.T) {
	t.Parallel()
	needGoTool(t)
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string][]string{
		module + "/collectors":                {},
		module + "/collectors/host":           {"collectors", "collectors/internal/psproc"},
		module + "/collectors/baseline":       {"collectors"},
		module + "/collectors/schematest":     {"collectors"},
		module + "/collectors/probe":          {"collectors"},
		module + "/collectors/advisory":       {"collectors"},
		module + "/collectors/passive":        {"collectors", "collectors/internal/psproc", "collectors/passive/modbus", "collectors/passive/opcua"},
		module + "/collectors/passive/modbus": {"collectors/passive/internal/bounded"},
		module + "/collectors/passive/opcua":  {"collectors/passive/internal/bounded"},
		module + "/buffer":                    {},
		module + "/uplink/uplinktest":         {},
		module + "/uplink":                    {},
		module + "/agent/cmd/edgeward":        {"agent"},
		module + "/agent/internal/config":     {},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		if pkg == module+"/agent" {
			continue // agent may import everything below it
		}
		ok, known := allowed[pkg]
		for _, imp := range imports {
			if !strings.HasPrefix(imp, module+"/") && imp != module {
				continue
			}
			rel := strings.TrimPrefix(imp, module+"/")
			if strings.HasPrefix(rel, strings.TrimPrefix(pkg, module+"/")+"/internal") {
				continue // a package's own internal helpers
			}
			if !known {
				if strings.Contains(pkg, "/internal/") {
					continue // internal helpers are checked through their parent's rules
				}
				t.Errorf("package %s is not in the import-graph table of DESIGN.md §2; add it", pkg)
				break
			}
			if !contains(ok, rel) {
				t.Errorf("forbidden import: %s imports %s (allowed: %v)", pkg, imp, ok)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
