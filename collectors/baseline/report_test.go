package baseline

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestReportJSONFieldNames(t *testing.T) {
	t.Parallel()
	rep := scanFixture(t, "debian-default", nil)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"host", "os", "role", "root", "time", "duration_ms", "catalog_version", "score", "results", "unreadable", "self_declared", "notice"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report JSON lacks %q", k)
		}
	}
	res := m["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "title_zh", "title_en", "star", "severity", "state", "evidence", "remediation", "controls", "iec62443_sr"} {
		if _, ok := res[k]; !ok {
			t.Errorf("result JSON lacks %q", k)
		}
	}
	sc := m["score"].(map[string]any)
	for _, k := range []string{"level", "weighted_score", "levels", "areas", "counts"} {
		if _, ok := sc[k]; !ok {
			t.Errorf("score JSON lacks %q", k)
		}
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	rep := scanFixture(t, "debian-default", nil)
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		if err := rep.WriteTable(&buf, color, 0); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, "\x1b[") != color {
			t.Errorf("color=%t: ANSI escapes present=%t", color, !color)
		}
		// Failed checks come before passed ones, with both titles.
		iFail := strings.Index(out, "LNX-SSH-001")
		iPass := strings.Index(out, "LNX-ACC-005")
		if iFail < 0 || iPass < 0 || iFail > iPass {
			t.Errorf("failed LNX-SSH-001 (at %d) should precede passed LNX-ACC-005 (at %d)", iFail, iPass)
		}
		for _, s := range []string{"禁止root远程登录", "No direct root login over SSH", "PermitRootLogin no", "自评"} {
			if !strings.Contains(out, s) {
				t.Errorf("table lacks %q", s)
			}
		}
	}
}

// checkHTML tokenizes a page and checks that non-void elements are balanced
// and that it references no external resource.
func checkHTML(t *testing.T, page string) string {
	t.Helper()
	void := map[string]bool{"meta": true, "br": true, "link": true, "img": true, "hr": true, "input": true}
	z := html.NewTokenizer(strings.NewReader(page))
	var stack []string
	var text strings.Builder
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatalf("tokenize: %v", z.Err())
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.TextToken:
			text.WriteString(tok.Data)
		case html.StartTagToken:
			for _, a := range tok.Attr {
				if (a.Key == "src" || a.Key == "href") && !strings.HasPrefix(a.Val, "#") {
					t.Errorf("external reference %s=%q", a.Key, a.Val)
				}
			}
			if tok.Data == "link" || tok.Data == "script" {
				t.Errorf("page uses <%s>", tok.Data)
			}
			if !void[tok.Data] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				t.Fatalf("unbalanced </%s>; open: %v", tok.Data, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements: %v", stack)
	}
	if _, err := html.Parse(strings.NewReader(page)); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return text.String()
}

func TestWriteHTML(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"debian-default", "debian-hardened", "broken"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rep := scanFixture(t, name, nil)
			var buf bytes.Buffer
			if err := rep.WriteHTML(&buf); err != nil {
				t.Fatal(err)
			}
			page := buf.String()
			text := checkHTML(t, page)
			for _, r := range rep.Results {
				if r.State == StateFail && !strings.Contains(page, `id="`+r.ID+`"`) {
					t.Errorf("page lacks failed check %s", r.ID)
				}
				if r.State == StateFail && !strings.Contains(text, r.Remediation) {
					t.Errorf("page lacks remediation of %s", r.ID)
				}
			}
			if len(page) >= 1<<20 {
				t.Errorf("page is %d bytes, want under 1 MB", len(page))
			}
			// Area labels complete; N/A, never 0%% (0/0), for an area
			// without applicable checks.
			for _, a := range rep.Score.Areas {
				label := a.TitleZH + " / " + a.TitleEN
				if !strings.Contains(text, label) {
					t.Errorf("page lacks the full area label %q", label)
				}
				if a.Total == 0 && !strings.Contains(text, label+"N/A") {
					t.Errorf("area %s without applicable checks is not shown as N/A", a.Area)
				}
			}
			if strings.Contains(text, "(0/0)") {
				t.Errorf("page shows a rate of 0/0")
			}
			for _, s := range []string{"各星级得分", "各控制域通过率", "自评", "unofficial", "@font-face", "severity-weighted"} {
				if !strings.Contains(page, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			// Open findings come before the passed section.
			if i, j := strings.Index(page, "待整改项"), strings.Index(page, "已通过"); i < 0 || j < i {
				t.Errorf("open findings section should come first")
			}
		})
	}
}

