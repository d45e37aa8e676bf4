package baseline

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// loginDefsCorpus returns login.defs and /etc/default/useradd texts with
// the forms shadow accepts and rejects: octal and hex numbers, quotes,
// "NAME = value", trailing comments, repeated and lowercase names, values
// out of range, and INACTIVE lines useradd reads or ignores.
func loginDefsCorpus(n int) [][2]string {
	r := rand.New(rand.NewSource(14))
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	val := func() string {
		return pick("90", "010", "0x5A", "= 90", "90 # days", `"60"`, `"7`, "\t45", "90 ", "-1", "99999999999", "abc", "+30", "0", "7", "99999", "1e3", "0X1F")
	}
	var out [][2]string
	for i := 0; i < n; i++ {
		var l []string
		for _, k := range []string{"PASS_MAX_DAYS", "PASS_MIN_DAYS", "PASS_WARN_AGE"} {
			for j := 0; j < r.Intn(3); j++ {
				name := k
				if r.Intn(8) == 0 {
					name = strings.ToLower(k)
				}
				if r.Intn(10) == 0 {
					name = "#" + name
				}
				l = append(l, pick("", " ", "\t")+name+pick(" ", "\t", "  ")+val())
			}
		}
		l = append(l, "UID_MIN "+pick("1000", "2000", "0x7D0", "01750", "= 1500", "3000 # local"), "UID_MAX 60000", "GID_MIN 1000")
		r.Shuffle(len(l), func(a, b int) { l[a], l[b] = l[b], l[a] })
		var u []string
		for j := 0; j < r.Intn(3); j++ {
			u = append(u, pick("INACTIVE=35", "INACTIVE = 35", "INACTIVE=035", "INACTIVE=-1", "INACTIVE=abc", " INACTIVE=30", "INACTIVE=30 ", "INACTIVE=", "INACTIVE=0x1E", "#INACTIVE=10"))
		}
		out = append(out, [2]string{strings.Join(l, "\n") + "\n", strings.Join(u, "\n") + "\n"})
	}
	return out
}

// TestLoginDefsOracle creates a user with useradd --prefix on a minimal
// root per variant and compares the ageing fields of its shadow entry and
// its uid with what the parser reads from login.defs and
// /etc/default/useradd (useradd -D --prefix for INACTIVE).
func TestLoginDefsOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("oracle comparison runs useradd; skipped in -short mode")
	}
	useradd := needTool(t, "useradd")
	if os.Geteuid() != 0 {
		t.Skip("useradd --prefix needs root")
	}
	cases, disagree := 0, 0
	for i, v := range loginDefsCorpus(70) {
		root := filepath.Join(t.TempDir(), fmt.Sprint(i))
		files := map[string]string{
			"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/group": "root:x:0:\nusers:x:100:\n",
			"etc/shadow": "root:*:19000:0:99999:7:::\n", "etc/gshadow": "root:*::\nusers:*::\n",
			"etc/login.defs": v[0], "etc/default/useradd": v[1],
		}
		for p, c := range files {
			_ = os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
			if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if out, err := exec.Command(useradd, "--prefix", root, "-M", "oracleuser").CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v %s\n%s", err, out, v[0])
		}
		sh, _ := os.ReadFile(filepath.Join(root, "etc/shadow"))
		pw, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
		var sf, pf []string
		for _, l := range strings.Split(string(sh), "\n") {
			if strings.HasPrefix(l, "oracleuser:") {
				sf = strings.Split(l, ":")
			}
		}
		for _, l := range strings.Split(string(pw), "\n") {
			if strings.HasPrefix(l, "oracleuser:") {
				pf = strings.Split(l, ":")
			}
		}
		if len(sf) < 7 || len(pf) < 3 {
			t.Fatalf("no oracleuser entry:\n%s\n%s", sh, pw)
		}
		defs := parseLoginDefs([]byte(v[0]))
		field := func(n int) string {
			if n == -1 {
				return ""
			}
			return strconv.Itoa(n)
		}
		min, _ := getdefNum(defs, "PASS_MIN_DAYS", -1)
		max, _ := getdefNum(defs, "PASS_MAX_DAYS", -1)
		warn, _ := getdefNum(defs, "PASS_WARN_AGE", -1)
		uid, _ := getdefNum(defs, "UID_MIN", 1000)
		inact, _ := useraddInactive([]byte(v[1]))
		got := fmt.Sprintf("min=%s max=%s warn=%s inactive=%s uid=%s", sf[3], sf[4], sf[5], sf[6], pf[2])
		mine := fmt.Sprintf("min=%s max=%s warn=%s inactive=%s uid=%d", field(min), field(max), field(warn), field(inact), uid)
		cases++
		if got != mine {
			disagree++
			t.Errorf("variant %d: useradd wrote %s, parser reads %s\nlogin.defs:\n%s\ndefault/useradd:\n%s", i, got, mine, v[0], v[1])
		}
		dOut, err := exec.Command(useradd, "-D", "--prefix", root).Output()
		if err == nil {
			cases++
			if want := "INACTIVE=" + strconv.Itoa(inact); !strings.Contains(string(dOut), want+"\n") {
				disagree++
				t.Errorf("variant %d: useradd -D printed %q, parser reads %s\n%s", i, dOut, want, v[1])
			}
		}
	}
	t.Logf("login.defs / useradd oracle: %d cases, %d disagreements", cases, disagree)
}
