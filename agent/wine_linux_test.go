package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The TestWine* tests build the real edgeward.exe (GOOS=windows) and run it
// under Wine: the command line, `run` stopped with Ctrl-C, the Windows
// service life cycle, baseline verdicts driven by registry values seeded
// with `reg add`, and the Npcap loading paths. Each test works in its own
// copy of the Wine prefix that ../shared/tools/wine-go/setup.sh prepared
// (make test-windows runs it first), so registry edits and installed
// services never leak between tests. Without Wine or that prefix they skip,
// saying why.

const wine64 = "/usr/lib/wine/wine64"

// exeBuild holds edgeward.exe, built once per test binary run.
var exeBuild struct {
	sync.Once
	path string
	err  error
	out  []byte
}

// edgewardExe cross-builds edgeward.exe for windows/amd64.
func edgewardExe(t *testing.T) string {
	t.Helper()
	needGoTool(t)
	exeBuild.Do(func() {
		dir, err := os.MkdirTemp("", "edgeward-exe-")
		if err != nil {
			exeBuild.err = err
			return
		}
		exeBuild.path = filepath.Join(dir, "edgeward.exe")
		cmd := exec.Command("go", "build", "-ldflags", "-X github.com/edgeward/edgeward/agent.Version=wine-e2e",
			"-o", exeBuild.path, "./cmd/edgeward")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64")
		exeBuild.out, exeBuild.err = cmd.CombinedOutput()
	})
	if exeBuild.err != nil {
		t.Fatalf("build edgeward.exe: %v\n%s", exeBuild.err, exeBuild.out)
	}
	return exeBuild.path
}

// winePrefix is a throw-away copy of the prepared Wine prefix.
type winePrefix struct {
	t   *testing.T
	dir string
	env []string // extra environment of every Wine call
}

// newWinePrefix copies the prepared prefix ($WINEPREFIX, else
// ~/.wine-go) into a temp dir: drive_c hard-linked (Wine does not rewrite
// its files in place), the registry, users and ProgramData copied. The
// copy's wineserver is stopped when the test ends.
func newWinePrefix(t *testing.T) *winePrefix {
	t.Helper()
	if _, err := os.Stat(wine64); err != nil {
		t.Skipf("Wine not installed (%v): make test-windows installs and sets it up", err)
	}
	base := os.Getenv("WINEPREFIX")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".wine-go")
	}
	if _, err := os.Stat(filepath.Join(base, "drive_c", "windows", "system32", "bcryptprimitives.dll")); err != nil {
		t.Skipf("no Wine prefix prepared by ../shared/tools/wine-go/setup.sh at %s (%v): run make test-windows", base, err)
	}
	dir := filepath.Join(t.TempDir(), "prefix")
	steps := [][]string{
		{"mkdir", "-p", dir},
		{"cp", "-a", filepath.Join(base, ".update-timestamp"), filepath.Join(base, "system.reg"), filepath.Join(base, "user.reg"),
			filepath.Join(base, "userdef.reg"), filepath.Join(base, "dosdevices"), dir},
		{"cp", "-al", filepath.Join(base, "drive_c"), dir},
		{"rm", "-rf", filepath.Join(dir, "drive_c", "users"), filepath.Join(dir, "drive_c", "ProgramData")},
		{"cp", "-a", filepath.Join(base, "drive_c", "users"), filepath.Join(base, "drive_c", "ProgramData"), filepath.Join(dir, "drive_c")},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("copy the Wine prefix: %s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	p := &winePrefix{t: t, dir: dir}
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(filepath.Dir(wine64), "wineserver"), "-k")
		cmd.Env = p.environ()
		_ = cmd.Run()
	})
	return p
}

// environ is the environment of a Wine call in this prefix.
func (p *winePrefix) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "DISPLAY" && k != "WAYLAND_DISPLAY" && k != "WINEPREFIX" && k != "WINEDEBUG" {
			env = append(env, kv)
		}
	}
	return append(append(env, "WINEPREFIX="+p.dir, "WINEDEBUG=-all"), p.env...)
}

