// Command testsum reads the event stream of `go test -json` on stdin and
// prints, per package, how many tests passed, failed and were skipped, the
// reason of every skip and the output of every failure. It exits 1 when a
// test or a package failed, when a package did not build, or when a test
// skipped without saying why, so that a lane cannot go green by skipping
// silently.
//
//	GOOS=windows go test -json ./... | go run ./scripts/testsum
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of test2json output.
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// pkgSum is what one package did.
type pkgSum struct {
	pass, fail, skip int
	result           string // "ok", "FAIL", "no test files" or "" (no result seen)
	elapsed          float64
	out              []string // package-level output (build errors, panics)
}

// noise are stderr lines of the runner that are not test output (see
// ../shared/tools/wine-go/README.md).
var noise = []string{"wine: Read access denied for device"}

func main() {
	ok, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// summarize reads the events from r and writes the report to w; ok is false
// when anything failed or skipped without a reason.
func summarize(r io.Reader, w io.Writer) (ok bool, err error) {
	pkgs := map[string]*pkgSum{}
	testOut := map[string][]string{} // package + "\x00" + test → output lines
	type skipped struct{ pkg, test, why string }
	var skips []skipped
	var failures []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil || e.Action == "" {
			// Not an event: go's own messages (build errors go to stderr, but
			// a runner may mix them in). Keep them visible.
			if s := string(line); !isNoise(s) && strings.TrimSpace(s) != "" {
				fmt.Fprintln(w, s)
			}
			continue
		}
		p := pkgs[e.Package]
		if p == nil {
			p = &pkgSum{}
			pkgs[e.Package] = p
		}
		key := e.Package + "\x00" + e.Test
		switch e.Action {
		case "output":
			if isNoise(e.Output) {
				continue
			}
			if e.Test == "" {
				p.out = append(p.out, e.Output)
			} else {
				testOut[key] = append(testOut[key], e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				p.result = map[string]string{"pass": "ok", "fail": "FAIL", "skip": "no test files"}[e.Action]
				p.elapsed = e.Elapsed
				continue
			}
			switch e.Action {
			case "pass":
				p.pass++
			case "fail":
				p.fail++
				failures = append(failures, fmt.Sprintf("--- FAIL %s %s\n%s", short(e.Package), e.Test, strings.Join(testOut[key], "")))
			case "skip":
				p.skip++
				skips = append(skips, skipped{e.Package, e.Test, skipReason(testOut[key])})
			}
			delete(testOut, key)
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}

	ok = true
	for _, f := range failures {
		fmt.Fprint(w, f)
	}
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if p := pkgs[n]; p.result == "FAIL" && p.fail == 0 {
			// A build failure, a panic outside a test or a timeout.
			fmt.Fprintf(w, "--- FAIL %s (package)\n%s", short(n), strings.Join(p.out, ""))
		}
	}
	if len(skips) > 0 {
		fmt.Fprintln(w, "\nskipped tests and why:")
		for _, s := range skips {
			why := s.why
			if why == "" {
				why = "NO REASON GIVEN (a skip must say why)"
				ok = false
			}
			fmt.Fprintf(w, "  %s %s: %s\n", short(s.pkg), s.test, why)
		}
	}
	fmt.Fprintf(w, "\n%-52s %5s %5s %5s %9s  %s\n", "package", "pass", "fail", "skip", "time", "result")
	var tp, tf, ts int
	for _, n := range names {
		p := pkgs[n]
		res := p.result
		if res == "" {
			res = "NO RESULT"
		}
		if res != "ok" && res != "no test files" {
			ok = false
		}
		tp, tf, ts = tp+p.pass, tf+p.fail, ts+p.skip
		fmt.Fprintf(w, "%-52s %5d %5d %5d %9s  %s\n", short(n), p.pass, p.fail, p.skip,
			(time.Duration(p.elapsed * float64(time.Second))).Round(100*time.Millisecond), res)
	}
	fmt.Fprintf(w, "%-52s %5d %5d %5d\n", "total", tp, tf, ts)
	return ok && tf == 0, nil
}

// skipReason is a skipped test's own output without the runner's lines.
func skipReason(lines []string) string {
	var why []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		why = append(why, t)
	}
	return strings.Join(why, " / ")
}

func isNoise(s string) bool {
	for _, n := range noise {
		if strings.HasPrefix(s, n) {
			return true
		}
	}
	return false
}

// short trims the module path from a package path.
func short(pkg string) string {
	if i := strings.Index(pkg, "edgeward/edgeward/"); i >= 0 {
		return pkg[i+len("edgeward/edgeward/"):]
	}
	if strings.HasSuffix(pkg, "edgeward/edgeward") {
		return "."
	}
	return pkg
}