// TestWriteTableWraps: at every width no line is wider than the width (in
// terminal columns, CJK counting two), blockers are never split inside one
// entry at the default width, and the score is explained once, with no
// second metric (per-level pass rate) beside it.
func TestWriteTableWraps(t *testing.T) {
	t.Parallel()
	rep := scanFixture(t, "debian-default", nil)
	for _, width := range []int{40, 60, 80, 0, 160} {
		var buf bytes.Buffer
		if err := rep.WriteTable(&buf, width%80 == 0, width); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		limit := width
		if limit == 0 {
			limit = DefaultTableWidth
		}
		for i, l := range strings.Split(out, "\n") {
			if w := displayWidth(l); w > limit {
				t.Errorf("width %d: line %d is %d columns: %q", width, i+1, w, l)
			}
		}
		if n := strings.Count(out, "severity-weighted"); n != 1 {
			t.Errorf("width %d: the score definition appears %d times, want once", width, n)
		}
		if strings.Contains(out, "pass at this level") {
			t.Errorf("width %d: a second metric (pass at this level) is shown", width)
		}
		if width != 0 {
			continue
		}
		for _, l := range rep.Score.Levels {
			for _, b := range l.Blockers {
				if !strings.Contains(out, b) {
					t.Errorf("blocker %q of %d★ is split or missing", b, l.Star)
				}
			}
		}
	}
}

// TestResultOrder: the checks that keep the host from its next level come
// first (gate failures first, then by severity), then the other open checks
// by star level, then EXEMPT, PASS, N/A; in the table and the HTML page alike.
func TestResultOrder(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"debian-default", "debian-hardened", "rhel-default", "broken"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rep := scanFixture(t, name, nil)
			next := rep.Score.NextLevel()
			blocking, open, rest := rep.resultGroups()
			if len(blocking)+len(open)+len(rest) != len(rep.Results) {
				t.Fatalf("groups hold %d results, want %d", len(blocking)+len(open)+len(rest), len(rep.Results))
			}
			gateDone := false
			for i, x := range blocking {
				if x.Star > next {
					t.Errorf("%s (%d★) is listed as blocking %d★", x.ID, x.Star, next)
				}
				g := len(gates(&x, x.scored(), next)) > 0
				if g && gateDone {
					t.Errorf("gate blocker %s comes after a non-gate check", x.ID)
				}
				gateDone = gateDone || !g
				if i > 0 && !g && blocking[i-1].Severity.Weight() < x.Severity.Weight() && len(gates(&blocking[i-1], blocking[i-1].scored(), next)) == 0 {
					t.Errorf("%s (%s) comes after %s (%s)", x.ID, x.Severity, blocking[i-1].ID, blocking[i-1].Severity)
				}
			}
			for i, x := range open {
				if x.State == StateFail && x.Star == next {
					t.Errorf("failing %s at the next level %d★ is not in the blocking group", x.ID, next)
				}
				if i > 0 && open[i-1].Star > x.Star {
					t.Errorf("open %s (%d★) after %s (%d★)", x.ID, x.Star, open[i-1].ID, open[i-1].Star)
				}
			}
			for i := 1; i < len(rest); i++ {
				if rest[i-1].State.rank() > rest[i].State.rank() {
					t.Errorf("%s %s after %s %s", rest[i].ID, rest[i].State, rest[i-1].ID, rest[i-1].State)
				}
			}
			order := append(append(append([]Result(nil), blocking...), open...), rest...)
			var tb, hb bytes.Buffer
			if err := rep.WriteTable(&tb, false, 0); err != nil {
				t.Fatal(err)
			}
			if err := rep.WriteHTML(&hb); err != nil {
				t.Fatal(err)
			}
			for _, out := range []struct{ kind, text, prefix string }{{"table", tb.String()[strings.Index(tb.String(), "\n== "):], " "}, {"html", hb.String(), `id="`}} {
				last := -1
				for _, x := range order {
					i := strings.Index(out.text, out.prefix+x.ID)
					if i < last {
						t.Errorf("%s: %s is out of order", out.kind, x.ID)
					}
					last = i
				}
			}
		})
	}
}

func TestWrapText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		text        string
		first, rest int
		want        []string
	}{
		{"aaa bbb ccc", 10, 10, []string{"aaa bbb", "ccc"}},
		{"abcdefghijklmnop", 10, 10, []string{"abcdefghij", "klmnop"}},
		{"中文字符很长的一句话", 10, 10, []string{"中文字符很", "长的一句话"}},
		{"禁用USB存储 / Block USB", 10, 12, []string{"禁用USB存", "储 / Block", "USB"}},
		{"aa bbbb\u00a0cccc", 10, 10, []string{"aa", "bbbb\u00a0cccc"}},
		{"", 10, 10, []string{""}},
	} {
		if got := wrapText(c.text, c.first, c.rest); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("wrapText(%q, %d, %d) = %q, want %q", c.text, c.first, c.rest, got, c.want)
		}
	}
}

// hostile is a payload that breaks out of an element, an attribute, the
// style element or a script when written unescaped.
const hostile = `</style></td><script>alert("x")</script><img src=x onerror='y'>&amp; "q"`

// fillStrings sets every settable string (and string slice, and slice of
// structs, and pointer to struct) reachable from v to hostile.
func fillStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(hostile)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillStrings(v.Field(i))
			}
		}
	case reflect.Pointer:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if !v.IsNil() {
			fillStrings(v.Elem())
		}
	case reflect.Slice:
		if v.Len() == 0 && v.CanSet() {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		for i := 0; i < v.Len(); i++ {
			fillStrings(v.Index(i))
		}
	}
}

