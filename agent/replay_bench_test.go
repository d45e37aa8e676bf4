package agent

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// replayBenchCapture returns a capture of shape (pcapgen's polling or
// mixed, written by benchgen): the file named by the environment variable
// env when set (written only when absent, so that tshark can be timed on
// the same file), else a temporary file.
func replayBenchCapture(b *testing.B, env, shape string) string {
	b.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = filepath.Join(b.TempDir(), shape+".pcap")
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	out, err := exec.Command("go", "run", "../collectors/passive/internal/pcapgen/benchgen", "-shape", shape, "-o", path).CombinedOutput()
	if err != nil {
		b.Fatalf("benchgen: %v\n%s", err, out)
	}
	return path
}

// BenchmarkReplayCLI measures `edgeward replay FILE` end to end in process
// (flags, default configuration, replay, the table on stdout) on the two
// capture shapes of collectors/passive's replay benchmarks: polling (1000
// connections, FC 3) and mixed (1000 connections, mixed function codes,
// exceptions, segments carrying two ADUs). REPLAY_BENCH_PCAP and
// REPLAY_BENCH_MIXED_PCAP keep the captures at those paths.
func BenchmarkReplayCLI(b *testing.B) {
	for _, tc := range []struct{ shape, env string }{
		{"polling", "REPLAY_BENCH_PCAP"}, {"mixed", "REPLAY_BENCH_MIXED_PCAP"},
	} {
		b.Run(tc.shape, func(b *testing.B) {
			path := replayBenchCapture(b, tc.env, tc.shape)
			var out, errOut bytes.Buffer
			if code := Main([]string{"replay", "--format", "json", path}, &out, &errOut); code != 0 {
				b.Fatalf("replay: exit %d: %s", code, errOut.String())
			}
			var sum struct{ Packets uint64 }
			if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.Packets == 0 {
				b.Fatalf("replay output: %v (%d packets)", err, sum.Packets)
			}
			b.ResetTimer()
			for b.Loop() {
				out.Reset()
				if code := Main([]string{"replay", path}, &out, &errOut); code != 0 {
					b.Fatalf("replay: exit %d: %s", code, errOut.String())
				}
			}
			b.ReportMetric(float64(sum.Packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}
