package baseline

import (
	"fmt"
	"sort"
	"time"
)

// OrgQuestion is one organisational requirement that a host agent cannot
// observe; the site answers it in collectors.baseline.self_declared (catalog
// §4.5).
type OrgQuestion struct {
	ID         string   `json:"id"`
	TitleZH    string   `json:"title_zh"`
	TitleEN    string   `json:"title_en"`
	Guidelines []string `json:"guidelines"`
	Star       int      `json:"star"`
}

// OrgQuestions returns the organisational questions of catalog §4.5, in star
// order. The slice is new on every call.
func OrgQuestions() []OrgQuestion {
	return []OrgQuestion{
		{"ORG-G2016-11.1", "明确工控安全管理责任人、成立协调小组", "Named responsible person / coordination group", []string{"G2016-11.1", "PA22", "PA23"}, 1},
		{"ORG-G2016-8.1", "建立资产清单并明确责任人", "Asset list with owners", []string{"G2016-8.1", "PA03"}, 1},
		{"ORG-G2016-4.1", "工程师站、机房物理访问控制", "Physical protection of EWS / server rooms", []string{"G2016-4.1", "PA26"}, 1},
		{"ORG-G2016-3.2", "工控网络与企业网/互联网之间部署边界防护设备", "Boundary device between ICS and enterprise / Internet", []string{"G2016-3.2", "PA09"}, 1},
		{"ORG-G2016-1.1", "防病毒/白名单软件经离线环境验证", "AV / allowlisting product validated offline", []string{"G2016-1.1", "PA05"}, 1},
		{"ORG-PA21", "书面安全策略与规程", "Written security policies and procedures", []string{"PA21"}, 2},
		{"ORG-G2016-2.2", "重大配置变更计划与影响分析", "Change plans and impact analysis", []string{"G2016-2.2", "PA13"}, 2},
		{"ORG-G2016-2.3", "补丁评估与测试流程", "Patch assessment and test procedure", []string{"G2016-2.3", "PA06"}, 2},
		{"ORG-G2016-3.1", "开发、测试与生产环境分离", "Dev / test / prod separation", []string{"G2016-3.1", "PA29"}, 2},
		{"ORG-G2016-3.3", "安全区域间工业防火墙/网闸隔离", "Zone isolation with industrial firewall / 网闸", []string{"G2016-3.3", "PA08"}, 2},
		{"ORG-G2016-6.2", "远程访问流程（VPN、时限、加标锁定）", "Remote-access procedure (VPN, time limits, tag-out)", []string{"G2016-6.2", "G2016-6.3", "PA10"}, 2},
		{"ORG-G2016-7.3", "应急响应预案（含向省级主管部门报送）", "Incident response plan incl. reporting to the provincial MIIT authority", []string{"G2016-7.3", "PA33"}, 2},
		{"ORG-G2016-9.1", "数据分类分级", "Data classification", []string{"G2016-9.1", "PA17"}, 2},
		{"ORG-G2016-9.3", "测试数据保护", "Test-data protection", []string{"G2016-9.3", "PA20"}, 2},
		{"ORG-G2016-10.1", "供应商合同与保密协议", "Supplier contracts and NDAs", []string{"G2016-10.1", "G2016-10.2", "PA36", "PA38"}, 2},
		{"ORG-PA25", "安全教育培训", "Security training", []string{"PA25", "G2024-S1.4"}, 2},
		{"ORG-G2016-7.1", "部署网络安全监测并接入企业平台", "Network security monitoring integrated with the enterprise platform", []string{"G2016-7.1", "PA31"}, 3},
		{"ORG-G2016-7.2", "关键控制器前部署深度包检测防护", "DPI protection in front of key controllers", []string{"G2016-7.2", "PA09"}, 3},
		{"ORG-G2016-7.4", "每年至少一次应急演练", "Drills at least yearly", []string{"G2016-7.4", "PA34"}, 3},
		{"ORG-G2016-8.2", "关键主机、网络与控制器冗余", "Redundancy of key hosts / network / controllers", []string{"G2016-8.2", "G2024-02"}, 3},
		{"ORG-RISK", "年度风险评估", "Yearly risk assessment", []string{"分类分级 grade-3"}, 3},
		{"ORG-PROVINCIAL", "企业平台接入省级平台", "Enterprise platform connected to the provincial platform", []string{"分类分级 grade-3"}, 4},
		{"ORG-COORDINATION", "跨部门/跨站点协同响应与联合演练", "Cross-site / cross-department coordinated response and joint drills", []string{"G2016-7.4"}, 4},
		{"ORG-SUPPLY-CHAIN", "供应链安全协同", "Supply-chain security coordination", []string{"PA35", "PA36", "PA37", "PA38", "PA39", "PA40"}, 4},
		{"ORG-IMPROVE", "持续改进（指标、自动化响应、威胁情报）", "Measured continuous improvement, automated response, threat intelligence", []string{"GB/T 41400 level 5"}, 5},
	}
}

// The self-declared answers.
const (
	AnswerYes     = "YES"
	AnswerPartial = "PARTIAL"
	AnswerNo      = "NO"
	AnswerNA      = "NA"
)

// Declaration is the site's answer to one organisational question.
type Declaration struct {
	Answer       string    `json:"answer"`
	Evidence     []string  `json:"evidence,omitempty"`
	DeclaredBy   string    `json:"declared_by,omitempty"`
	DeclaredAt   time.Time `json:"declared_at,omitzero"`
	ValidUntil   time.Time `json:"valid_until,omitzero"`
	Reviewer     string    `json:"reviewer,omitempty"`
	ReviewStatus string    `json:"review_status,omitempty"` // unreviewed, accepted, rejected
}

