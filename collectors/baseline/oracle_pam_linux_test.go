package baseline

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pamHarness is a small C program that runs one PAM management group of a
// service from a configuration directory (pam_start_confdir, libpam ≥ 1.4)
// and prints every message the modules send. With pam_echo.so lines it
// shows which lines libpam runs and with which arguments. It declares the
// few PAM types itself, so only the runtime library is needed.
const pamHarness = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct pam_message { int msg_style; const char *msg; };
struct pam_response { char *resp; int resp_retcode; };
struct pam_conv { int (*conv)(int, const struct pam_message **, struct pam_response **, void *); void *appdata_ptr; };
typedef struct pam_handle pam_handle_t;
int pam_start_confdir(const char *, const char *, const struct pam_conv *, const char *, pam_handle_t **);
int pam_authenticate(pam_handle_t *, int);
int pam_end(pam_handle_t *, int);
static int conv(int n, const struct pam_message **m, struct pam_response **r, void *a) {
	*r = calloc(n, sizeof(struct pam_response));
	for (int i = 0; i < n; i++) printf("MSG %s\n", m[i]->msg);
	return 0;
}
int main(int argc, char **argv) {
	struct pam_conv c = { conv, NULL };
	pam_handle_t *h;
	if (pam_start_confdir(argv[2], "root", &c, argv[1], &h) != 0) { printf("ABORT\n"); return 0; }
	int rc = pam_authenticate(h, 0);
	pam_end(h, rc);
	return 0;
}
`

// buildPAMHarness compiles the harness or skips the test.
func buildPAMHarness(t *testing.T) string {
	t.Helper()
	cc := needTool(t, "gcc")
	libs, _ := filepath.Glob("/lib/*/libpam.so.0")
	l2, _ := filepath.Glob("/usr/lib/*/libpam.so.0")
	libs = append(libs, l2...)
	echo, _ := filepath.Glob("/lib/*/security/pam_echo.so")
	e2, _ := filepath.Glob("/usr/lib/*/security/pam_echo.so")
	if len(libs) == 0 || len(echo)+len(e2) == 0 {
		t.Skip("libpam0g / libpam-modules (pam_echo.so) not installed; skipping the libpam comparison")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "harness.c")
	bin := filepath.Join(dir, "harness")
	if err := os.WriteFile(src, []byte(pamHarness), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-o", bin, src, libs[0]).CombinedOutput(); err != nil {
		t.Skipf("cannot build the libpam harness: %v %s", err, out)
	}
	return bin
}

// pamCorpus writes PAM service variants into dir: continuations (with
// blank and comment lines in between, trailing blanks, indentation), '#'
// inside a line, type/control case, silent '-' types, bracketed controls and
// arguments with escapes, include/substack/@include of absolute files,
// lines libpam drops (unknown type, no module) and other management groups.
func pamCorpus(dir string, n int) []string {
	r := rand.New(rand.NewSource(11))
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	marker := 0
	echo := func(typ string) string {
		marker++
		args := []string{fmt.Sprintf("M%d", marker)}
		for j := 0; j < r.Intn(3); j++ {
			args = append(args, pick("nullok", "try_first_pass", "[a b]", "[x \\] y]", "minlen=12", "k=v"))
		}
		ctl := pick("optional", "required", "OPTIONAL", "Required", "[success=ok default=ignore]", "[default=ignore]", "[ success=ok  new_authtok_reqd=ok default=ignore ]")
		l := pick(typ, strings.ToUpper(typ), "-"+typ, strings.ToUpper(typ[:1])+typ[1:]) + pick(" ", "\t", "  ") + ctl + " pam_echo.so " + strings.Join(args, " ")
		switch r.Intn(8) {
		case 0: // continuation before the arguments
			l = strings.Replace(l, " pam_echo.so ", " pam_echo.so \\\n"+pick("", "   ", "\t")+pick("", "# note\n", "\n", "  \n")+pick("", "  "), 1)
		case 1: // continuation with trailing blanks after the backslash
			l = strings.Replace(l, "pam_echo.so", "pam_echo.so \\  \n ", 1)
		case 2: // a comment ends the line even before a backslash
			l += pick(" # comment", " #comment \\", "#x")
		}
		return l
	}
	var out []string
	for i := 0; i < n; i++ {
		d := filepath.Join(dir, fmt.Sprintf("p%03d", i))
		_ = os.MkdirAll(d, 0o755)
		inc := filepath.Join(d, "inc")
		var incl []string
		for j := 0; j < 1+r.Intn(3); j++ {
			incl = append(incl, echo(pick("auth", "auth", "account", "session")))
		}
		_ = os.WriteFile(inc, []byte(strings.Join(incl, "\n")+"\n"), 0o644)
		var svc []string
		for j := 0; j < 3+r.Intn(6); j++ {
			switch r.Intn(10) {
			case 0:
				svc = append(svc, pick("auth", "AUTH", "-auth")+" "+pick("include", "substack", "Include", "SUBSTACK")+" "+inc)
			case 1:
				svc = append(svc, pick("@include", "@INCLUDE")+" "+inc)
			case 2:
				svc = append(svc, pick("bogus optional pam_echo.so DROPPED", "auth required", "# auth optional pam_echo.so COMMENTED", "", "   # indented comment"))
			case 3:
				svc = append(svc, echo(pick("account", "session", "password")))
			default:
				svc = append(svc, echo("auth"))
			}
		}
		if r.Intn(15) == 0 {
			svc = append(svc, "auth optional pam_echo.so END \\") // continued at EOF: libpam aborts
		}
		name := "svc"
		_ = os.WriteFile(filepath.Join(d, name), []byte(strings.Join(svc, "\n")+"\n"), 0o644)
		out = append(out, d)
	}
	return out
}

// TestPAMOracle compares the parser's auth stack (pam_echo lines and their
// arguments, in order) with what libpam runs for the same file.
func TestPAMOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("oracle comparison builds a libpam harness; skipped in -short mode")
	}
	h := buildPAMHarness(t)
	corpus := pamCorpus(t.TempDir(), 70)
	cases, disagree, lines, aborted := 0, 0, 0, 0
	for _, d := range corpus {
		out, err := exec.Command(h, d, "svc").Output()
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		var got []string
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if m, ok := strings.CutPrefix(sc.Text(), "MSG "); ok {
				got = append(got, m)
			} else if sc.Text() == "ABORT" {
				got = []string{"ABORT"}
			}
		}
		var mine []string
		st, err := pamExpand(hostEnv().readAbs, filepath.Join(d, "svc"), "", 0)
		if err != nil {
			mine = []string{"ABORT"}
		}
		for _, l := range filterPAM(st, "auth") {
			if strings.HasSuffix(l.Module, "pam_echo.so") {
				mine = append(mine, strings.Join(l.Args, " "))
			}
		}
		cases++
		lines += len(got)
		if len(got) == 1 && got[0] == "ABORT" {
			aborted++
		}
		if strings.Join(got, "\n") != strings.Join(mine, "\n") {
			disagree++
			b, _ := os.ReadFile(filepath.Join(d, "svc"))
			t.Errorf("%s: libpam ran %q, parser %q\n%s", d, got, mine, b)
		}
	}
	t.Logf("PAM oracle: %d services (%d that libpam refuses to load), %d module runs compared, %d disagreements", cases, aborted, lines, disagree)
	if lines < 3*cases {
		t.Errorf("only %d module runs seen: the harness does not run the stacks", lines)
	}
}
