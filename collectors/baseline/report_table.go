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

// sortedResults returns the results failed first (FAIL, ERROR,
// NOT_CONFIGURED, EXEMPT, PASS, NOT_APPLICABLE), then by star, severity
// weight (descending) and id.
func (r *Report) sortedResults() []Result {
	out := append([]Result(nil), r.Results...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.State.rank() != b.State.rank() {
			return a.State.rank() < b.State.rank()
		}
		if a.Star != b.Star {
			return a.Star < b.Star
		}
		if a.Severity.Weight() != b.Severity.Weight() {
			return a.Severity.Weight() > b.Severity.Weight()
		}
		return a.ID < b.ID
	})
	return out
}

// WriteTable writes the report for a terminal: the level, the per-level
// scores, then every check (failed first) with Chinese and English titles,
// evidence and, for failures, the remediation. color adds ANSI colours.
func (r *Report) WriteTable(w io.Writer, color bool) error {
	bw := bufio.NewWriter(w)
	c := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	fmt.Fprintf(bw, "%s\n", c(ansiBold, "edgeward 主机安全基线 / host hardening baseline"))
	fmt.Fprintf(bw, "主机 host: %s  系统 OS: %s  角色 role: %s  目录 catalog: v%s  时间 time: %s\n", r.Host, r.OS, r.Role, r.CatalogVersion, r.Time.Format("2006-01-02 15:04:05Z"))
	fmt.Fprintf(bw, "主机可观测星级 host-observable level: %s %d★   下一级得分 score toward next level: %.2f\n",
		c(ansiBold, stars(r.Score.Level)), r.Score.Level, r.Score.WeightedScore)
	for _, l := range r.Score.Levels {
		met := c(ansiRed, "未达到 not met")
		if l.Met {
			met = c(ansiGreen, "达到 met")
		}
		fmt.Fprintf(bw, "  %d★  S=%.2f (阈值 threshold %.2f)  %s  本级通过 pass at this level %d/%d", l.Star, l.Score, l.Threshold, met, l.Pass, l.Total)
		if len(l.Blockers) > 0 {
			fmt.Fprintf(bw, "  阻断 blockers: %s", strings.Join(l.Blockers, "; "))
		}
		fmt.Fprintln(bw)
	}
	k := r.Score.Counts
	fmt.Fprintf(bw, "结果 results: %d 通过 PASS · %d 不通过 FAIL · %d 无法检查 ERROR · %d 未配置 NOT_CONFIGURED · %d 已豁免 EXEMPT · %d 不适用 N/A\n",
		k.Pass, k.Fail, k.Error, k.NotConfigured, k.Exempt, k.NotApplicable)
	if len(r.Unreadable) > 0 {
		fmt.Fprintf(bw, "%s %s\n", c(ansiMag, "无法读取 could not read:"), strings.Join(r.Unreadable, "; "))
	}
	fmt.Fprintln(bw)
	for _, x := range r.sortedResults() {
		fmt.Fprintf(bw, "%s %-11s %d★ %-8s %s / %s\n", c(stateColor(x.State), fmt.Sprintf("%-14s", x.State)), x.ID, x.Star, x.Severity, x.TitleZH, x.TitleEN)
		if len(x.Evidence) > 0 && x.State != StatePass && x.State != StateNotApplicable {
			fmt.Fprintf(bw, "%14s 依据 evidence: %s\n", "", strings.Join(x.Evidence, "; "))
		}
		if x.State == StateFail || x.State == StateNotConfigured || x.State == StateExempt {
			fmt.Fprintf(bw, "%14s 整改 fix: %s\n", "", x.Remediation)
		}
	}
	if sd := r.SelfDeclared; sd != nil {
		fmt.Fprintf(bw, "\n%s\n", c(ansiYellow, sd.Notice))
		fmt.Fprintf(bw, "组织管理部分 organisational part: L_org = %d★  (%d/%d 项 YES)\n", sd.Level, sd.Yes, sd.Total)
	}
	fmt.Fprintf(bw, "\n%s\n", r.Notice)
	return bw.Flush()
}
