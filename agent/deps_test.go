package agent

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/edgeward/edgeward"

// TestImportGraph enforces the package boundaries of DESIGN.md §2: a star
// centred on agent. collectors imports only the standard library; each
// collectors/* package imports only collectors (passive also its protocol
// decoders); buffer, uplink and the decoders import no edgeward package; and
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
		module + "/collectors/host":           {"collectors"},
		module + "/collectors/baseline":       {"collectors"},
		module + "/collectors/schematest":     {"collectors"},
		module + "/collectors/probe":          {"collectors"},
		module + "/collectors/advisory":       {"collectors"},
		module + "/collectors/passive":        {"collectors", "collectors/passive/modbus", "collectors/passive/opcua"},
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

// heavyPackages are kept out of the binary for its size (issue 12: at most
// 15 MiB stripped): each adds hundreds of KB through an init that registers
// everything the package knows, whatever the agent uses of it.
var heavyPackages = map[string]string{
	"github.com/gopacket/gopacket/layers": "registers a decoder for every protocol; passive decodes frames itself (passive.LinkType)",
	"github.com/gopcua/opcua/ua":          "registers every OPC UA type for its reflection codec; probe encodes its few requests itself",
	"github.com/gopcua/opcua/uacp":        "pulls in ua; probe encodes Hello itself",
	"text/template":                       "its method calls by name make the linker keep every exported method (~2.5 MB); the report escapes its own HTML",
	"html/template":                       "pulls in text/template",
}

// TestBinaryLeavesOutHeavyPackages checks the dependencies of the edgeward
// command on the four release targets: none of heavyPackages may come back
// through a new import.
func TestBinaryLeavesOutHeavyPackages(t *testing.T) {
	needGoTool(t)
	for _, target := range []string{"linux/amd64", "linux/arm64", "linux/arm", "windows/amd64"} {
		t.Run(strings.ReplaceAll(target, "/", "_"), func(t *testing.T) {
			goos, goarch, _ := strings.Cut(target, "/")
			cmd := exec.Command("go", "list", "-deps", module+"/agent/cmd/edgeward")
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "GOARM=7", "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps for %s: %v\n%s", target, err, out)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 20 || !slices.Contains(deps, module+"/agent") {
				t.Fatalf("go list -deps for %s listed %d packages without %s/agent: %q", target, len(deps), module, out)
			}
			for pkg, why := range heavyPackages {
				if slices.Contains(deps, pkg) {
					t.Errorf("%s: the binary imports %s (%s); find the import with `go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./agent/cmd/edgeward | grep %s` and remove it", target, pkg, why, pkg)
				}
			}
		})
	}
}
