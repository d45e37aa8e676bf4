package agent

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeward/edgeward/collectors/baseline"
)

// TestScanCommand runs `edgeward scan --format json` on this machine as the
// current user and, when that is root, again as the unprivileged user nobody
// (via setpriv): each run exits 0 and yields a result for every Linux check of
// the catalog; the HTML report is written to -o.
func TestScanCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary; skipped in -short mode")
	}
	t.Parallel()
	bin := edgewardBinary(t)
	cat, err := baseline.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir(): its parent is private to root, and the run as nobody
	// must read the config.
	dir, err := os.MkdirTemp("", "edgeward-scan-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := filepath.Join(dir, "edgeward.yaml")
	if err := os.WriteFile(cfg, []byte("agent: {id: scan-test}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := map[string][]string{"current user": {bin, "scan", "--format", "json", "-c", cfg}}
	if os.Geteuid() == 0 {
		if setpriv, err := exec.LookPath("setpriv"); err == nil {
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			runs["nobody"] = []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "scan", "--format", "json", "-c", cfg}
		} else {
			t.Log("setpriv not found: the unprivileged run is skipped")
		}
	}
	for who, argv := range runs {
		var stderr bytes.Buffer
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("scan as %s: %v\n%s", who, err, stderr.String())
			continue
		}
		var rep struct {
			Results []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"results"`
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Errorf("scan as %s: output is not JSON: %v", who, err)
			continue
		}
		linux := 0
		for _, r := range rep.Results {
			if strings.HasPrefix(r.ID, "LNX-") && r.State != "" {
				linux++
			}
		}
		t.Logf("scan as %s: %d Linux check results", who, linux)
		if want := len(cat.ForOS("linux")); linux != want {
			t.Errorf("scan as %s: %d Linux checks with a result, want all %d", who, linux, want)
		}
	}

	html := filepath.Join(dir, "report.html")
	if out, err := exec.Command(bin, "scan", "--format", "html", "-o", html, "-c", cfg).CombinedOutput(); err != nil {
		t.Fatalf("scan --format html: %v\n%s", err, out)
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("<html")) || !bytes.Contains(b, []byte("LNX-")) {
		t.Errorf("report.html does not look like the report (%d bytes)", len(b))
	}
}
