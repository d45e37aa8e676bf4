//go:build linux

package baseline

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// probeScript measures the rendered page and writes the result into the DOM
// (read back with --dump-dom): elements whose content is wider than their
// box or that reach past the viewport, the control-area labels as shown,
// and the CJK characters drawn as the missing-glyph box (compared on a
// canvas, in the page's font, with characters no font has).
const probeScript = `<script>
(async function () {
  const out = {overflow: [], missing: [], labels: [], checked: 0, docWidth: 0, viewWidth: 0};
  try {
    await document.fonts.ready;
    const de = document.documentElement;
    out.docWidth = de.scrollWidth;
    out.viewWidth = de.clientWidth;
    for (const el of document.body.querySelectorAll('*')) {
      if (getComputedStyle(el).display === 'inline' || el.clientWidth === 0) continue;
      const what = el.tagName + '.' + el.className + ' "' + el.textContent.slice(0, 50) + '"';
      if (el.scrollWidth > el.clientWidth + 1) out.overflow.push(what + ' content ' + el.scrollWidth + ' > box ' + el.clientWidth);
      if (el.getBoundingClientRect().right > de.clientWidth + 1) out.overflow.push(what + ' reaches past the viewport');
    }
    for (const th of document.querySelectorAll('table.areas tr:not(:first-child) > th:first-child')) out.labels.push(th.innerText);
    const fam = getComputedStyle(document.body).fontFamily;
    const cv = document.createElement('canvas');
    cv.width = cv.height = 48;
    const cx = cv.getContext('2d', {willReadFrequently: true});
    const draw = (ch) => {
      cx.clearRect(0, 0, 48, 48);
      cx.font = '32px ' + fam;
      cx.textBaseline = 'top';
      cx.fillText(ch, 4, 4);
      return cx.getImageData(0, 0, 48, 48).data.join(',');
    };
    const boxes = new Set([draw('\u0378'), draw('\u{10FFFD}')]);
    const seen = new Set();
    for (const ch of document.body.innerText) {
      if (ch.codePointAt(0) < 0x2E80 || seen.has(ch)) continue;
      seen.add(ch);
      if (boxes.has(draw(ch))) out.missing.push(ch);
    }
    out.checked = seen.size;
  } catch (e) {
    out.error = String(e);
  }
  const pre = document.createElement('pre');
  pre.id = 'probe-result';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
`

// probeResult is what probeScript reports.
type probeResult struct {
	Overflow  []string `json:"overflow"`
	Missing   []string `json:"missing"`
	Labels    []string `json:"labels"`
	Checked   int      `json:"checked"`
	DocWidth  int      `json:"docWidth"`
	ViewWidth int      `json:"viewWidth"`
	Error     string   `json:"error"`
}

// chromium finds a headless-capable Chromium, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chromium-headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not found (Debian: apt-get install chromium): the report's browser rendering test is skipped")
	return ""
}

// browserEnv returns an environment in which Chromium sees no CJK font: a
// fontconfig with only DejaVu (Latin), as on a machine without CJK fonts.
func browserEnv(t *testing.T, dir string) []string {
	t.Helper()
	fontDir := "/usr/share/fonts/truetype/dejavu"
	if _, err := os.Stat(fontDir); err != nil {
		fontDir = filepath.Join(dir, "nofonts")
		os.Mkdir(fontDir, 0o755)
	}
	conf := filepath.Join(dir, "fonts.conf")
	x := `<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig><dir>` + fontDir +
		`</dir><cachedir>` + filepath.Join(dir, "fccache") + `</cachedir></fontconfig>`
	if err := os.WriteFile(conf, []byte(x), 0o644); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "FONTCONFIG_FILE="+conf, "HOME="+dir)
}

