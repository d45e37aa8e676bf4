package baseline

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostEnv returns an env on the real "/" for oracle tests, which write
// their corpus under absolute temporary paths that the real tools read too.
func hostEnv() *env {
	return &env{ctx: context.Background(), root: fsRoot{dir: "/"}, memo: map[string]any{}, memErr: map[string]error{}, now: time.Now()}
}

// needTool skips the test when a program is missing, saying so.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, d := range []string{"/usr/sbin", "/sbin"} {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				return filepath.Join(d, name)
			}
		}
		t.Skipf("oracle %s not installed (Debian package in .ci/run); skipping the comparison", name)
	}
	return p
}

// oracleKeys are the keywords compared with sshd -T.
func oracleKeys() []string {
	return []string{"permitrootlogin", "passwordauthentication", "permitemptypasswords", "maxauthtries", "clientaliveinterval",
		"clientalivecountmax", "x11forwarding", "allowtcpforwarding", "allowagentforwarding", "allowstreamlocalforwarding",
		"permittunnel", "gatewayports", "disableforwarding", "kbdinteractiveauthentication", "usepam", "authenticationmethods",
		"allowusers", "allowgroups", "logingracetime", "maxsessions"}
}

// sshdCorpus generates sshd_config variants: keyword and value case,
// "=" forms, quotes, trailing comments, Include globs (also inside Match),
// Match blocks of every criterion with negation and wildcards, first-value
// and accumulating keywords, and invalid lines sshd rejects.
func sshdCorpus(dir string, n int) [][]string {
	r := rand.New(rand.NewSource(10))
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	casing := func(s string) string {
		switch r.Intn(4) {
		case 0:
			return strings.ToUpper(s)
		case 1:
			return strings.ToLower(s)
		case 2:
			return strings.ToUpper(s[:1]) + s[1:]
		}
		return s
	}
	kvs := [][2][]string{
		{{"PermitRootLogin"}, {"yes", "no", "prohibit-password", "without-password", "forced-commands-only"}},
		{{"PasswordAuthentication"}, {"yes", "no"}},
		{{"PermitEmptyPasswords"}, {"yes", "no"}},
		{{"MaxAuthTries"}, {"3", "4", "6", "010"}},
		{{"ClientAliveInterval"}, {"0", "300", "5m", "1h", "90s", "2M30s"}},
		{{"ClientAliveCountMax"}, {"0", "2", "3"}},
		{{"X11Forwarding"}, {"yes", "no"}},
		{{"AllowTcpForwarding"}, {"yes", "no", "local", "remote", "all"}},
		{{"AllowAgentForwarding"}, {"yes", "no"}},
		{{"AllowStreamLocalForwarding"}, {"yes", "no", "local", "all"}},
		{{"PermitTunnel"}, {"yes", "no", "point-to-point", "ethernet"}},
		{{"GatewayPorts"}, {"yes", "no", "clientspecified"}},
		{{"DisableForwarding"}, {"yes", "no"}},
		{{"KbdInteractiveAuthentication", "ChallengeResponseAuthentication"}, {"yes", "no"}},
		{{"AuthenticationMethods"}, {"publickey,password", "publickey", "any", "publickey,keyboard-interactive password"}},
		{{"AllowUsers"}, {"root", "alice bob", "ops@10.0.0.0/8", "*"}},
		{{"AllowGroups"}, {"root", "sshusers", "wheel adm"}},
		{{"MaxSessions"}, {"2", "10"}},
	}
	global := [][2][]string{{{"UsePAM"}, {"yes", "no"}}, {{"LoginGraceTime"}, {"30", "2m", "60"}}}
	line := func(set [][2][]string, bad bool) string {
		kv := set[r.Intn(len(set))]
		k := casing(kv[0][r.Intn(len(kv[0]))])
		v := kv[1][r.Intn(len(kv[1]))]
		if k == strings.ToUpper(k) || r.Intn(3) == 0 {
			v = casing(v)
		}
		if bad {
			return k + " maybe"
		}
		if r.Intn(6) == 0 && !strings.Contains(v, " ") {
			v = `"` + v + `"`
		}
		sep := pick(" ", "\t", "=", " = ", "  ")
		l := k + sep + v
		if r.Intn(5) == 0 {
			l += " # trailing comment"
		}
		if r.Intn(6) == 0 {
			l = "  " + l
		}
		return l
	}
	match := func() string {
		crit := []string{
			"all", "User root", "User alice", "User !root,*", "User ro*", "Group root", "Group wheel,root",
			"Address 10.0.0.0/8", "Address 192.0.2.0/24,!192.0.2.7", "Address 10.1.*", "Address !10.0.0.0/8",
			"LocalPort 22", "LocalPort 2222", "Host *.plant.local", "LocalAddress 192.0.2.10",
			"User root Address 10.0.0.0/8", "Group root LocalPort 22", "USER root", "address 10.0.0.0/8",
		}
		return "Match " + pick(crit...)
	}
	var out [][]string
	for i := 0; i < n; i++ {
		d := filepath.Join(dir, fmt.Sprintf("v%03d", i))
		confd := filepath.Join(d, "conf.d")
		_ = os.MkdirAll(confd, 0o755)
		var main []string
		invalid := r.Intn(12) == 0
		badAt := r.Intn(6)
		if r.Intn(2) == 0 {
			main = append(main, "Include "+filepath.Join(confd, "*.conf"))
		}
		for j := 0; j < 3+r.Intn(5); j++ {
			main = append(main, line(append(kvs, global...), invalid && j == badAt))
			if r.Intn(5) == 0 {
				main = append(main, "# a comment", "")
			}
		}
		for m := 0; m < r.Intn(4); m++ {
			main = append(main, match())
			for j := 0; j < 1+r.Intn(3); j++ {
				main = append(main, "    "+line(kvs, false))
			}
			if r.Intn(5) == 0 {
				main = append(main, "    Include "+filepath.Join(confd, "m*.conf"))
			}
		}
		if invalid && r.Intn(2) == 0 {
			main = append(main, pick("Match User bob", "Match Address 10.0.0.1/8", "Match Frobnicate x"), pick("  Port 2222", "  LoginGraceTime 10", "  X11Forwarding yes"))
		}
		_ = os.WriteFile(filepath.Join(d, "sshd_config"), []byte(strings.Join(main, "\n")+"\n"), 0o644)
		for f := 0; f < r.Intn(4); f++ {
			var inc []string
			for j := 0; j < 1+r.Intn(3); j++ {
				inc = append(inc, line(kvs, false))
			}
			if r.Intn(3) == 0 {
				inc = append(inc, match(), "  "+line(kvs, false))
			}
			name := fmt.Sprintf("%s%02d-x.conf", pick("", "m", "."), f)
			_ = os.WriteFile(filepath.Join(confd, name), []byte(strings.Join(inc, "\n")+"\n"), 0o644)
		}
		out = append(out, []string{filepath.Join(d, "sshd_config")})
	}
	return out
}

