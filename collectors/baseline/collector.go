package baseline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/edgeward/edgeward/collectors"
)

// Collector runs the baseline checks of its OS. Scan may be called from
// several goroutines; each call has its own state.
type Collector struct {
	cfg      Config
	cat      *Catalog
	site     *SitePolicy
	decl     map[string]Declaration
	log      *slog.Logger
	target   string // "linux" or "windows": which catalog half and probes run
	role     string
	interval time.Duration
	now      func() time.Time
	// winSrc opens the Windows data source; nil outside Windows.
	winSrc func() (winSource, error)
}

var _ collectors.Collector = (*Collector)(nil)

// New validates cfg, loads the embedded catalog and returns a collector for
// this host's OS. It does not touch the host. A nil log discards.
func New(cfg Config, log *slog.Logger) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cat, err := LoadCatalog()
	if err != nil {
		return nil, err
	}
	site, _ := DecodeSitePolicy(cfg.SitePolicy)
	decl, _ := DecodeSelfDeclared(cfg.SelfDeclared)
	c := &Collector{
		cfg:      cfg,
		cat:      cat,
		site:     site,
		decl:     decl,
		log:      log.With("collector", "baseline"),
		target:   defaultTarget(),
		interval: cfg.Interval,
		now:      time.Now,
		winSrc:   openWinSource,
	}
	if c.cfg.Root == "" {
		c.cfg.Root = "/"
	}
	if c.interval == 0 {
		c.interval = DefaultInterval
	}
	c.role = cfg.Role
	if c.role == "" || c.role == RoleAuto {
		c.role = RoleServer
		if c.target == "windows" {
			c.role = RoleWorkstation
		}
	}
	return c, nil
}

// Name returns "baseline".
func (c *Collector) Name() string { return "baseline" }

// Catalog returns the collector's catalog (read-only).
func (c *Collector) Catalog() *Catalog { return c.cat }

// Report is the result of one scan. It marshals to JSON with stable
// snake_case field names (`edgeward scan --format json`).
type Report struct {
	Host           string              `json:"host"`
	OS             string              `json:"os"`
	Role           string              `json:"role"`
	Root           string              `json:"root"`
	Time           time.Time           `json:"time"`
	DurationMS     float64             `json:"duration_ms"`
	CatalogVersion string              `json:"catalog_version"`
	Score          Score               `json:"score"`
	Results        []Result            `json:"results"`
	Unreadable     []string            `json:"unreadable"`
	SelfDeclared   *SelfDeclaredReport `json:"self_declared"`
	Notice         string              `json:"notice"`
}

// reportNotice is printed on every report.
const reportNotice = "本报告为主机可观测部分的自评参考，非官方星级评定；正式评定以江苏省工业信息安全公共服务平台的评估为准。 / Indicative self-assessment of the host-observable part; the official star rating is decided through the provincial programme."

// Scan runs every check of this OS once and returns the report. It needs no
// privileges: what it cannot read becomes an ERROR result and is listed in
// Report.Unreadable. It returns an error only when ctx is cancelled or the
// Windows data source cannot be opened at all.
func (c *Collector) Scan(ctx context.Context) (*Report, error) {
	return c.scan(ctx, nil)
}

// prevResult is what Run remembers of a check between scans.
type prevResult struct {
	state State     // last state
	known State     // last non-ERROR state
	at    time.Time // when known was seen
}

func (c *Collector) scan(ctx context.Context, prev map[string]prevResult) (*Report, error) {
	start := c.now()
	checks := c.cat.ForOS(c.target)
	out := make([]Result, 0, len(checks))
	e := &env{ctx: ctx, root: fsRoot{dir: c.cfg.Root}, role: c.role, site: c.site, now: start, cfg: &c.cfg,
		memo: map[string]any{}, memErr: map[string]error{}}
	var decide func(id string) (outcome, bool)
	switch c.target {
	case "windows":
		src, err := c.winSrc()
		if err != nil {
			return nil, fmt.Errorf("open windows sources: %w", err)
		}
		defer src.Close()
		w := &winEnv{src: src, site: c.site, role: c.role, cfg: &c.cfg, now: start}
		probes := windowsProbes()
		decide = func(id string) (outcome, bool) {
			p, ok := probes[id]
			if !ok {
				return outcome{}, false
			}
			return runProbe(func() outcome { return p(w) }), true
		}
	default:
		probes := linuxProbes()
		decide = func(id string) (outcome, bool) {
			p, ok := probes[id]
			if !ok {
				return outcome{}, false
			}
			return runProbe(func() outcome { return p(e) }), true
		}
	}
	for _, k := range checks {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("scan baseline: %w", err)
		}
		o, ok := decide(k.ID)
		if !ok {
			o = errOut("no probe for this check")
		}
		r := newResult(k, o)
		c.applyExemption(&r, start)
		if p, ok := prev[k.ID]; ok && r.State == StateError && p.known != "" && start.Sub(p.at) < 24*time.Hour {
			r.LastKnown = &LastKnown{State: p.known, Time: p.at}
		}
		out = append(out, r)
		c.log.Debug("check", "id", k.ID, "state", r.State)
	}
	rep := &Report{
		Host:           c.hostname(e),
		OS:             c.target,
		Role:           c.role,
		Root:           c.cfg.Root,
		Time:           start.UTC(),
		CatalogVersion: c.cat.Version,
		Results:        out,
		Score:          ComputeScore(out, c.cat),
		Unreadable:     unreadable(e, out),
		SelfDeclared:   scoreSelfDeclared(c.decl, start),
		Notice:         reportNotice,
	}
	rep.DurationMS = float64(c.now().Sub(start).Microseconds()) / 1000
	return rep, nil
}

