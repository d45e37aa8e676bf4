package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
	t          *testing.T
	dir        string
	env        []string // extra environment of every Wine call
	lastStderr string   // the last call's whole stderr
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
	// One wineserver for the whole test: by default it exits a few seconds
	// after its last client, saving the registry on the way out, and a
	// call that starts meanwhile may get a new server that loaded the
	// registry before the save (a `reg add` lost, or refused with exit 1).
	wineserver := filepath.Join(filepath.Dir(wine64), "wineserver")
	start := exec.Command(wineserver, "-p")
	start.Env = p.environ() // no output pipes: the server it leaves running would hold them open
	if err := start.Run(); err != nil {
		t.Fatalf("start a persistent wineserver: %v", err)
	}
	t.Cleanup(func() {
		cmd := exec.Command(wineserver, "-k")
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
// stderr without Wine's noise and the exit code. The output goes through
// files, not pipes: Wine processes that a call starts (services.exe,
// winedevice.exe) inherit its handles and would hold a pipe open.
func (p *winePrefix) run(args ...string) (stdout, stderr string, code int) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o, e := p.outFile(), p.outFile()
	cmd := p.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = o, e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		p.t.Fatalf("wine64 %s: %v", strings.Join(args, " "), err)
	}
	p.lastStderr = readOut(e)
	return readOut(o), dropWineNoise(p.lastStderr), code
}

// outFile is a temp file for a command's output.
func (p *winePrefix) outFile() *os.File {
	p.t.Helper()
	f, err := os.CreateTemp(p.t.TempDir(), "out-")
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { f.Close() })
	return f
}

// readOut reads what was written to f so far.
func readOut(f *os.File) string {
	b, _ := os.ReadFile(f.Name())
	return string(b)
}

