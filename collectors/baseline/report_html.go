package baseline

import (
	"bufio"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"strings"
)

//go:generate go run ./internal/fontsubset -font /usr/share/fonts/truetype/wqy/wqy-microhei.ttc

// cjkFont is a WOFF subset of WenQuanYi Micro Hei (Apache-2.0, Debian
// fonts-wqy-microhei) with the glyphs of every non-ASCII character the
// report prints (embeddedFontRunes), so that the page is readable on a
// machine without a CJK font. Regenerate with go generate after changing a
// Chinese text.
//
//go:embed cjkfont.woff
var cjkFont []byte

// levelName is the Chinese name of a star level (GB/T 41400-2022).
func levelName(n int) string {
	switch n {
	case 1:
		return "基础建设级"
	case 2:
		return "规范防护级"
	case 3:
		return "集成管控级"
	case 4:
		return "综合协同级"
	case 5:
		return "智能优化级"
	}
	return "未达到基础建设级"
}

// safeHTML is markup that page.printf writes as is.
type safeHTML string

// page writes HTML. printf escapes every argument except a safeHTML, so
// that no text from the host reaches the page unescaped.
type page struct {
	w *bufio.Writer
}

func (p page) raw(s string) { p.w.WriteString(s) }

// printf writes format with its arguments formatted by fmt: numbers as
// they are, safeHTML as it is, anything else as HTML-escaped text.
func (p page) printf(format string, args ...any) {
	for i, a := range args {
		switch a := a.(type) {
		case safeHTML:
			args[i] = string(a)
		case int, float64:
		default:
			args[i] = html.EscapeString(fmt.Sprint(a))
		}
	}
	fmt.Fprintf(p.w, format, args...)
}

