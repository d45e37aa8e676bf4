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

	// -o FILE.html without --format writes HTML: one self-contained page
	// under 1 MB; -o FILE.json writes JSON; --format wins over the name.
	html := filepath.Join(dir, "report.html")
	if out, err := exec.Command(bin, "scan", "-o", html, "-c", cfg).CombinedOutput(); err != nil {
		t.Fatalf("scan -o report.html: %v\n%s", err, out)
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) || !bytes.Contains(b, []byte("LNX-")) {
		t.Errorf("report.html does not look like the report (%d bytes)", len(b))
	}
	if len(b) >= 1<<20 {
		t.Errorf("report.html is %d bytes, want under 1 MB", len(b))
	}
	js := filepath.Join(dir, "report.json")
	if out, err := exec.Command(bin, "scan", "-o", js, "-c", cfg).CombinedOutput(); err != nil {
		t.Fatalf("scan -o report.json: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(js); err != nil || !json.Valid(b) {
		t.Errorf("scan -o report.json did not write JSON (%v)", err)
	}
	txt := filepath.Join(dir, "table.html")
	if out, err := exec.Command(bin, "scan", "--format", "table", "-o", txt, "-c", cfg).CombinedOutput(); err != nil {
		t.Fatalf("scan --format table -o table.html: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(txt); err != nil || bytes.Contains(b, []byte("<html")) {
		t.Errorf("--format table -o table.html wrote HTML or nothing (%v)", err)
	}
}

func TestFormatOf(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{"r.html": "html", "R.HTM": "html", "x/r.json": "json", "r.txt": "table", "": "table", "html": "table"} {
		if got := formatOf(name, "table"); got != want {
			t.Errorf("formatOf(%q) = %q, want %q", name, got, want)
		}
	}
}
