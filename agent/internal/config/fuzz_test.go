package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeward/edgeward/agent/internal/config"
)

// FuzzParse feeds arbitrary bytes to Parse. Invariants: no panic; an error is
// always (or joins) a *config.Error naming the file; a success validates.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(configsDir, "*.yaml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "agent: {id: a}\n", "uplink:\n  brokers: [tcp://a:1]\n", "a: [1\n", "- x\n",
		"agent: &a {id: q}\nuplink: *a\n", "collectors:\n  baseline:\n    site_policy: {a: {b: [1, {c: d}]}}\n",
		"agent:\n  <<: {id: a}\n", "log: !!str info\n", "buffer: {max_bytes: 1.5GiB, max_age: 1d}\n",
		"---\n---\n", "uplink:\n  password: x\n", "agent: {id: [a, b]}\n", "? a\n: b\n",
	} {
		f.Add([]byte(s))
	}
	l := config.Loader{
		AgentID:   func() string { return "fuzz" },
		LookupEnv: func(string) (string, bool) { return "pw", true }, // never read password files
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := l.Parse("fuzz.yaml", data)
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != "fuzz.yaml" {
				t.Fatalf("error %T %q is not a located *config.Error", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse succeeded but Validate fails: %v", err)
		}
	})
}

func BenchmarkParseGateway(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(configsDir, "gateway.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	l := testLoader()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := l.Parse("gateway.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
