package agent

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStormRSS measures the peak resident set (getrusage) of
// `edgeward replay --format json` and of `edgeward run` (passive over the
// file, host and baseline on, no uplink, default limits.memory of 64 MiB)
// over a flow storm of 200,000 connections (pcapgen.Storm, written by
// stormgen; STORM_CONNS changes the number, STORM_PCAP reuses a capture),
// against the target of limits.memory + 16 MiB. run is stopped with
// SIGTERM once it logs that the file is replayed. Run it with
//
//	go test ./agent -run '^$' -bench BenchmarkStormRSS -benchtime 1x
func BenchmarkStormRSS(b *testing.B) {
	bin := edgewardBinary(b)
	dir := b.TempDir()
	pcap := os.Getenv("STORM_PCAP")
	if pcap == "" {
		pcap = filepath.Join(dir, "storm.pcap")
		conns := os.Getenv("STORM_CONNS")
		if conns == "" {
			conns = "200000"
		}
		out, err := exec.Command("go", "run", "../collectors/passive/internal/pcapgen/stormgen", "-conns", conns, "-o", pcap).CombinedOutput()
		if err != nil {
			b.Fatalf("stormgen: %v\n%s", err, out)
		}
	}
	cfg := filepath.Join(dir, "storm.yaml")
	yaml := "agent: {id: storm, enterprise: e, site: s}\n" +
		"buffer: {path: " + strconv.Quote(filepath.Join(dir, "buffer.db")) + ", max_bytes: 256MiB}\n" +
		"uplink: {brokers: []}\n" +
		"collectors:\n  passive:\n    enabled: true\n    files: [" + strconv.Quote(pcap) + "]\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	var replayKB, runKB int64
	for b.Loop() {
		mib, out, err := maxRSS(exec.Command(bin, "replay", "--format", "json", "-c", cfg, pcap))
		if err != nil {
			b.Fatalf("replay: %v\n%s", err, tail(out))
		}
		replayKB = max(replayKB, int64(mib*1024))
		os.Remove(filepath.Join(dir, "buffer.db"))
		runKB = max(runKB, runUntilReplayed(b, bin, cfg))
	}
	b.ReportMetric(float64(replayKB)/1024, "replay-peak-RSS-MiB")
	b.ReportMetric(float64(runKB)/1024, "run-peak-RSS-MiB")
	b.ReportMetric(64+16, "target-MiB")
}

// runUntilReplayed runs `edgeward run -c cfg` until it logs that its
// capture file is replayed, stops it with SIGTERM and returns its peak
// resident set in KiB.
func runUntilReplayed(b *testing.B, bin, cfg string) int64 {
	cmd := exec.Command(bin, "run", "-c", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	peak := watchPeakRSS(cmd)
	replayed, drained := make(chan struct{}), make(chan struct{})
	var log strings.Builder // written by the reader until drained is closed
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if log.Len() < 1<<16 {
				log.WriteString(sc.Text() + "\n")
			}
			if strings.Contains(sc.Text(), "capture file replayed") {
				close(replayed)
				break
			}
		}
		for sc.Scan() { // keep draining
		}
	}()
	select {
	case <-replayed:
	case <-time.After(10 * time.Minute):
		cmd.Process.Kill()
		<-drained
		cmd.Wait()
		b.Fatalf("run did not replay the capture in 10 minutes:\n%s", log.String())
	}
	time.Sleep(2 * time.Second) // the records of the last cut are stored; the agent idles
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	<-drained
	if err := cmd.Wait(); err != nil {
		b.Fatalf("run: %v", err)
	}
	return peak()
}

// tail returns the end of out.
func tail(out []byte) []byte { return out[max(0, len(out)-2000):] }
