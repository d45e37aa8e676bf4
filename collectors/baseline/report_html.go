package baseline

import (
	"fmt"
	"html/template"
	"io"
	"strings"
)

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

// bar is one bar of an inline SVG chart.
type bar struct {
	Label     string
	Value     float64 // 0..1
	Threshold float64 // 0 = none
	Detail    string
	Good      bool
}

// svgBars renders a horizontal bar chart as inline SVG.
func svgBars(title string, bars []bar) template.HTML {
	const labelW, barW, rowH, pad = 230, 360, 26, 8
	h := len(bars)*rowH + 2*pad + 18
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%d" height="%d" viewBox="0 0 %d %d"><title>%s</title>`,
		labelW+barW+140, h, labelW+barW+140, h, template.HTMLEscapeString(title))
	for i, x := range bars {
		y := pad + i*rowH
		col := "#c0392b"
		if x.Good {
			col = "#27ae60"
		}
		w := int(x.Value * barW)
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="13">%s</text>`, y+17, template.HTMLEscapeString(x.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="18" fill="#ecf0f1"/>`, labelW, y+4, barW)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="18" fill="%s"/>`, labelW, y+4, w, col)
		if x.Threshold > 0 {
			tx := labelW + int(x.Threshold*barW)
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#2c3e50" stroke-width="2" stroke-dasharray="3,2"/>`, tx, y+1, tx, y+25)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12">%s</text>`, labelW+barW+6, y+17, template.HTMLEscapeString(x.Detail))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#555">0%%</text><text x="%d" y="%d" font-size="11" fill="#555">100%%</text>`,
		labelW, h-4, labelW+barW-28, h-4)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from escaped parts above
}

// htmlView is the data of the HTML template.
type htmlView struct {
	R          *Report
	Stars      string
	LevelName  string
	LevelChart template.HTML
	AreaChart  template.HTML
	Next       LevelScore
	Explained  string
	Blocking   []Result // open checks that keep the host from its next level
	Open       []Result // the other FAIL, ERROR, NOT_CONFIGURED
	Rest       []Result
}

// WriteHTML writes a self-contained HTML page (inline CSS and SVG, no
// external assets): the star level, charts of the score per star level and
// pass rate per control area, the open findings first with remediation, the
// passed checks, what could not be read, and the self-declared part in a
// separate section labelled unofficial.
func (r *Report) WriteHTML(w io.Writer) error {
	v := htmlView{R: r, Stars: stars(r.Score.Level), LevelName: levelName(r.Score.Level)}
	var lb []bar
	for _, l := range r.Score.Levels {
		lb = append(lb, bar{Label: fmt.Sprintf("%d★ %s", l.Star, levelName(l.Star)), Value: l.Score, Threshold: l.Threshold, Good: l.Met,
			Detail: fmt.Sprintf("%.0f%% / %.0f%%", l.Score*100, l.Threshold*100)})
	}
	v.LevelChart = svgBars("各星级得分 / score per star level", lb)
	var ab []bar
	for _, a := range r.Score.Areas {
		ab = append(ab, bar{Label: a.TitleZH + " / " + a.TitleEN, Value: a.PassRate, Good: a.PassRate >= 0.8,
			Detail: fmt.Sprintf("%.0f%% (%d/%d)", a.PassRate*100, a.Pass, a.Total)})
	}
	v.AreaChart = svgBars("各控制域通过率 / pass rate per control area", ab)
	v.Blocking, v.Open, v.Rest = r.resultGroups()
	v.Next = r.Score.Levels[r.Score.NextLevel()-1]
	v.Explained = scoreExplained
	t, err := template.New("report").Funcs(template.FuncMap{
		"stateZH":   stateZH,
		"levelName": levelName,
		"pct":       func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"lower":     func(s State) string { return strings.ToLower(string(s)) },
		"join":      strings.Join,
	}).Parse(htmlTemplate)
	if err != nil {
		return fmt.Errorf("parse html template: %w", err)
	}
	if err := t.Execute(w, v); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

// htmlTemplate is the report page. Everything it needs is inline.
const htmlTemplate = `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>主机安全基线报告 / Host hardening baseline – {{.R.Host}}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.level{font-size:2.4em;color:#e67e22;letter-spacing:.1em}
.note{background:#fef9e7;border-left:4px solid #f1c40f;padding:.6em 1em;font-size:.9em}
.unofficial{border:2px dashed #e67e22;padding:1em;margin-top:2em;background:#fdf2e9}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #ddd;padding:.35em .5em;vertical-align:top;text-align:left}
th{background:#f4f6f7}.st{font-weight:bold;white-space:nowrap}
.fail{color:#c0392b}.error{color:#8e44ad}.not_configured{color:#b9770e}.pass,.exempt{color:#1e8449}.not_applicable{color:#7f8c8d}
.meta td{border:none;padding:.1em .8em .1em 0}
ul.ev{margin:0;padding-left:1.1em}
</style>
</head>
<body>
<h1>工控主机安全基线检查报告<br><small>ICS host hardening baseline report</small></h1>
<table class="meta">
<tr><td>主机 Host</td><td>{{.R.Host}}</td><td>系统 OS</td><td>{{.R.OS}}</td><td>角色 Role</td><td>{{.R.Role}}</td></tr>
<tr><td>检查时间 Time</td><td>{{.R.Time.Format "2006-01-02 15:04:05 UTC"}}</td><td>检查目录 Catalog</td><td>v{{.R.CatalogVersion}}</td><td>耗时 Duration</td><td>{{printf "%.0f" .R.DurationMS}} ms</td></tr>
</table>

<h2>主机可观测星级 / Host-observable star level</h2>
<p><span class="level">{{.Stars}}</span> <strong>{{.R.Score.Level}}★ {{.LevelName}}</strong></p>
<p>通过 PASS {{.R.Score.Counts.Pass}} · 不通过 FAIL {{.R.Score.Counts.Fail}} · 无法检查 ERROR {{.R.Score.Counts.Error}} · 未配置 NOT_CONFIGURED {{.R.Score.Counts.NotConfigured}} · 已豁免 EXEMPT {{.R.Score.Counts.Exempt}} · 不适用 N/A {{.R.Score.Counts.NotApplicable}}</p>
<p class="score"><strong>{{.Next.Star}}★ 得分 score: {{pct .Next.Score}}</strong>（需要 needs {{pct .Next.Threshold}}，阻断项 blockers: {{len .Next.Blockers}}）</p>
<p><small>{{.Explained}}</small></p>
<p class="note">{{.R.Score.Note}}<br>{{.R.Notice}}</p>

<h2>各星级得分 / Score per star level</h2>
{{.LevelChart}}
<p><small>虚线为该级阈值；级别需本级及以下各级均满足阈值和门槛条件。Dashed line: threshold of the level; a level needs its gates and thresholds met at every lower level too.</small></p>
<table>
<tr><th>级别 Level</th><th>得分 Score</th><th>阈值 Threshold</th><th>结论 Result</th><th>阻断项 Blockers</th></tr>
{{range .R.Score.Levels}}<tr><td>{{.Star}}★ {{levelName .Star}}</td><td>{{pct .Score}}</td><td>{{pct .Threshold}}</td><td>{{if .Met}}<span class="pass">达到 met</span>{{else}}<span class="fail">未达到 not met</span>{{end}}</td><td>{{join .Blockers "; "}}</td></tr>
{{end}}</table>

<h2>各控制域通过率 / Pass rate per control area</h2>
{{.AreaChart}}

<h2>待整改项：阻断下一级 {{.Next.Star}}★ / Open findings blocking the next level, {{.Next.Star}}★</h2>
{{if .Blocking}}<table>
<tr><th>状态 State</th><th>检查项 Check</th><th>★</th><th>严重度 Severity</th><th>依据 Evidence</th><th>整改建议 Remediation</th></tr>
{{range .Blocking}}<tr id="{{.ID}}"><td class="st {{lower .State}}">{{stateZH .State}}<br>{{.State}}</td><td><strong>{{.ID}}</strong><br>{{.TitleZH}}<br>{{.TitleEN}}<br><small>{{join .Controls "; "}}</small></td><td>{{.Star}}</td><td>{{.Severity}}</td><td><ul class="ev">{{range .Evidence}}<li>{{.}}</li>{{end}}</ul></td><td>{{.Remediation}}</td></tr>
{{end}}</table>{{else}}<p>无 / none</p>{{end}}

<h2>其他待整改项（更高星级） / Other open findings (higher levels)</h2>
{{if .Open}}<table>
<tr><th>状态 State</th><th>检查项 Check</th><th>★</th><th>严重度 Severity</th><th>依据 Evidence</th><th>整改建议 Remediation</th></tr>
{{range .Open}}<tr id="{{.ID}}"><td class="st {{lower .State}}">{{stateZH .State}}<br>{{.State}}</td><td><strong>{{.ID}}</strong><br>{{.TitleZH}}<br>{{.TitleEN}}<br><small>{{join .Controls "; "}}</small></td><td>{{.Star}}</td><td>{{.Severity}}</td><td><ul class="ev">{{range .Evidence}}<li>{{.}}</li>{{end}}</ul></td><td>{{.Remediation}}</td></tr>
{{end}}</table>{{else}}<p>无 / none</p>{{end}}

{{if .R.Unreadable}}<h2>无法读取 / Could not read</h2>
<ul>{{range .R.Unreadable}}<li>{{.}}</li>{{end}}</ul>{{end}}

<h2>已通过、已豁免及不适用 / Passed, exempt and not applicable</h2>
<table>
<tr><th>状态 State</th><th>检查项 Check</th><th>★</th><th>依据 Evidence</th></tr>
{{range .Rest}}<tr id="{{.ID}}"><td class="st {{lower .State}}">{{stateZH .State}}<br>{{.State}}</td><td><strong>{{.ID}}</strong> {{.TitleZH}} / {{.TitleEN}}</td><td>{{.Star}}</td><td><ul class="ev">{{range .Evidence}}<li>{{.}}</li>{{end}}</ul></td></tr>
{{end}}</table>

{{with .R.SelfDeclared}}<div class="unofficial">
<h2>组织管理部分（自评，非官方） / Organisational part (self-declared, unofficial)</h2>
<p class="note">{{.Notice}}。以下内容由站点自行填报，未经探针核验，不计入主机得分。Answers below are declared by the site, not verified by the agent, and never part of the host score.</p>
<p>自评星级 Self-declared level: <strong>{{.Level}}★</strong> · YES {{.Yes}}/{{.Total}}</p>
<table>
<tr><th>编号 ID</th><th>要求 Requirement</th><th>★</th><th>回答 Answer</th><th>证据 Evidence</th><th>填报人 Declared by</th><th>审核 Review</th></tr>
{{range .Items}}<tr><td>{{.ID}}</td><td>{{.TitleZH}}<br>{{.TitleEN}}</td><td>{{.Star}}</td><td>{{if .Expired}}已过期 expired{{else if .Answer}}{{.Answer}}{{else}}未填报 unanswered{{end}}</td><td>{{join .Evidence ", "}}</td><td>{{.DeclaredBy}}</td><td>{{.ReviewStatus}} {{.Reviewer}}</td></tr>
{{end}}</table>
</div>{{end}}
</body>
</html>
`