// mustRun is run that fails the test on a non-zero exit.
func (p *winePrefix) mustRun(args ...string) string {
	p.t.Helper()
	out, _, code := p.run(args...)
	if code != 0 {
		p.t.Fatalf("wine64 %s: exit %d\nstdout:\n%s\nstderr (Wine's own lines included):\n%s", strings.Join(args, " "), code, out, p.lastStderr)
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
	args := []string{"reg", "add", key, "/v", name, "/t", typ, "/d", data, "/f"}
	// Under load Wine's reg.exe has failed now and then with exit 1 and no
	// output (twice in about 15 CI runs): the value is what the test needs,
	// so a failed call is logged and tried again.
	for range 2 {
		out, _, code := p.run(args...)
		if code == 0 {
			return
		}
		p.t.Logf("wine64 %s: exit %d, tried again\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, p.lastStderr)
		time.Sleep(time.Second)
	}
	p.mustRun(args...)
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

// runAgent starts `edgeward.exe run` with the prefix's default config,
// waits until wait(log) holds, calls during (if any) while the agent runs,
// stops it with Ctrl-C (SIGINT, which Wine delivers as CTRL_C_EVENT),
// checks that it exits 0, and returns its log.
func (p *winePrefix) runAgent(t *testing.T, exe string, wait func(log string) bool, during func()) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	logs := p.outFile()
	cmd := p.command(ctx, exe, "run")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for !wait(readOut(logs)) {
		select {
		case err := <-done:
			t.Fatalf("agent exited early (%v); log:\n%s", err, readOut(logs))
		case <-ctx.Done():
			t.Fatalf("timed out waiting for the agent; log:\n%s", readOut(logs))
		case <-time.After(time.Second):
		}
	}
	if during != nil {
		during()
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exited with %v after Ctrl-C; log:\n%s", err, readOut(logs))
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("agent did not stop within 2 minutes of Ctrl-C; log:\n%s", readOut(logs))
	}
	return readOut(logs)
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
	// Wait for the inventory and the baseline results (the collectors log
	// each emit at debug level), and read the running agent's statistics.
	log := p.runAgent(t, exe, func(log string) bool {
		return strings.Contains(log, "host inventory emitted") && strings.Contains(log, "baseline scan")
	}, func() {
		var st queueBody
		if out, _, code := p.run(exe, "buffer", "stats", "--format", "json"); code == 0 {
			_ = json.Unmarshal([]byte(out), &st) // from the running agent's snapshot
		}
		if st.Queued < 48 {
			t.Errorf("running agent's buffer stats: %+v, want >= 48 queued", st)
		}
	})
	for _, want := range []string{"edgeward starting", "stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("agent log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "panic") {
		t.Errorf("agent log mentions a panic:\n%s", log)
	}
	q := winBufferStats(t, p, exe)
	if q.Queued < 48 || q.Delivered != 0 {
		t.Errorf("after the stop: %+v, want >= 48 queued (inventory, 46+ baseline results, score, heartbeat), none delivered", q)
	}
	dump := p.mustRun(exe, "buffer", "dump")
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
	// agent_id from C:\ProgramData\edgeward\edgeward.yaml: the service,
	// which runs without the installing user's environment, found the
	// default config.
	for _, want := range []string{"edgeward starting", "agent_id=wine-svc", "stopped"} {
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

// TestWineBaselineRegistry seeds registry values with reg.exe to drive
// chosen Windows checks to PASS and then to FAIL, and reads the verdicts
// from `edgeward scan --format json`: the probes read the real registry
// through the real Win32 API.
func TestWineBaselineRegistry(t *testing.T) {
	t.Parallel()
	exe := edgewardExe(t)
	p := newWinePrefix(t)
	p.keepAlive()
	const (
		explorerPol = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\Explorer`
		lsa         = `HKLM\SYSTEM\CurrentControlSet\Control\Lsa`
		curVer      = `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`
		winlogon    = `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon`
		polSystem   = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System`
	)
	type value struct{ key, name, typ, data string }
	scan := func() map[string]string {
		t.Helper()
		out := p.mustRun(exe, "scan", "--format", "json")
		var rep struct {
			Results []struct {
				ID, State string
				Evidence  []string
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("scan output is not JSON: %v", err)
		}
		got := map[string]string{}
		for _, r := range rep.Results {
			got[r.ID] = r.State + ": " + strings.Join(r.Evidence, "; ")
		}
		return got
	}
	for _, step := range []struct {
		want   string
		values []value
	}{
		{"PASS", []value{
			{`HKLM\SYSTEM\CurrentControlSet\Services\USBSTOR`, "Start", "REG_DWORD", "4"},
			{explorerPol, "NoAutorun", "REG_DWORD", "1"},
			{explorerPol, "NoDriveTypeAutoRun", "REG_DWORD", "255"},
			{`HKLM\SOFTWARE\Policies\Microsoft\Windows\Explorer`, "NoAutoplayfornonVolume", "REG_DWORD", "1"},
			{`HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services`, "fDenyTSConnections", "REG_DWORD", "1"},
			{lsa, "LMCompatibilityLevel", "REG_DWORD", "5"},
			{lsa, "NoLMHash", "REG_DWORD", "1"},
			{polSystem, "InactivityTimeoutSecs", "REG_DWORD", "600"},
			{curVer, "ProductName", "REG_SZ", "Windows 10 Enterprise LTSC 2019"},
			{curVer, "CurrentBuild", "REG_SZ", "17763"},
			{curVer, "EditionID", "REG_SZ", "EnterpriseS"},
			{curVer, "InstallationType", "REG_SZ", "Client"},
			{winlogon, "AutoAdminLogon", "REG_SZ", "0"},
		}},
		{"FAIL", []value{
			{`HKLM\SYSTEM\CurrentControlSet\Services\USBSTOR`, "Start", "REG_DWORD", "3"},
			{explorerPol, "NoAutorun", "REG_DWORD", "0"},
			{`HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services`, "fDenyTSConnections", "REG_DWORD", "0"},
			{lsa, "LMCompatibilityLevel", "REG_DWORD", "2"},
			{polSystem, "InactivityTimeoutSecs", "REG_DWORD", "3600"},
			{curVer, "ProductName", "REG_SZ", "Windows 8.1 Pro"},
			{curVer, "CurrentBuild", "REG_SZ", "9600"},
			{curVer, "EditionID", "REG_SZ", "Professional"},
			{winlogon, "AutoAdminLogon", "REG_SZ", "1"},
			{winlogon, "DefaultUserName", "REG_SZ", "operator"},
			{winlogon, "DefaultPassword", "REG_SZ", "plain"},
		}},
	} {
		for _, v := range step.values {
			p.regAdd(v.key, v.name, v.typ, v.data)
		}
		got := scan()
		for _, id := range []string{"WIN-USB-001", "WIN-USB-002", "WIN-RMT-001", "WIN-AUT-001", "WIN-LCK-001", "WIN-PAT-001", "WIN-ACC-007"} {
			if !strings.HasPrefix(got[id], step.want+":") {
				t.Errorf("%s with the %s values = %s", id, step.want, got[id])
			}
		}
	}
}

// TestWineWpcap: edgeward.exe never needs wpcap.dll to start, and a live
// capture loads it only when asked. With Wine's builtin wpcap.dll enabled
// (it wraps the host's libpcap and lacks functions gopacket's init insisted
// on) every command works and a capture on the loopback interface records
// the Modbus traffic it sees; with no wpcap.dll, or an incomplete one, the
// capture alone fails with a clear error while the rest of the agent runs.
func TestWineWpcap(t *testing.T) {
	t.Parallel()
	exe := edgewardExe(t)
	modbus := modbusLoopback(t)
	cfg := fmt.Sprintf(`agent: {id: wine-cap, enterprise: acme, site: plant-1}
uplink: {brokers: [], heartbeat: 1s}
collectors:
  host: {enabled: true, interval: 1h}
  baseline: {enabled: false}
  passive:
    enabled: true
    interfaces: [lo]
    ports: {modbus: [%d]}
    summary_interval: 1s
log: {level: debug}
`, modbus.port)

	run := func(t *testing.T, p *winePrefix, wait func(log string) bool) string {
		t.Helper()
		p.writeFile(`C:\ProgramData\edgeward\edgeward.yaml`, cfg)
		return p.runAgent(t, exe, wait, nil)
	}

	t.Run("builtin", func(t *testing.T) {
		t.Parallel()
		p := newWinePrefix(t)
		p.env = []string{"WINEDLLOVERRIDES=wpcap=b"}
		if out := p.mustRun(exe, "version"); !strings.Contains(out, "windows/amd64") {
			t.Fatalf("version with Wine's wpcap.dll = %q", out)
		}
		log := run(t, p, func(log string) bool {
			return strings.Contains(log, "collector stopped") || (strings.Contains(log, "host inventory emitted") && modbus.exchanges() >= 3)
		})
		if strings.Contains(log, "collector stopped") {
			if strings.Contains(log, "ermission") {
				t.Skipf("capture on lo needs root under Wine: %s", log)
			}
			t.Fatalf("live capture through Wine's wpcap.dll failed; log:\n%s", log)
		}
		dump := p.mustRun(exe, "buffer", "dump")
		for _, want := range []string{`"net.flow"`, `"modbus"`, fmt.Sprintf(":%d", modbus.port)} {
			if !strings.Contains(dump, want) {
				t.Errorf("buffer dump lacks %s after capturing Modbus on lo; log:\n%s", want, log)
			}
		}
		winBufferStats(t, p, exe)
	})

	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		p := newWinePrefix(t) // setup.sh disables the builtin wpcap.dll
		log := run(t, p, func(log string) bool {
			return strings.Contains(log, "collector stopped") && strings.Contains(log, "host inventory emitted")
		})
		if !strings.Contains(log, "Npcap is not installed") || !strings.Contains(log, "https://npcap.com/") {
			t.Errorf("capture without wpcap.dll: log does not say Npcap is missing and where to get it:\n%s", log)
		}
	})

	t.Run("incomplete", func(t *testing.T) {
		t.Parallel()
		cc, err := exec.LookPath("x86_64-w64-mingw32-gcc")
		if err != nil {
			t.Skipf("building a stand-in for an old wpcap.dll needs gcc-mingw-w64-x86-64: %v", err)
		}
		p := newWinePrefix(t)
		p.env = []string{"WINEDLLOVERRIDES=wpcap=n"} // the prefix disables every wpcap.dll otherwise
		src := filepath.Join(t.TempDir(), "wpcap.c")
		// WinPcap 3.x had neither pcap_create nor pcap_activate.
		code := `const char *pcap_lib_version(void) { return "WinPcap version 3.1 (stand-in)"; }
void *pcap_open_live(const char *d, int s, int p, int t, char *e) { return 0; }
`
		if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		dll := p.file(`C:\windows\system32\Npcap\wpcap.dll`)
		if err := os.MkdirAll(filepath.Dir(dll), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(cc, "-shared", "-o", dll, src).CombinedOutput(); err != nil {
			t.Fatalf("build the stand-in wpcap.dll: %v\n%s", err, out)
		}
		log := run(t, p, func(log string) bool {
			return strings.Contains(log, "collector stopped") && strings.Contains(log, "host inventory emitted")
		})
		for _, want := range []string{"WinPcap version 3.1", "too old or incomplete", "pcap_create", "https://npcap.com/"} {
			if !strings.Contains(log, want) {
				t.Errorf("capture with an old wpcap.dll: log lacks %q:\n%s", want, log)
			}
		}
	})
}

// modbusServer answers Modbus read requests on a loopback port while a
// client keeps sending them, so that a capture on lo sees traffic.
type modbusServer struct {
	port int
	mu   sync.Mutex
	n    int
}

func (m *modbusServer) exchanges() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// modbusLoopback starts the server and a client that sends a request
// every 200 ms until the test ends.
func modbusLoopback(t *testing.T) *modbusServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &modbusServer{port: ln.Addr().(*net.TCPAddr).Port}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req := make([]byte, 12)
				for {
					if _, err := io.ReadFull(c, req); err != nil {
						return
					}
					// Same transaction id, unit 1, FC 3, two registers.
					resp := append(append([]byte{}, req[:2]...), 0, 0, 0, 7, 1, 3, 4, 0, 10, 0, 11)
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	go func() {
		for ctx.Err() == nil {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return
			}
			resp := make([]byte, 13)
			for id := uint16(1); ctx.Err() == nil; id++ {
				req := []byte{byte(id >> 8), byte(id), 0, 0, 0, 6, 1, 3, 0, 0, 0, 2}
				if _, err := c.Write(req); err != nil {
					break
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					break
				}
				m.mu.Lock()
				m.n++
				m.mu.Unlock()
				time.Sleep(200 * time.Millisecond)
			}
			c.Close()
		}
	}()
	return m
}