// runProbe runs one probe. A probe that panics (an API answer it did not
// expect, a bug) yields ERROR for its own check, never a crashed agent.
func runProbe(p func() outcome) (o outcome) {
	defer func() {
		if r := recover(); r != nil {
			o = errOut(fmt.Sprintf("probe failed: %v", r))
		}
	}()
	return p()
}

// newResult fills a Result from the catalog row and the probe's outcome.
func newResult(k Check, o outcome) Result {
	ev := o.evidence
	if ev == nil {
		ev = []string{}
	}
	return Result{ID: k.ID, OS: k.OS, Area: k.Area, TitleZH: k.TitleZH, TitleEN: k.TitleEN, Star: k.Star,
		Severity: k.Severity, Class: k.Class, Controls: k.Controls, SR: k.SR, State: o.state, Evidence: ev,
		Remediation: k.Remediation}
}

// applyExemption turns a failing result into EXEMPT when the site policy
// lists an unexpired exemption for it.
func (c *Collector) applyExemption(r *Result, now time.Time) {
	x, ok := c.site.Exemptions[r.ID]
	if !ok || r.State == StatePass || r.State == StateNotApplicable {
		return
	}
	if now.After(x.Expires.Add(24 * time.Hour)) {
		r.Evidence = append(r.Evidence, "exemption expired "+x.Expires.Format(time.DateOnly))
		return
	}
	r.Evidence = append(r.Evidence, "was "+string(r.State)+"; exempt: "+x.Reason+" (approved by "+x.Approver+")")
	r.State = StateExempt
	r.Exemption = &x
}

// unreadable lists what the scan could not read (permission and I/O errors;
// absent files are not listed).
func unreadable(e *env, results []Result) []string {
	seen := map[string]bool{}
	for _, err := range e.memErr {
		if err != nil && !isNotExist(err) {
			seen[describe(err)] = true
		}
	}
	for _, r := range results {
		if r.State != StateError {
			continue
		}
		for _, ev := range r.Evidence {
			if strings.HasPrefix(ev, "permission denied") {
				seen[ev] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hostname returns the host's name: os.Hostname for "/", etc/hostname of a
// fixture root otherwise.
func (c *Collector) hostname(e *env) string {
	if c.cfg.Root == "/" || c.target == "windows" {
		if h, err := os.Hostname(); err == nil {
			return h
		}
	}
	if b, err := e.root.ReadFile("etc", "hostname"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

// Run scans at the configured interval (the first scan at once) and emits, per
// scan, one baseline.result per check, one baseline.score and a threat record
// baseline.drift for each check that passed in the previous scan and fails
// now. It returns nil when ctx is cancelled; a failed scan or emit is logged
// and retried at the next interval.
func (c *Collector) Run(ctx context.Context, emit collectors.Emitter) error {
	prev := map[string]prevResult{}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		c.runOnce(ctx, emit, prev)
		t.Reset(c.interval)
	}
}

// runOnce performs one scan and emits its records, updating prev.
func (c *Collector) runOnce(ctx context.Context, emit collectors.Emitter, prev map[string]prevResult) {
	rep, err := c.scan(ctx, prev)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("baseline scan failed", "err", err)
		}
		return
	}
	recs := rep.Records()
	recs = append(recs, rep.driftRecords(prev)...)
	if err := emit.Emit(ctx, recs...); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("emit baseline records", "records", len(recs), "err", err)
		}
		return
	}
	for _, r := range rep.Results {
		p := prev[r.ID]
		p.state = r.State
		if r.State != StateError {
			p.known, p.at = r.State, rep.Time
		}
		prev[r.ID] = p
	}
	c.log.Info("baseline scan", "level", rep.Score.Level, "fail", rep.Score.Counts.Fail, "error", rep.Score.Counts.Error, "ms", rep.DurationMS)
}
