package baseline

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestScanRealHost scans this machine's "/" and checks that every Linux
// check yields a result (whatever the host's state).
func TestScanRealHost(t *testing.T) {
	t.Parallel()
	rep := scanRoot(t)
	assertComplete(t, rep)
}

func scanRoot(t *testing.T) *Report {
	t.Helper()
	c, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.target = "linux"
	rep, err := c.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func assertComplete(t *testing.T, rep *Report) {
	t.Helper()
	if n := linuxChecks(t); len(rep.Results) != n {
		t.Fatalf("%d results, want %d", len(rep.Results), n)
	}
	for _, r := range rep.Results {
		switch r.State {
		case StatePass, StateFail, StateNotApplicable, StateNotConfigured, StateError, StateExempt:
		default:
			t.Errorf("%s: state %q", r.ID, r.State)
		}
		if len(r.Evidence) == 0 && r.State != StatePass {
			t.Errorf("%s %s without evidence", r.ID, r.State)
		}
	}
}

// TestScanUnprivileged scans "/" as an unprivileged user: when the test runs
// as root it re-executes itself as nobody (uid 65534). Unreadable files must
// become ERROR results with "permission denied reading ...", never a crash.
func TestScanUnprivileged(t *testing.T) {
	t.Parallel()
	if os.Getenv("BASELINE_UNPRIV_CHILD") == "1" {
		rep := scanRoot(t)
		c, err := New(Config{Root: os.Getenv("BASELINE_UNPRIV_FIXTURE")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.target = "linux"
		fix, err := c.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(os.Stdout)
		if err := enc.Encode(rep); err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(fix); err != nil {
			t.Fatal(err)
		}
		return
	}
	var rep, fix Report
	if os.Geteuid() != 0 {
		t.Skip("runs as root and re-executes itself as uid 65534")
	} else {
		dir, err := os.MkdirTemp("", "baseline-unpriv")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "baseline.test")
		if err := copyExec(os.Args[0], bin); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^TestScanUnprivileged$", "-test.count=1")
		cmd.Dir = dir
		// A fixture whose etc/shadow (0640, owned by root) nobody cannot read.
		fixDir := filepath.Join(dir, "root")
		if err := os.Mkdir(fixDir, 0o755); err != nil {
			t.Fatal(err)
		}
		copyFixtureTo(t, "debian-hardened", fixDir)
		cmd.Env = append(os.Environ(), "BASELINE_UNPRIV_CHILD=1", "BASELINE_UNPRIV_FIXTURE="+fixDir, "GOCOVERDIR="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child scan as uid 65534: %v\n%s", err, out)
		}
		// The JSON reports are the first two lines; "PASS" follows.
		lines := strings.SplitN(string(out), "\n", 3)
		if len(lines) < 3 {
			t.Fatalf("child output: %s", out)
		}
		if err := json.Unmarshal([]byte(lines[0]), &rep); err != nil {
			t.Fatalf("decode child report: %v\n%s", err, out)
		}
		if err := json.Unmarshal([]byte(lines[1]), &fix); err != nil {
			t.Fatalf("decode child fixture report: %v\n%s", err, out)
		}
	}
	assertComplete(t, &fix)
	for _, r := range fix.Results {
		if r.ID == "LNX-ACC-004" && (r.State != StateError || !contains(r.Evidence, "permission denied reading /etc/shadow")) {
			t.Errorf("fixture LNX-ACC-004 as nobody: %s %q, want ERROR with \"permission denied reading /etc/shadow\"", r.State, r.Evidence)
		}
	}
	assertComplete(t, &rep)
	if st, err := os.Stat("/etc/shadow"); err == nil && st.Mode().Perm()&0o004 == 0 {
		for _, r := range rep.Results {
			if r.ID != "LNX-ACC-004" {
				continue
			}
			// ERROR, or FAIL when another condition (nullok) already fails.
			if (r.State != StateError && r.State != StateFail) || !contains(r.Evidence, "permission denied reading /etc/shadow") ||
				(r.State == StateFail && len(r.Evidence) < 2) {
				t.Errorf("LNX-ACC-004 as nobody: %s %q, want ERROR with \"permission denied reading /etc/shadow\"", r.State, r.Evidence)
			}
		}
		if !contains(rep.Unreadable, "permission denied reading /etc/shadow") {
			t.Errorf("Unreadable = %q, want etc/shadow listed", rep.Unreadable)
		}
	}
}

func copyExec(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
