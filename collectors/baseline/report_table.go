package baseline

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ANSI colours for the terminal table.
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiMag    = "\x1b[35m"
	ansiGrey   = "\x1b[90m"
	ansiBold   = "\x1b[1m"
)

func stateColor(s State) string {
	switch s {
	case StateFail:
		return ansiRed
	case StateError:
		return ansiMag
	case StateNotConfigured:
		return ansiYellow
	case StatePass, StateExempt:
		return ansiGreen
	}
	return ansiGrey
}

// stateZH is the Chinese label of a state.
func stateZH(s State) string {
	switch s {
	case StatePass:
		return "通过"
	case StateFail:
		return "不通过"
	case StateNotApplicable:
		return "不适用"
	case StateNotConfigured:
		return "未配置"
	case StateError:
		return "无法检查"
	case StateExempt:
		return "已豁免"
	}
	return string(s)
}

// stars renders a level as ★★☆☆.
func stars(n int) string {
	if n < 0 {
		n = 0
	}
	return strings.Repeat("★", n) + strings.Repeat("☆", 4-n)
}

// resultGroups returns the results in the order a reader should act on them:
// blocking holds the open checks (FAIL, ERROR, NOT_CONFIGURED) that keep the
// host from its next level, because they count in that level's score or fail
// one of its gates, the gate failures first and then by severity weight;
// open holds the other open checks (mostly of higher levels) by star level; rest holds
// EXEMPT, PASS and NOT_APPLICABLE, in that order.
func (r *Report) resultGroups() (blocking, open, rest []Result) {
	next := r.Score.NextLevel()
	for _, x := range r.Results {
		switch {
		case x.State != StateFail && x.State != StateError && x.State != StateNotConfigured:
			rest = append(rest, x)
		case blocksLevel(&x, next):
			blocking = append(blocking, x)
		default:
			open = append(open, x)
		}
	}
	sort.SliceStable(blocking, func(i, j int) bool {
		a, b := &blocking[i], &blocking[j]
		if ga, gb := len(gates(a, a.scored(), next)) > 0, len(gates(b, b.scored(), next)) > 0; ga != gb {
			return ga
		}
		return less(a, b, true)
	})
	sort.SliceStable(open, func(i, j int) bool { return less(&open[i], &open[j], false) })
	sort.SliceStable(rest, func(i, j int) bool {
		if a, b := rest[i].State.rank(), rest[j].State.rank(); a != b {
			return a < b
		}
		return less(&rest[i], &rest[j], false)
	})
	return blocking, open, rest
}

// blocksLevel reports whether result x keeps level n from being met: it
// counts in S_n (star at most n, in C_n) and either with value 0 or failing
// a gate of n.
func blocksLevel(x *Result, n int) bool {
	st := x.scored()
	v, in := value(st, n)
	if x.Star > n || !in {
		return false
	}
	return v == 0 || len(gates(x, st, n)) > 0
}

// less orders results by severity weight (descending) then star when
// severityFirst, else by star then severity; then by state and id.
func less(a, b *Result, severityFirst bool) bool {
	sa, sb := a.Severity.Weight(), b.Severity.Weight()
	switch {
	case severityFirst && sa != sb:
		return sa > sb
	case a.Star != b.Star:
		return a.Star < b.Star
	case sa != sb:
		return sa > sb
	case a.State.rank() != b.State.rank():
		return a.State.rank() < b.State.rank()
	}
	return a.ID < b.ID
}

// scoreExplained is the one-line definition of the score, for both reports.
const scoreExplained = "得分 = 星级不高于该级的适用检查中通过项的严重度加权占比（critical 10、high 5、medium 3、low 1；豁免计为通过）；" +
	"达到该级需得分不低于阈值且无阻断项 / score = severity-weighted share of the applicable checks up to that level that pass " +
	"(critical 10, high 5, medium 3, low 1; exempt counts as passed); a level is met when its score reaches the threshold and nothing blocks it"

// DefaultTableWidth is the width WriteTable wraps to when not given one.
const DefaultTableWidth = 100