// DecodeSelfDeclared decodes collectors.baseline.self_declared: a map of
// question id (see OrgQuestions) to {answer: YES|PARTIAL|NO|NA, evidence:
// [..], declared_by, declared_at, valid_until (YYYY-MM-DD), reviewer,
// review_status: unreviewed|accepted|rejected}. Errors wrap ErrInvalidConfig
// and name the key.
func DecodeSelfDeclared(m map[string]any) (map[string]Declaration, error) {
	known := map[string]bool{}
	for _, q := range OrgQuestions() {
		known[q.ID] = true
	}
	out := make(map[string]Declaration, len(m))
	for id, raw := range m {
		key := "self_declared." + id
		if !known[id] {
			return nil, configErr(key, "unknown question id")
		}
		fields, ok := raw.(map[string]any)
		if !ok {
			return nil, configErr(key, "must be a map with answer, evidence, declared_by, ...")
		}
		var d Declaration
		for f, v := range fields {
			fk := key + "." + f
			var err error
			switch f {
			case "answer":
				d.Answer, err = strVal(v)
				if err == nil && !contains([]string{AnswerYes, AnswerPartial, AnswerNo, AnswerNA}, d.Answer) {
					err = fmt.Errorf("must be YES, PARTIAL, NO or NA, got %q", d.Answer)
				}
			case "evidence":
				d.Evidence, err = strList(v)
			case "declared_by":
				d.DeclaredBy, err = strVal(v)
			case "reviewer":
				d.Reviewer, err = strVal(v)
			case "review_status":
				d.ReviewStatus, err = strVal(v)
				if err == nil && !contains([]string{"unreviewed", "accepted", "rejected"}, d.ReviewStatus) {
					err = fmt.Errorf("must be unreviewed, accepted or rejected, got %q", d.ReviewStatus)
				}
			case "declared_at":
				d.DeclaredAt, err = dateVal(v)
			case "valid_until":
				d.ValidUntil, err = dateVal(v)
			default:
				err = fmt.Errorf("unknown key")
			}
			if err != nil {
				return nil, configErr(fk, "%w", err)
			}
		}
		if d.Answer == "" {
			return nil, configErr(key+".answer", "required")
		}
		out[id] = d
	}
	return out, nil
}

func dateVal(v any) (time.Time, error) {
	if t, ok := v.(time.Time); ok {
		return t, nil
	}
	s, err := strVal(v)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("must be a date YYYY-MM-DD, got %q", s)
	}
	return t, nil
}

// SelfDeclaredReport is the organisational part of the report: unofficial,
// never verified by the agent and never mixed into the host score.
type SelfDeclaredReport struct {
	Notice string         `json:"notice"`
	Level  int            `json:"level"` // L_org of catalog §4.5
	Items  []SelfDeclItem `json:"items"`
	Yes    int            `json:"yes"`
	Total  int            `json:"total"`
}

// SelfDeclItem is one question with its (possibly missing) answer.
type SelfDeclItem struct {
	OrgQuestion
	Declaration
	Expired bool `json:"expired,omitempty"`
}

// selfDeclaredNotice labels the organisational part.
const selfDeclaredNotice = "自评（未经探针核验）/ self-declared, not verified by the agent; unofficial"

// scoreSelfDeclared builds the organisational report and L_org: the highest N
// such that for every n ≤ N all items with star ≤ n are YES or NA (at most 20 %
// PARTIAL at level n), every YES carries evidence for n ≥ 2 and is accepted
// by a reviewer other than the declarer for n ≥ 3. Expired answers count as NO.
func scoreSelfDeclared(decl map[string]Declaration, now time.Time) *SelfDeclaredReport {
	r := &SelfDeclaredReport{Notice: selfDeclaredNotice}
	for _, q := range OrgQuestions() {
		it := SelfDeclItem{OrgQuestion: q}
		if d, ok := decl[q.ID]; ok {
			it.Declaration = d
			if !d.ValidUntil.IsZero() && now.After(d.ValidUntil) {
				it.Expired = true
			}
		}
		if it.Answer == AnswerYes && !it.Expired {
			r.Yes++
		}
		r.Total++
		r.Items = append(r.Items, it)
	}
	sort.SliceStable(r.Items, func(i, j int) bool { return r.Items[i].Star < r.Items[j].Star })
	for n := 1; n <= 5; n++ {
		partial, total := 0, 0
		ok := true
		for _, it := range r.Items {
			if it.Star > n {
				continue
			}
			ans := it.Answer
			if it.Expired || ans == "" {
				ans = AnswerNo
			}
			switch ans {
			case AnswerNA:
				continue
			case AnswerNo:
				ok = false
			case AnswerPartial:
				if it.Star == n {
					partial++
				} else {
					ok = false
				}
			case AnswerYes:
				if n >= 2 && len(it.Evidence) == 0 {
					ok = false
				}
				if n >= 3 && (it.ReviewStatus != "accepted" || it.Reviewer == "" || it.Reviewer == it.DeclaredBy) {
					ok = false
				}
			}
			if it.Star == n {
				total++
			}
		}
		if total > 0 && float64(partial) > 0.2*float64(total) {
			ok = false
		}
		if !ok {
			break
		}
		r.Level = n
	}
	return r
}
