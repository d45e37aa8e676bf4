package baseline

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSysctlOracle generates sysctl.d trees (same file names in several
// directories, masking links to /dev/null, non-.conf files, both key
// spellings) and compares the value the parser says each key gets at boot
// with the last assignment in the files systemd lists, in its order
// (systemd-analyze --root DIR cat-config sysctl.d).
func TestSysctlOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("oracle comparison runs systemd-analyze; skipped in -short mode")
	}
	sa := needTool(t, "systemd-analyze")
	r := rand.New(rand.NewSource(15))
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	dirs := []string{"etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d", "lib/sysctl.d"}
	keys := []string{"net.ipv4.tcp_syncookies", "kernel.kptr_restrict", "net.ipv4.conf.all.rp_filter", "fs.suid_dumpable"}
	cases, disagree := 0, 0
	for i := 0; i < 40; i++ {
		root := filepath.Join(t.TempDir(), fmt.Sprint(i))
		for j := 0; j < 2+r.Intn(6); j++ {
			d := filepath.Join(root, pick(dirs...))
			_ = os.MkdirAll(d, 0o755)
			name := pick("10-a.conf", "50-default.conf", "60-site.conf", "99-z.conf", "a.conf", "Z.conf", "70-x.conf.disabled", "README")
			p := filepath.Join(d, name)
			if r.Intn(10) == 0 {
				_ = os.Symlink("/dev/null", p)
				continue
			}
			var l []string
			for k := 0; k < 1+r.Intn(3); k++ {
				key := pick(keys...)
				if r.Intn(3) == 0 {
					key = strings.ReplaceAll(key, ".", "/")
				}
				l = append(l, pick("", "-")+key+pick(" = ", "=", "\t= ")+fmt.Sprint(r.Intn(3)), pick("", "# c", "; c"))
			}
			_ = os.WriteFile(p, []byte(strings.Join(l, "\n")+"\n"), 0o644)
		}
		out, err := exec.Command(sa, "--root="+root, "cat-config", "sysctl.d").CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "No files found") {
				continue
			}
			t.Fatalf("systemd-analyze: %v %s", err, out)
		}
		want := map[string]string{}
		var file strings.Builder
		flush := func() {
			for _, a := range parseSysctlConf([]byte(file.String()), "") {
				want[a[0]] = a[1]
			}
			file.Reset()
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "# "+root) || strings.HasPrefix(l, "# /") {
				flush()
				continue
			}
			file.WriteString(l + "\n")
		}
		flush()
		e := rootEnv(t, nil)
		e.root = fsRoot{dir: root}
		for _, k := range keys {
			cases++
			got, _ := e.sysctlBoot(k)
			if got.Value != want[k] {
				disagree++
				t.Errorf("tree %d: %s: systemd order gives %q, parser %q (%s)\n%s", i, k, want[k], got.Value, got.Where, out)
			}
		}
	}
	t.Logf("sysctl oracle: %d key lookups, %d disagreements", cases, disagree)
}