// TestWriteHTMLEscapes feeds a hostile string through every string field of
// a report (host, titles, evidence, blockers, area names, self-declared
// answers, ...) and checks that the page has no element or attribute the
// report does not write itself, and that the string shows as text.
func TestWriteHTMLEscapes(t *testing.T) {
	t.Parallel()
	rep := scanFixture(t, "debian-default", nil)
	fillStrings(reflect.ValueOf(rep))
	for i := range rep.Score.Levels {
		rep.Score.Levels[i].Blockers = []string{"LNX-X " + hostile, hostile}
	}
	rep.Score.Areas = append(rep.Score.Areas, AreaScore{TitleZH: hostile, TitleEN: hostile})
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	text := checkHTML(t, page)
	if strings.Contains(page, hostile) || strings.Contains(page, "<script") || strings.Contains(page, "<img") {
		t.Errorf("the hostile string reached the page unescaped")
	}
	allowed := map[string]bool{"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true, "h1": true, "h2": true,
		"br": true, "small": true, "table": true, "tr": true, "th": true, "td": true, "p": true, "span": true, "strong": true,
		"ul": true, "li": true, "div": true, "i": true, "a": true}
	z := html.NewTokenizer(strings.NewReader(page))
	styles := 0
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		tok := z.Token()
		if tt == html.StartTagToken || tt == html.SelfClosingTagToken {
			if !allowed[tok.Data] {
				t.Errorf("unexpected element <%s>", tok.Data)
			}
			for _, a := range tok.Attr {
				switch a.Key {
				case "id", "class", "style", "href", "lang", "charset", "name", "content":
				default:
					t.Errorf("unexpected attribute %s=%q on <%s>", a.Key, a.Val, tok.Data)
				}
			}
		}
		if tt == html.EndTagToken && tok.Data == "style" {
			styles++
		}
	}
	if styles != 1 {
		t.Errorf("%d </style>, want 1", styles)
	}
	if n := strings.Count(text, hostile); n < 20 {
		t.Errorf("the hostile string shows %d times as text, want it in every field (at least 20)", n)
	}
}

// TestEmbeddedFontCoversReport: the embedded font has a glyph for every
// non-ASCII character the report prints (the catalog, the package's texts,
// and the pages of the fixtures), so the subset is not stale.
func TestEmbeddedFontCoversReport(t *testing.T) {
	t.Parallel()
	if !bytes.HasPrefix(cjkFont, []byte("wOFF")) {
		t.Fatalf("cjkfont.woff is not a WOFF file")
	}
	var sources []string
	files, _ := filepath.Glob("*.go")
	files = append(files, "catalog.json")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "cjkfont_runes.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, string(b))
	}
	for _, name := range []string{"debian-default", "broken"} {
		var buf bytes.Buffer
		if err := scanFixture(t, name, nil).WriteHTML(&buf); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, buf.String())
	}
	missing := map[rune]bool{}
	for _, s := range sources {
		for _, r := range s {
			if r >= 0xa0 && r != 0xfffd && !strings.ContainsRune(embeddedFontRunes, r) {
				missing[r] = true
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("the embedded font lacks %d characters the report uses (%q...): run go generate ./collectors/baseline", len(missing), string(sortedRunes(missing)))
	}
}

func sortedRunes(m map[rune]bool) []rune {
	out := make([]rune, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// TestBlocksLevel: a check blocks level n only when it counts in S_n: a
// failing critical check of a higher level does not block n, a
// NOT_CONFIGURED 1★ check does not block 1★ (it is outside C_1) but does
// block 2★.
func TestBlocksLevel(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    Result
		n    int
		want bool
	}{
		{Result{ID: "LNX-X-001", Star: 3, Severity: SeverityCritical, State: StateFail}, 1, false},
		{Result{ID: "LNX-X-001", Star: 3, Severity: SeverityCritical, State: StateFail}, 3, true},
		{Result{ID: "LNX-X-002", Star: 1, Severity: SeverityLow, State: StateNotConfigured}, 1, false},
		{Result{ID: "LNX-X-002", Star: 1, Severity: SeverityLow, State: StateNotConfigured}, 2, true},
		{Result{ID: "LNX-X-003", Star: 1, Severity: SeverityHigh, State: StateError, LastKnown: &LastKnown{State: StatePass}}, 2, false},
		{Result{ID: "LNX-PLT-001", Star: 3, Severity: SeverityMedium, State: StateExempt}, 3, true},
		{Result{ID: "LNX-X-004", Star: 2, Severity: SeverityMedium, State: StateExempt}, 2, false},
	} {
		if got := blocksLevel(&c.r, c.n); got != c.want {
			t.Errorf("blocksLevel(%s %d★ %s %s, %d) = %t, want %t", c.r.ID, c.r.Star, c.r.Severity, c.r.State, c.n, got, c.want)
		}
	}
}