// list returns items as an escaped <ul> of class cls.
func list(cls string, items []string) safeHTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<ul class="%s">`, html.EscapeString(cls))
	for _, s := range items {
		b.WriteString("<li>" + html.EscapeString(s) + "</li>")
	}
	b.WriteString("</ul>")
	return safeHTML(b.String())
}

// bar returns a horizontal bar of value v (0..1) with an optional
// threshold marker t (0 = none).
func bar(v, t float64, good bool) safeHTML {
	cls := "bad"
	if good {
		cls = "good"
	}
	s := fmt.Sprintf(`<div class="bar"><span class="%s" style="width:%.1f%%"></span>`, cls, 100*max(0, min(v, 1)))
	if t > 0 {
		s += fmt.Sprintf(`<i style="left:%.1f%%"></i>`, 100*min(t, 1))
	}
	return safeHTML(s + "</div>")
}

// pct formats a share as a whole percentage.
func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// WriteHTML writes a self-contained HTML page (inline CSS and font, no
// external assets or scripts): the star level and the one score toward the
// next level with its definition, every level's score against its
// threshold and its blockers, the pass rate per control area (N/A where an
// area has no applicable check), the open findings that block the next
// level first, then the other open findings, the passed checks, what could
// not be read, and the self-declared part in a separate section labelled
// unofficial. Every text is HTML-escaped; labels wrap, never cut.
func (r *Report) WriteHTML(w io.Writer) error {
	p := page{bufio.NewWriter(w)}
	sc := r.Score
	next := sc.Levels[sc.NextLevel()-1]
	p.printf(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>主机安全基线报告 / Host hardening baseline – %s</title>
<style>
@font-face{font-family:"edgeward-cjk";src:url(data:font/woff;base64,%s) format("woff")}
`, r.Host, safeHTML(base64.StdEncoding.EncodeToString(cjkFont)))
	p.raw(htmlStyle)
	p.printf(`</style>
</head>
<body>
<h1>工控主机安全基线检查报告<br><small>ICS host hardening baseline report</small></h1>
<table class="meta">
<tr><th>主机 Host</th><td>%s</td><th>系统 OS</th><td>%s</td><th>角色 Role</th><td>%s</td></tr>
<tr><th>检查时间 Time</th><td>%s</td><th>检查目录 Catalog</th><td>v%s</td><th>耗时 Duration</th><td>%.0f ms</td></tr>
</table>
`, r.Host, r.OS, r.Role, r.Time.Format("2006-01-02 15:04:05 UTC"), r.CatalogVersion, r.DurationMS)

	p.printf(`<h2>主机可观测星级 / Host-observable star level</h2>
<p><span class="level">%s</span> <strong>%d★ %s</strong></p>
<p class="score"><strong>下一级 next level %d★ 得分 score: %s</strong>（需要 needs %s，阻断项 blockers: %d）<br><small>%s</small></p>
<p>通过 PASS %d · 不通过 FAIL %d · 无法检查 ERROR %d · 未配置 NOT_CONFIGURED %d · 已豁免 EXEMPT %d · 不适用 N/A %d</p>
<p class="note">%s<br>%s</p>
`, stars(sc.Level), sc.Level, levelName(sc.Level), next.Star, pct(next.Score), pct(next.Threshold), len(next.Blockers), scoreExplained,
		sc.Counts.Pass, sc.Counts.Fail, sc.Counts.Error, sc.Counts.NotConfigured, sc.Counts.Exempt, sc.Counts.NotApplicable, sc.Note, r.Notice)

	p.raw(`
<h2>各星级得分 / Score per star level</h2>
<table class="levels">
<tr><th>级别 Level</th><th>得分 / 阈值 Score / threshold</th><th>结论 Result</th><th>阻断项 Blockers</th></tr>
`)
	for _, l := range sc.Levels {
		met := safeHTML(`<span class="fail">未达到 not met</span>`)
		if l.Met {
			met = `<span class="pass">达到 met</span>`
		}
		blk := safeHTML("—")
		if len(l.Blockers) > 0 {
			var b strings.Builder
			b.WriteString(`<ul class="blk">`)
			for _, x := range l.Blockers {
				id, rest, _ := strings.Cut(x, " ")
				fmt.Fprintf(&b, `<li><a href="#%s">%s</a> %s</li>`, html.EscapeString(id), html.EscapeString(id), html.EscapeString(rest))
			}
			blk = safeHTML(b.String() + "</ul>")
		}
		p.printf(`<tr><th>%d★ %s</th><td class="barcell">%s<span class="val">%s / %s</span></td><td class="nw">%s</td><td>%s</td></tr>
`, l.Star, levelName(l.Star), bar(l.Score, l.Threshold, l.Met), pct(l.Score), pct(l.Threshold), met, blk)
	}
	p.raw(`</table>
<p><small>竖线为该级阈值；级别需本级及以下各级均满足阈值且无阻断项。The mark is the level's threshold; a level needs its threshold met and no blocker at every level up to it.</small></p>

<h2>各控制域通过率 / Pass rate per control area</h2>
<table class="areas">
<tr><th>控制域 Control area</th><th>通过率 Pass rate</th></tr>
`)
	for _, a := range sc.Areas {
		if a.Total == 0 {
			p.printf(`<tr><th>%s / %s</th><td class="barcell na">N/A <small>无适用检查 / no applicable check</small></td></tr>
`, a.TitleZH, a.TitleEN)
			continue
		}
		p.printf(`<tr><th>%s / %s</th><td class="barcell">%s<span class="val">%s (%d/%d)</span></td></tr>
`, a.TitleZH, a.TitleEN, bar(a.PassRate, 0, a.PassRate >= 0.8), pct(a.PassRate), a.Pass, a.Total)
	}
	p.raw("</table>\n")

	blocking, open, rest := r.resultGroups()
	p.printf("\n<h2>待整改项：阻断下一级 %d★ / Open findings blocking the next level, %d★</h2>\n", next.Star, next.Star)
	writeOpen(p, blocking)
	p.raw("\n<h2>其他待整改项（不计入下一级） / Other open findings (not counted at the next level)</h2>\n")
	writeOpen(p, open)

	if len(r.Unreadable) > 0 {
		p.printf("\n<h2>无法读取 / Could not read</h2>\n%s\n", list("plain", r.Unreadable))
	}

	p.raw(`
<h2>已豁免、已通过及不适用 / Exempt, passed and not applicable</h2>
<table class="checks">
<tr><th>状态 State</th><th>检查项 Check</th><th>★</th><th>依据 Evidence</th></tr>
`)
	for _, x := range rest {
		p.printf(`<tr id="%s"><td class="st %s">%s<br>%s</td><td><strong>%s</strong> %s / %s</td><td>%d</td><td>%s</td></tr>
`, x.ID, strings.ToLower(string(x.State)), stateZH(x.State), x.State, x.ID, x.TitleZH, x.TitleEN, x.Star, list("ev", x.Evidence))
	}
	p.raw("</table>\n")

	if sd := r.SelfDeclared; sd != nil {
		p.printf(`
<div class="unofficial">
<h2>组织管理部分（自评，非官方） / Organisational part (self-declared, unofficial)</h2>
<p class="note">%s。以下内容由站点自行填报，未经探针核验，不计入主机得分。Answers below are declared by the site, not verified by the agent, and never part of the host score.</p>
<p>自评星级 Self-declared level: <strong>%d★</strong> · YES %d/%d</p>
<table class="checks">
<tr><th>编号 ID</th><th>要求 Requirement</th><th>★</th><th>回答 Answer</th><th>证据 Evidence</th><th>填报人 Declared by</th><th>审核 Review</th></tr>
`, sd.Notice, sd.Level, sd.Yes, sd.Total)
		for _, it := range sd.Items {
			ans := it.Answer
			switch {
			case it.Expired:
				ans = "已过期 expired"
			case ans == "":
				ans = "未填报 unanswered"
			}
			p.printf("<tr><td>%s</td><td>%s<br>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s %s</td></tr>\n",
				it.ID, it.TitleZH, it.TitleEN, it.Star, ans, strings.Join(it.Evidence, ", "), it.DeclaredBy, it.ReviewStatus, it.Reviewer)
		}
		p.raw("</table>\n</div>\n")
	}
	p.raw("</body>\n</html>\n")
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