// WriteTable writes the report for a terminal, wrapped to width columns
// (DefaultTableWidth when width <= 0): the level, the score toward the next
// level with its definition, each level's threshold and blockers, then every
// check, those that block the next level first, with Chinese and English
// titles, evidence and, for open checks, the remediation. color adds ANSI
// colours.
func (r *Report) WriteTable(w io.Writer, color bool, width int) error {
	if width <= 0 {
		width = DefaultTableWidth
	}
	width = max(width, 40)
	bw := bufio.NewWriter(w)
	c := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	line := func(prefix string, indent int, text string) { writeWrapped(bw, prefix, indent, text, width) }
	line("", 2, c(ansiBold, "edgeward 主机安全基线 / host hardening baseline"))
	line("", 2, fmt.Sprintf("主机 host: %s  系统 OS: %s  角色 role: %s  目录 catalog: v%s  时间 time: %s", r.Host, r.OS, r.Role, r.CatalogVersion, r.Time.Format("2006-01-02 15:04:05Z")))
	sc := r.Score
	line("主机可观测星级 host-observable level: ", 2, fmt.Sprintf("%s %d★ %s", c(ansiBold, stars(sc.Level)), sc.Level, levelName(sc.Level)))
	next := sc.Levels[sc.NextLevel()-1]
	line(c(ansiBold, fmt.Sprintf("下一级 next level %d★ 得分 score: %.0f%%", next.Star, next.Score*100))+" ", 2,
		joinUnbroken([]string{fmt.Sprintf("(需要 needs %.0f%%,", next.Threshold*100), fmt.Sprintf("阻断项 blockers: %d)", len(next.Blockers))}, " "))
	line("  ", 2, scoreExplained)
	for _, l := range sc.Levels {
		met := c(ansiRed, "未达到 not met")
		if l.Met {
			met = c(ansiGreen, "达到 met")
		}
		line(fmt.Sprintf("  %d★ %s  ", l.Star, padWidth(levelName(l.Star), 10)), 7, fmt.Sprintf("得分 score %3.0f%% / %.0f%%  %s", l.Score*100, l.Threshold*100, joinUnbroken([]string{met}, "")))
		if len(l.Blockers) > 0 {
			line("       ", 9, fmt.Sprintf("阻断项 blockers (%d): %s", len(l.Blockers), joinUnbroken(l.Blockers, "; ")))
		}
	}
	k := sc.Counts
	line("结果 results: ", 2, joinUnbroken([]string{fmt.Sprintf("%d 通过 PASS", k.Pass), fmt.Sprintf("%d 不通过 FAIL", k.Fail),
		fmt.Sprintf("%d 无法检查 ERROR", k.Error), fmt.Sprintf("%d 未配置 NOT_CONFIGURED", k.NotConfigured),
		fmt.Sprintf("%d 已豁免 EXEMPT", k.Exempt), fmt.Sprintf("%d 不适用 N/A", k.NotApplicable)}, " · "))
	if len(r.Unreadable) > 0 {
		line(c(ansiMag, "无法读取 could not read: "), 2, strings.Join(r.Unreadable, "; "))
	}
	blocking, open, rest := r.resultGroups()
	for _, g := range []struct {
		title string
		rs    []Result
	}{
		{fmt.Sprintf("阻断下一级 %d★ 的检查 / blocking the next level, %d★", next.Star, next.Star), blocking},
		{"其他待整改项（不计入下一级） / other open checks (not counted at the next level)", open},
		{"已豁免、通过、不适用 / exempt, passed, not applicable", rest},
	} {
		if len(g.rs) == 0 {
			continue
		}
		fmt.Fprintln(bw)
		line(c(ansiBold, "== "), 3, g.title)
		for _, x := range g.rs {
			line(fmt.Sprintf("%s %-11s %d★ %-8s ", c(stateColor(x.State), fmt.Sprintf("%-14s", x.State)), x.ID, x.Star, x.Severity), 15, x.TitleZH+" / "+x.TitleEN)
			if len(x.Evidence) > 0 && x.State != StatePass && x.State != StateNotApplicable {
				line(strings.Repeat(" ", 15), 17, "依据 evidence: "+strings.Join(x.Evidence, "; "))
			}
			if x.State == StateFail || x.State == StateNotConfigured || x.State == StateExempt {
				line(strings.Repeat(" ", 15), 17, "整改 fix: "+x.Remediation)
			}
		}
	}
	if sd := r.SelfDeclared; sd != nil {
		fmt.Fprintln(bw)
		line("", 2, c(ansiYellow, sd.Notice))
		line("", 2, fmt.Sprintf("组织管理部分 organisational part: L_org = %d★  (%d/%d 项 YES)", sd.Level, sd.Yes, sd.Total))
	}
	fmt.Fprintln(bw)
	line("", 2, r.Notice)
	return bw.Flush()
}