// sshdT runs sshd -T for a connection and returns keyword → value (list
// keywords joined by spaces), or ok false when sshd rejects the config.
func sshdT(t *testing.T, sshd, conf, hostKey string, ci *sshdConn) (map[string]string, bool, string) {
	args := []string{"-T", "-f", conf, "-h", hostKey}
	if ci != nil {
		args = append(args, "-C", ci.String())
	}
	var stderr bytes.Buffer
	cmd := exec.Command(sshd, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, false, stderr.String()
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		if _, seen := m[k]; seen && (k == "allowusers" || k == "allowgroups") {
			m[k] += " " + v
			continue
		}
		m[k] = v
	}
	return m, true, ""
}

// TestSSHDOracle compares the parser's effective values with `sshd -T -f
// FILE -C connection` on a generated corpus: validity, and every compared
// keyword for several connections per variant, must agree.
func TestSSHDOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("oracle comparison runs sshd; skipped in -short mode")
	}
	sshd := needTool(t, "sshd")
	keygen := needTool(t, "ssh-keygen")
	if os.Geteuid() == 0 {
		_ = os.MkdirAll("/run/sshd", 0o755) // sshd -T needs its privilege-separation directory
	} else if _, err := os.Stat("/run/sshd"); err != nil {
		t.Skip("sshd -T needs /run/sshd, which only root can create here")
	}
	dir := t.TempDir()
	hk := filepath.Join(dir, "hostkey")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", hk).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	corpus := sshdCorpus(dir, 130)
	type result struct {
		cases, disagree, invalid int
		errs                     []string
	}
	check := func(conf string) result {
		var res result
		e := hostEnv()
		cfg, err := loadSSHD(sshdSource{read: e.readAbs, glob: absGlob(e.root)}, conf)
		if err != nil {
			return result{errs: []string{err.Error()}}
		}
		cfg.groups = e.userGroups
		var stderr bytes.Buffer
		cmd := exec.Command(sshd, "-t", "-f", conf, "-h", hk)
		cmd.Stderr = &stderr
		sshdOK, msg := cmd.Run() == nil, stderr.String()
		res.cases++
		b, _ := os.ReadFile(conf)
		if sshdOK != (cfg.Err == "") {
			res.disagree++
			res.errs = append(res.errs, fmt.Sprintf("%s: sshd -t valid=%t (%s), parser error %q\n%s", conf, sshdOK, strings.TrimSpace(msg), cfg.Err, b))
			return res
		}
		if !sshdOK {
			res.invalid++
			return res
		}
		conns := cfg.sshdConns([]string{"root", "alice"})
		rand.New(rand.NewSource(int64(len(conf)))).Shuffle(len(conns), func(i, j int) { conns[i], conns[j] = conns[j], conns[i] })
		if len(conns) > 3 {
			conns = conns[:3]
		}
		for _, ci := range conns {
			got, ok, msg := sshdT(t, sshd, conf, hk, &ci)
			if !ok {
				res.errs = append(res.errs, fmt.Sprintf("%s -C %s: sshd -T failed: %s", conf, ci, msg))
				continue
			}
			res.cases++
			for _, k := range oracleKeys() {
				want := got[k]
				mine, _ := cfg.value(ci, k)
				if mine != want {
					res.disagree++
					res.errs = append(res.errs, fmt.Sprintf("%s -C %s: %s: sshd -T %q, parser %q\n%s", conf, ci, k, want, mine, b))
				}
			}
		}
		return res
	}
	results := make([]result, len(corpus))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = check(corpus[i][0])
			}
		}()
	}
	for i := range corpus {
		next <- i
	}
	close(next)
	wg.Wait()
	cases, disagree, invalid := 0, 0, 0
	for _, r := range results {
		cases += r.cases
		disagree += r.disagree
		invalid += r.invalid
		for _, e := range r.errs {
			t.Error(e)
		}
	}
	t.Logf("sshd oracle: %d variants (%d rejected by sshd), %d cases (config validity + connections), %d disagreements", len(corpus), invalid, cases, disagree)
	if len(corpus) < 100 {
		t.Errorf("corpus of %d variants, want ≥ 100", len(corpus))
	}
}