// writeOpen writes a table of open findings with their remediation.
func writeOpen(p page, rs []Result) {
	if len(rs) == 0 {
		p.raw("<p>无 / none</p>\n")
		return
	}
	p.raw(`<table class="checks">
<tr><th>状态 State</th><th>检查项 Check</th><th>★</th><th>严重度 Severity</th><th>依据 Evidence</th><th>整改建议 Remediation</th></tr>
`)
	for _, x := range rs {
		p.printf(`<tr id="%s"><td class="st %s">%s<br>%s</td><td><strong>%s</strong><br>%s<br>%s<br><small>%s</small></td><td>%d</td><td class="nw">%s</td><td>%s</td><td class="rem">%s</td></tr>
`, x.ID, strings.ToLower(string(x.State)), stateZH(x.State), x.State, x.ID, x.TitleZH, x.TitleEN, strings.Join(x.Controls, "; "),
			x.Star, x.Severity, list("ev", x.Evidence), x.Remediation)
	}
	p.raw("</table>\n")
}

// htmlStyle is the page's CSS after the @font-face rule. The embedded font
// comes first, so that CJK text looks the same everywhere; Latin text uses
// the system's sans-serif font. Long words wrap anywhere rather than
// widen the page.
const htmlStyle = `body{font-family:"edgeward-cjk","DejaVu Sans","Segoe UI",Arial,sans-serif;margin:2em auto;padding:0 1em;color:#222;max-width:1100px;overflow-wrap:break-word}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.level{font-size:2.4em;color:#e67e22;letter-spacing:.1em}
.score{font-size:1.05em}
.note{background:#fef9e7;border-left:4px solid #f1c40f;padding:.6em 1em;font-size:.9em}
.unofficial{border:2px dashed #e67e22;padding:1em;margin-top:2em;background:#fdf2e9}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #ddd;padding:.35em .5em;vertical-align:top;text-align:left}
th{background:#f4f6f7;font-weight:normal}tr>th:first-child{font-weight:bold}
table.levels tr>:first-child{width:9em}table.areas tr>:first-child{width:30%}
.st,.nw{font-weight:bold;white-space:nowrap}.nw{font-weight:normal}
ul.ev,td.rem{overflow-wrap:anywhere}
.fail{color:#c0392b}.error{color:#8e44ad}.not_configured{color:#b9770e}.pass,.exempt{color:#1e8449}.not_applicable,.na{color:#7f8c8d}
.meta th,.meta td{border:none;background:none;padding:.1em .8em .1em 0;font-weight:normal}
ul.ev,ul.plain{margin:0;padding-left:1.1em}
ul.blk{margin:0;padding:0;list-style:none}ul.blk li{display:inline-block;margin-right:1em}
.barcell{min-width:8em}
.bar{position:relative;height:1em;background:#ecf0f1;margin:.2em 0}
.bar span{position:absolute;left:0;top:0;bottom:0}.bar .good{background:#27ae60}.bar .bad{background:#c0392b}
.bar i{position:absolute;top:-.25em;bottom:-.25em;width:0;border-left:2px dashed #2c3e50}
.val{font-size:.9em}
a{color:inherit}
`
