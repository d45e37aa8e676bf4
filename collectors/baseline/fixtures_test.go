package baseline

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	yaml "go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite testdata/fixtures/*.expected.json from the current results")

// fixtureNames lists the fixture roots under testdata/fixtures.
func fixtureNames() []string {
	return []string{"debian-hardened", "debian-default", "rhel-default", "broken"}
}

// copyFixture copies testdata/fixtures/name into a temporary directory and
// applies the file modes of name.modes (git keeps only 0644/0755), returning
// the new root.
func copyFixture(t testing.TB, name string) string {
	t.Helper()
	return copyFixtureTo(t, name, t.TempDir())
}

// copyFixtureTo copies a fixture into dst (see copyFixture).
func copyFixtureTo(t testing.TB, name, dst string) string {
	t.Helper()
	src := filepath.Join("testdata", "fixtures", name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, in); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		t.Fatalf("copy fixture %s: %v", name, err)
	}
	mf, err := os.Open(filepath.Join("testdata", "fixtures", name+".modes"))
	if err != nil {
		t.Fatalf("open modes: %v", err)
	}
	defer mf.Close()
	sc := bufio.NewScanner(mf)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		m, err := strconv.ParseUint(f[0], 8, 32)
		if err != nil {
			t.Fatalf("modes %s: %q", name, sc.Text())
		}
		if err := os.Chmod(filepath.Join(dst, filepath.FromSlash(f[1])), fs.FileMode(m)); err != nil {
			t.Fatalf("chmod: %v", err)
		}
	}
	// The root directory itself stands for "/": make it look like one.
	if err := os.Chmod(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// fixtureConfig reads testdata/fixtures/name.yaml as collectors.baseline.
func fixtureConfig(t testing.TB, name, root string) Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Role         string         `yaml:"role"`
		SitePolicy   map[string]any `yaml:"site_policy"`
		SelfDeclared map[string]any `yaml:"self_declared"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatalf("decode %s.yaml: %v", name, err)
	}
	cfg := DefaultConfig()
	cfg.Root = root
	cfg.Role = raw.Role
	cfg.SitePolicy = raw.SitePolicy
	cfg.SelfDeclared = raw.SelfDeclared
	return cfg
}

// scanFixture scans a copy of a fixture with the Linux probes.
func scanFixture(t testing.TB, name string, edit func(*Config)) *Report {
	t.Helper()
	root := copyFixture(t, name)
	cfg := fixtureConfig(t, name, root)
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.target = "linux"
	c.now = func() time.Time { return time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC) }
	rep, err := c.Scan(context.Background())
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return rep
}

// expected is the per-fixture expectation: every Linux check's state and the
// host level.
type expected struct {
	Level  int              `json:"level"`
	States map[string]State `json:"states"`
}

func TestFixtures(t *testing.T) {
	t.Parallel()
	needUnixModes(t)
	for _, name := range fixtureNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rep := scanFixture(t, name, nil)
			got := expected{Level: rep.Score.Level, States: map[string]State{}}
			for _, r := range rep.Results {
				got.States[r.ID] = r.State
			}
			path := filepath.Join("testdata", "fixtures", name+".expected.json")
			if *update {
				b, _ := json.MarshalIndent(got, "", "  ")
				if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read expectations: %v", err)
			}
			var want expected
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if n := linuxChecks(t); len(want.States) != n {
				t.Errorf("%s lists %d checks, want all %d Linux checks", path, len(want.States), n)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				for _, r := range rep.Results {
					if want.States[r.ID] != r.State {
						t.Logf("%s %s: %v", r.ID, r.State, r.Evidence)
					}
				}
				t.Errorf("fixture %s (-want +got):\n%s", name, diff)
			}
		})
	}
}

// TestLargeDpkgStatus pads the dpkg status file of a fixture past the 1 MiB
// cap of ordinary files (real ones reach several MiB) and checks that every
// check still sees the same packages.
func TestLargeDpkgStatus(t *testing.T) {
	t.Parallel()
	want := map[string]State{}
	for _, r := range scanFixture(t, "debian-default", nil).Results {
		want[r.ID] = r.State
	}
	rep := scanFixture(t, "debian-default", func(cfg *Config) {
		p := filepath.Join(cfg.Root, "var", "lib", "dpkg", "status")
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i := 0; b.Len() <= 2*maxRead; i++ {
			b.WriteString("Package: filler" + strconv.Itoa(i) + "\nStatus: install ok installed\nVersion: 1.0\n" +
				"Description: " + strings.Repeat("x", 200) + "\n\n")
		}
		b.Write(orig)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	got := map[string]State{}
	for _, r := range rep.Results {
		got[r.ID] = r.State
		if r.State != want[r.ID] {
			t.Logf("%s %s: %v", r.ID, r.State, r.Evidence)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states with a large dpkg status (-small +large):\n%s", diff)
	}
}

// linuxChecks returns the number of Linux checks in the catalog.
func linuxChecks(t testing.TB) int {
	t.Helper()
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return len(cat.ForOS("linux"))
}

// TestEvidencePathsAbsolute asserts that evidence names host files by their
// absolute path ("/etc/ssh/sshd_config", never "etc/ssh/sshd_config"), so
// that an operator can find what was read.
func TestEvidencePathsAbsolute(t *testing.T) {
	t.Parallel()
	rel := regexp.MustCompile(`(^|[\s(:,"'])(etc|proc|sys|var|usr|boot|lib|run|opt)/[A-Za-z0-9_.-]`)
	for _, name := range fixtureNames() {
		for _, r := range scanFixture(t, name, nil).Results {
			for _, ev := range r.Evidence {
				if m := rel.FindString(ev); m != "" {
					t.Errorf("%s %s: relative path in evidence %q", name, r.ID, ev)
				}
			}
		}
	}
}
