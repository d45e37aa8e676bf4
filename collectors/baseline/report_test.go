package baseline

import (
	"bytes"
	"encoding/json"
	"io"
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
		if err := rep.WriteTable(&buf, color); err != nil {
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
			for _, s := range []string{"<svg", "各星级得分", "各控制域通过率", "自评", "unofficial"} {
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