// command prepares `wine64 args...`.
func (p *winePrefix) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, wine64, args...)
	cmd.Env = p.environ()
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// run runs `wine64 args...` to completion and returns its stdout, its
// stderr without Wine's noise and the exit code.
func (p *winePrefix) run(args ...string) (stdout, stderr string, code int) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var o, e bytes.Buffer
	cmd := p.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		p.t.Fatalf("wine64 %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), dropWineNoise(e.String()), code
}

// mustRun is run that fails the test on a non-zero exit.
func (p *winePrefix) mustRun(args ...string) string {
	p.t.Helper()
	out, errOut, code := p.run(args...)
	if code != 0 {
		p.t.Fatalf("wine64 %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// dropWineNoise removes the lines Wine prints about itself.
func dropWineNoise(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "wine: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// keepAlive keeps the prefix "booted" until the test ends. Wine stops its
// services (and the wineserver) once no ordinary Wine process is left, and
// boots again, starting the auto-start services, at the next call; a real
// service manager runs all the time. A cmd.exe waiting on its input is that
// ordinary process.
func (p *winePrefix) keepAlive() {
	p.t.Helper()
	cmd := p.command(context.Background(), "cmd.exe")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start cmd.exe: %v", err)
	}
	p.t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
}

// file is the Linux path of a C:\ path inside the prefix.
func (p *winePrefix) file(winPath string) string {
	rel, ok := strings.CutPrefix(winPath, `C:\`)
	if !ok {
		p.t.Fatalf("not a C: path: %s", winPath)
	}
	return filepath.Join(p.dir, "drive_c", filepath.FromSlash(strings.ReplaceAll(rel, `\`, "/")))
}

// writeFile writes a file at a C:\ path of the prefix.
func (p *winePrefix) writeFile(winPath, body string) {
	p.t.Helper()
	f := p.file(winPath)
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// regAdd seeds one registry value with reg.exe.
func (p *winePrefix) regAdd(key, name, typ, data string) {
	p.t.Helper()
	p.mustRun("reg", "add", key, "/v", name, "/t", typ, "/d", data, "/f")
}

// winBufferStats runs `edgeward buffer stats --format json` and checks
// that it balances.
func winBufferStats(t *testing.T, p *winePrefix, exe string, args ...string) queueBody {
	t.Helper()
	out := p.mustRun(append([]string{exe, "buffer", "stats", "--format", "json"}, args...)...)
	return assertBalanced(t, []byte(out))
}

// TestWineCommands runs the one-shot commands of edgeward.exe: version,
// check-config (the default config under %ProgramData%, and a broken file
// whose path is printed as typed), scan as JSON and HTML.
func TestWineCommands(t *testing.T) {
	t.Parallel()
	exe := edgewardExe(t)
	p := newWinePrefix(t)

	out := p.mustRun(exe, "version")
	if !strings.Contains(out, "edgeward wine-e2e windows/amd64") {
		t.Errorf("version = %q, want edgeward wine-e2e windows/amd64", out)
	}

	// No -c: the default file %ProgramData%\edgeward\edgeward.yaml.
	p.writeFile(`C:\ProgramData\edgeward\edgeward.yaml`, "agent: {id: wine-ws, enterprise: acme, site: plant-1}\nuplink: {brokers: []}\n")
	out = p.mustRun(exe, "check-config")
	for _, want := range []string{"wine-ws", "acme", "ProgramData", "buffer.db"} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config with the default file: output lacks %q:\n%s", want, out)
		}
	}

	p.writeFile(`C:\cfg dir\bad.yaml`, "agent:\n  id: x\nuplink:\n  in_flight: 0\n")
	_, errOut, code := p.run(exe, "check-config", "-c", `C:\cfg dir\bad.yaml`)
	if code != 1 || !strings.Contains(errOut, `C:\cfg dir\bad.yaml:4`) || strings.Contains(errOut, `\\`) {
		t.Errorf("check-config of a broken file: exit %d, stderr %q: want exit 1 and the path as typed with its line (C:\\cfg dir\\bad.yaml:4), no doubled backslashes", code, errOut)
	}
	_, errOut, code = p.run(exe, "check-config", "-c", `C:\no such\edgeward.yaml`)
	if code != 1 || !strings.Contains(errOut, `C:\no such\edgeward.yaml`) || strings.Contains(errOut, `\\`) {
		t.Errorf("check-config of a missing file: exit %d, stderr %q: want the path as typed", code, errOut)
	}

	out = p.mustRun(exe, "scan", "--format", "json")
	var rep struct {
		OS      string `json:"os"`
		Results []struct {
			ID, State string
			Evidence  []string
		} `json:"results"`
		Score struct{ Level int } `json:"score"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("scan --format json is not JSON: %v\n%s", err, out)
	}
	if rep.OS != "windows" || len(rep.Results) < 46 {
		t.Errorf("scan: os %q, %d results; want windows and every Windows check (46 or more)", rep.OS, len(rep.Results))
	}
	states := map[string]int{}
	for _, r := range rep.Results {
		states[r.State]++
		if r.State == "ERROR" {
			t.Logf("ERROR under Wine: %s: %s", r.ID, strings.Join(r.Evidence, "; "))
		}
	}
	t.Logf("scan under Wine: %v", states)

	p.writeFile(`C:\reports\old.html`, "")
	p.mustRun(exe, "scan", "--format", "html", "-o", `C:\reports\baseline.html`)
	html, err := os.ReadFile(p.file(`C:\reports\baseline.html`))
	if err != nil {
		t.Fatalf("scan --format html wrote no report: %v", err)
	}
	if !bytes.Contains(html, []byte("<html")) || !bytes.Contains(html, []byte("WIN-USB-001")) {
		t.Errorf("HTML report lacks the document or the checks (%d bytes)", len(html))
	}
}

// TestWineRunCtrlC runs the agent without a broker, stops it with Ctrl-C
// (SIGINT, which Wine delivers as CTRL_C_EVENT) and checks the graceful
// stop: exit 0, records in the buffer, `buffer stats` balancing.
func TestWineRunCtrlC(t *testing.T) {
	t.Parallel()
	exe := edgewardExe(t)
	p := newWinePrefix(t)
	p.writeFile(`C:\ProgramData\edgeward\edgeward.yaml`, `agent: {id: wine-ws, enterprise: acme, site: plant-1}
uplink: {brokers: [], heartbeat: 1s}
collectors:
  host: {enabled: true, interval: 1h}
  baseline: {enabled: true, interval: 1h}
log: {level: debug}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var logs syncBuffer
	cmd := p.command(ctx, exe, "run")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Wait for the inventory, the baseline results and a heartbeat (the
	// collectors log each emit at debug level).
	for !strings.Contains(logs.String(), "host inventory emitted") || !strings.Contains(logs.String(), "baseline scan") {
		select {
		case err := <-done:
			t.Fatalf("agent exited early (%v); log:\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("no inventory or baseline scan logged; log:\n%s", logs.String())
		case <-time.After(time.Second):
		}
	}
	var st queueBody
	if out, _, code := p.run(exe, "buffer", "stats", "--format", "json"); code == 0 {
		_ = json.Unmarshal([]byte(out), &st) // from the running agent's snapshot
	}
	if st.Queued < 48 {
		t.Errorf("running agent's buffer stats: %+v, want >= 48 queued", st)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exited with %v after Ctrl-C; log:\n%s", err, logs.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("agent did not stop within 2 minutes of Ctrl-C; log:\n%s", logs.String())
	}
	for _, want := range []string{"edgeward starting", "stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("agent log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("agent log mentions a panic:\n%s", logs.String())
	}
	q := winBufferStats(t, p, exe)
	if q.Queued < 48 || q.Delivered != 0 {
		t.Errorf("after the stop: %+v, want >= 48 queued (inventory, 46+ baseline results, score, heartbeat), none delivered", q)
	}
	dump := p.mustRun(exe, "buffer", "dump", "--format", "json")
	for _, kind := range []string{`"host.inventory"`, `"baseline.result"`, `"baseline.score"`, `"agent.heartbeat"`} {
		if !strings.Contains(dump, kind) {
			t.Errorf("buffer dump lacks a %s record:\n%.3000s", kind, dump)
		}
	}
}

// TestWineService installs edgeward.exe as a Windows service and takes it
// through start, status, stop and uninstall, checking the service manager's
// and edgeward's view at each step, and that the service ran the agent
// (records buffered, log file written).
func TestWineService(t *testing.T) {
	t.Parallel()
	exe := edgewardExe(t)
	p := newWinePrefix(t)
	p.keepAlive()
	// The service runs the binary from inside the prefix, as an installer
	// would put it.
	p.writeFile(`C:\Program Files\edgeward\edgeward.exe`, "")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.file(`C:\Program Files\edgeward\edgeward.exe`), b, 0o755); err != nil {
		t.Fatal(err)
	}
	svcExe := `C:\Program Files\edgeward\edgeward.exe`
	p.writeFile(`C:\ProgramData\edgeward\edgeward.yaml`, `agent: {id: wine-svc, enterprise: acme, site: plant-1}
uplink: {brokers: [], heartbeat: 1s}
collectors:
  host: {enabled: true, interval: 1h}
  baseline: {enabled: false}
`)
	status := func() string {
		out, errOut, _ := p.run(svcExe, "service", "status")
		return strings.TrimSpace(out + errOut)
	}
	scQuery := func() string {
		out, _, _ := p.run("sc", "query", "edgeward")
		return out
	}
	waitStatus := func(want string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got := status()
			if got == "edgeward: "+want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("service status = %q, want %q; sc query:\n%s\nservice log:\n%s", got, "edgeward: "+want, scQuery(), serviceLog(p))
			}
			time.Sleep(time.Second)
		}
	}

	if got := status(); !strings.Contains(got, "not installed") {
		t.Errorf("status before install = %q, want not installed", got)
	}
	out := p.mustRun(svcExe, "service", "install")
	if !strings.Contains(out, "install done") {
		t.Errorf("service install printed %q", out)
	}
	img, _, _ := p.run("reg", "query", `HKLM\SYSTEM\CurrentControlSet\Services\edgeward`, "/v", "ImagePath")
	if !strings.Contains(img, `C:\Program Files\edgeward\edgeward.exe`) || !strings.Contains(img, " run") {
		t.Errorf("service ImagePath = %q, want the quoted program path and the run command", img)
	}
	waitStatus("stopped")
	if q := scQuery(); !strings.Contains(q, "STOPPED") {
		t.Errorf("sc query after install:\n%s\nwant STOPPED", q)
	}

	p.mustRun(svcExe, "service", "start")
	waitStatus("running")
	if q := scQuery(); !strings.Contains(q, "RUNNING") {
		t.Errorf("sc query after start:\n%s\nwant RUNNING", q)
	}
	// The service runs the agent: it buffers the inventory and heartbeats
	// (the statistics come from the snapshot the running agent writes).
	var st queueBody
	deadline := time.Now().Add(3 * time.Minute)
	for st.Queued < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the service buffered no records (stats %+v); service log:\n%s", st, serviceLog(p))
		}
		time.Sleep(time.Second)
		if out, _, code := p.run(svcExe, "buffer", "stats", "--format", "json"); code == 0 {
			_ = json.Unmarshal([]byte(out), &st)
		}
	}

	p.mustRun(svcExe, "service", "stop")
	waitStatus("stopped")
	q := winBufferStats(t, p, svcExe)
	if q.Queued < 2 {
		t.Errorf("after stop: %+v, want the service's records queued", q)
	}
	log := serviceLog(p)
	for _, want := range []string{"edgeward starting", "stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("service log lacks %q:\n%s", want, log)
		}
	}

	p.mustRun(svcExe, "service", "uninstall")
	if got := status(); !strings.Contains(got, "not installed") {
		t.Errorf("status after uninstall = %q, want not installed", got)
	}
	if _, _, code := p.run("reg", "query", `HKLM\SYSTEM\CurrentControlSet\Services\edgeward`); code == 0 {
		t.Error("the service key is still in the registry after uninstall")
	}
}

// serviceLog returns the service's log file(s).
func serviceLog(p *winePrefix) string {
	files, _ := filepath.Glob(p.file(`C:\ProgramData\edgeward\log\edgeward.log*`))
	var b strings.Builder
	for _, f := range files {
		body, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "== %s\n%s", filepath.Base(f), body)
	}
	return b.String()
}