// runChromium runs headless Chromium with args on file and returns stdout.
func runChromium(t *testing.T, bin string, env []string, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	argv := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--virtual-time-budget=10000"}, args...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

var probeRE = regexp.MustCompile(`(?s)<pre id="probe-result">(.*?)</pre>`)

// probe loads page (with probeScript added) at a window width and returns
// the measurements.
func probe(t *testing.T, bin string, env []string, dir, name, page string, width int) probeResult {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(strings.Replace(page, "</body>", probeScript+"</body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := runChromium(t, bin, env, dir, "--window-size="+strconv.Itoa(width)+",1000", "--dump-dom", "file://"+file)
	m := probeRE.FindSubmatch(dom)
	if m == nil {
		t.Fatalf("%s at %d px: no probe result in the DOM (%d bytes)", name, width, len(dom))
	}
	var res probeResult
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &res); err != nil {
		t.Fatalf("%s: probe result: %v", name, err)
	}
	if res.Error != "" {
		t.Fatalf("%s: probe script failed: %s", name, res.Error)
	}
	return res
}

var fontFaceRE = regexp.MustCompile(`@font-face\{[^}]*\}`)

// TestReportInBrowser renders the HTML report in headless Chromium on a
// machine without CJK fonts and checks what a reader sees: every CJK
// character drawn with a real glyph (none as the missing-glyph box), the
// control-area labels complete, nothing wider than its box or the window at
// 1280 and 800 px. A control page without the embedded font must show
// missing glyphs, which proves the check (and that no system CJK font hides
// a broken embedding). Screenshots of both go to $EDGEWARD_SCREENSHOT_DIR
// when set, and the header region must differ between them.
func TestReportInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium; skipped in -short mode")
	}
	bin := chromium(t)
	dir := t.TempDir()
	env := browserEnv(t, dir)
	for _, name := range []string{"debian-default", "debian-hardened", "broken"} {
		rep := scanFixture(t, name, nil)
		var buf bytes.Buffer
		if err := rep.WriteHTML(&buf); err != nil {
			t.Fatal(err)
		}
		page := buf.String()
		for _, width := range []int{1280, 800} {
			res := probe(t, bin, env, dir, name+".html", page, width)
			t.Logf("%s at %d px: %d CJK characters checked, page %d/%d px wide", name, width, res.Checked, res.DocWidth, res.ViewWidth)
			if res.Checked < 50 {
				t.Errorf("%s: only %d CJK characters on the page", name, res.Checked)
			}
			if len(res.Missing) > 0 {
				t.Errorf("%s at %d px: drawn as missing glyphs: %q", name, width, strings.Join(res.Missing, ""))
			}
			if res.DocWidth > res.ViewWidth {
				t.Errorf("%s at %d px: page is %d px wide in a %d px window", name, width, res.DocWidth, res.ViewWidth)
			}
			for _, o := range res.Overflow {
				t.Errorf("%s at %d px: overflow: %s", name, width, o)
			}
			var want []string
			for _, a := range rep.Score.Areas {
				want = append(want, a.TitleZH+" / "+a.TitleEN)
			}
			if strings.Join(res.Labels, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s at %d px: area labels shown %q, want %q", name, width, res.Labels, want)
			}
		}
		// The control: no embedded font, and a line that cannot wrap.
		control := fontFaceRE.ReplaceAllString(page, "")
		if control == page {
			t.Fatal("the page has no @font-face rule")
		}
		res := probe(t, bin, env, dir, name+"-nofont.html", strings.Replace(control, "</body>", `<p style="white-space:nowrap">`+strings.Repeat("overflow ", 300)+"</p></body>", 1), 1280)
		if len(res.Missing) == 0 {
			t.Fatalf("%s without the embedded font: no missing glyphs detected; a system CJK font is visible or the check is broken", name)
		}
		if len(res.Overflow) == 0 || res.DocWidth <= res.ViewWidth {
			t.Fatalf("%s control: a 2700-character unbreakable line was not detected as overflow", name)
		}

		// Screenshots with and without the font: the title (Chinese) differs.
		shot := func(file, out string) image.Image {
			runChromium(t, bin, env, dir, "--window-size=1280,1600", "--screenshot="+out, "file://"+file)
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("screenshot %s: %v", out, err)
			}
			return img
		}
		outDir := os.Getenv("EDGEWARD_SCREENSHOT_DIR")
		if outDir == "" {
			outDir = dir
		}
		withFont := shot(filepath.Join(dir, name+".html"), filepath.Join(outDir, name+".png"))
		noFont := shot(filepath.Join(dir, name+"-nofont.html"), filepath.Join(outDir, name+"-nofont.png"))
		if d := differingPixels(withFont, noFont, image.Rect(0, 0, 1280, 120)); d < 500 {
			t.Errorf("%s: the title region differs in %d pixels with and without the embedded font, want the CJK glyphs to change it", name, d)
		}
	}
}

// differingPixels counts the pixels of r that differ between a and b.
func differingPixels(a, b image.Image, r image.Rectangle) int {
	r = r.Intersect(a.Bounds()).Intersect(b.Bounds())
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				n++
			}
		}
	}
	return n
}
