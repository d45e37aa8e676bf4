package agent

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/advisory"
	"github.com/edgeward/edgeward/collectors/host"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/schematest"
)

// collect is an Emitter that keeps what it is given.
type collect struct {
	mu   sync.Mutex
	recs []collectors.Record
}

func (c *collect) Emit(_ context.Context, recs ...collectors.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, recs...)
	return nil
}

func (c *collect) take() []collectors.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.recs
	c.recs = nil
	return out
}

// checkpointing adds the Checkpointer side to collect.
type checkpointing struct{ collect }

func (c *checkpointing) Checkpoint(context.Context, string) ([]byte, error) {
	return []byte("state"), nil
}
func (c *checkpointing) EmitCheckpoint(ctx context.Context, _ string, _ []byte, recs ...collectors.Record) error {
	return c.Emit(ctx, recs...)
}

// vulnerable returns the asset.known_vulnerable records of recs, as
// "asset subject-source product: ids", each validated against the schema.
func vulnerable(t *testing.T, recs []collectors.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		if r.Kind != advisory.Kind {
			continue
		}
		if raw, err := schematest.Validate(r); err != nil {
			t.Errorf("record fails the schema: %v\n%s", err, raw)
		}
		f := r.Body.(advisory.Finding)
		var ids []string
		for _, a := range f.Advisories {
			ids = append(ids, a.ID+"("+a.MatchedRange+")")
		}
		out = append(out, string(r.Severity)+" "+f.Asset+" "+f.Subject.Source+" "+f.Subject.Address+" "+f.Subject.Products[0].Value+" "+f.Subject.Version.Value+": "+strings.Join(ids, ","))
	}
	return out
}

// TestVulnEmitter passes a net.asset record (a Modbus identity and an OPC UA
// server with build info) and a host inventory through the emitter: the
// matches are added as asset.known_vulnerable threat records in the same
// call, valid against the schema, and not repeated until the version or a
// day changes.
func TestVulnEmitter(t *testing.T) {
	t.Parallel()
	list, err := advisory.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var next collect
	e := newVulnEmitter(&next, list, slog.New(slog.DiscardHandler)).(*vulnEmitter)
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	e.now = func() time.Time { return now }
	seen := now.Add(-time.Hour)
	asset := func(rev string) collectors.Record {
		return collectors.Record{Class: collectors.ClassAsset, Kind: passive.KindAsset, Key: "ip:10.1.2.3", Body: passive.Asset{
			IP: "10.1.2.3", Roles: []string{"server"}, Protocols: []string{"modbus", "opcua"}, FirstSeen: seen, LastSeen: seen,
			Identity: []passive.Identity{{Port: 502, UnitID: 1, Vendor: "Schneider Electric", Product: "BMEP58 2040", Revision: rev,
				Objects: map[string]string{"0": "Schneider Electric", "1": "BMEP58 2040", "2": rev}, Source: passive.SourceActive, Time: seen}},
			OPCUA: []passive.OPCUAApplication{
				{Role: "server", Port: 4840, Source: passive.SourceActive, Time: seen,
					BuildInfo: &passive.BuildInfo{ManufacturerName: "Siemens AG", ProductName: "SIMATIC S7-1500", SoftwareVersion: "V2.9.1"}},
				{Role: "client", Source: passive.SourcePassive, Time: seen, ApplicationName: "SIMATIC S7-1500"}, // clients are not matched
			},
		}}
	}
	inv := collectors.Record{Class: collectors.ClassAsset, Kind: host.Kind, Key: "agent-1", Body: &host.Inventory{Software: []host.Software{
		{Name: "GX Works2", Version: "1.606G", Vendor: "MITSUBISHI ELECTRIC CORPORATION", Source: "windows"},
		{Name: "7-Zip", Version: "23.01", Vendor: "Igor Pavlov", Source: "windows"},
	}}}

	if err := e.Emit(t.Context(), asset("v2.80"), inv); err != nil {
		t.Fatal(err)
	}
	got := next.take()
	if len(got) != 5 || got[0].Kind != passive.KindAsset || got[1].Kind != host.Kind {
		t.Fatalf("records %v: want the two given and three findings after them", kinds(got))
	}
	want := []string{
		"critical ip:10.1.2.3 modbus 10.1.2.3:502 BMEP58 2040 v2.80: ICSA-25-114-01(< 2.90),CVE-2021-22779(*),CVE-2022-45788(*),CVE-2022-45789(*),CVE-2023-6408(< 4.20)",
		"critical ip:10.1.2.3 opcua 10.1.2.3:4840 SIMATIC S7-1500 V2.9.1: ICSA-22-286-04(< V2.9.2),ICSA-21-152-01(< v2.9.2)",
		"critical agent-1 software  GX Works2 1.606G: ICSA-21-350-04(<= 1.606G),CVE-2023-6943(>= 1.11M)",
	}
	if diff := cmp.Diff(want, vulnerable(t, got)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	f := got[2].Body.(advisory.Finding)
	if f.MaxCVSS != 10 || f.Advisories[0].Evidence != (advisory.Field{Name: "product_code", Value: "BMEP58 2040"}) ||
		f.Advisories[0].Source == "" || *f.Subject.UnitID != 1 || f.Subject.Vendor.Value != "Schneider Electric" {
		t.Errorf("finding %+v", f)
	}

	// The same again: nothing new. A new revision, or a day later: again.
	e.Emit(t.Context(), asset("v2.80"), inv)
	if v := vulnerable(t, next.take()); len(v) != 0 {
		t.Errorf("repeated findings: %v", v)
	}
	e.Emit(t.Context(), asset("v2.85"))
	if v := vulnerable(t, next.take()); len(v) != 1 || !strings.Contains(v[0], "v2.85") {
		t.Errorf("after a firmware change: %v", v)
	}
	e.Emit(t.Context(), asset("v2.90"))
	if v := vulnerable(t, next.take()); len(v) != 1 || !strings.Contains(v[0], "CVE-2021-22779(*)") || strings.Contains(v[0], "ICSA-25-114-01") {
		t.Errorf("after the fix of one advisory: %v", v)
	}
	now = now.Add(vulnRepeat)
	e.Emit(t.Context(), inv)
	if v := vulnerable(t, next.take()); len(v) != 1 {
		t.Errorf("a day later: %v", v)
	}
}

// TestVulnEmitterCheckpointer checks that wrapping keeps the Checkpointer
// side of the agent's emitter, and that a nil list adds no wrapper.
func TestVulnEmitterCheckpointer(t *testing.T) {
	t.Parallel()
	list, err := advisory.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var next checkpointing
	e := newVulnEmitter(&next, list, slog.New(slog.DiscardHandler))
	cp, ok := e.(collectors.Checkpointer)
	if !ok {
		t.Fatal("the Checkpointer side is lost")
	}
	if s, err := cp.Checkpoint(t.Context(), "x"); err != nil || string(s) != "state" {
		t.Errorf("Checkpoint = %q, %v", s, err)
	}
	inv := collectors.Record{Class: collectors.ClassAsset, Kind: host.Kind, Key: "agent-1", Body: &host.Inventory{Software: []host.Software{
		{Name: "GX Works2", Version: "1.500W", Vendor: "MITSUBISHI ELECTRIC CORPORATION", Source: "windows"}}}}
	if err := cp.EmitCheckpoint(t.Context(), "x", nil, inv); err != nil {
		t.Fatal(err)
	}
	if v := vulnerable(t, next.take()); len(v) != 1 {
		t.Errorf("EmitCheckpoint findings: %v", v)
	}
	var plain collect
	if _, ok := newVulnEmitter(&plain, list, slog.New(slog.DiscardHandler)).(collectors.Checkpointer); ok {
		t.Error("an emitter without the Checkpointer side gained one")
	}
	if e := newVulnEmitter(&plain, nil, nil); e != collectors.Emitter(&plain) {
		t.Error("a nil list still wraps")
	}
}

func kinds(recs []collectors.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Kind)
	}
	return out
}

// TestAdvisoriesCommand installs an advisory list next to the buffer with
// `advisories update`, refuses a malformed one (naming its entry and
// field), shows it, and checks which list the agent loads.
func TestAdvisoriesCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "edgeward.yaml")
	buf := filepath.Join(dir, "state", "buffer.db")
	if err := os.WriteFile(cfg, []byte("agent:\n  id: t\nbuffer:\n  path: "+buf+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := `{"format": "edgeward.advisories/v1", "updated": "2027-01-05", "advisories": [
 {"id": "X-1", "title": "Acme PLC flaw", "vendor": "Acme", "cvss": {"version": "3.1", "score": 7.5}, "source": "https://example.com/x-1",
  "affected": [{"product": "Acme PLC", "vendors": ["acme*"], "products": ["acmeplc*"], "versions": ["< 2.0"]}]}]}`
	goodPath := filepath.Join(dir, "good.json")
	badPath := filepath.Join(dir, "bad.json")
	os.WriteFile(goodPath, []byte(good), 0o600)
	os.WriteFile(badPath, []byte(strings.Replace(good, `"< 2.0"`, `"soon"`, 1)), 0o600)
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(args, &out, &errb)
		return code, out.String(), errb.String()
	}

	if code, _, stderr := run("advisories", "update", badPath, "-c", cfg); code == 0 || !strings.Contains(stderr, `advisories[0] (X-1): affected[0] (Acme PLC): versions:`) {
		t.Errorf("bad list: exit %d, stderr %q", code, stderr)
	}
	installed := filepath.Join(dir, "state", installedAdvisories)
	if _, err := os.Stat(installed); err == nil {
		t.Fatal("a bad list was installed")
	}
	if code, out, stderr := run("advisories", "update", goodPath, "-c", cfg); code != 0 || !strings.Contains(out, "installed 1 advisories of Acme") {
		t.Fatalf("update: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if code, out, _ := run("advisories", "show", "-c", cfg); code != 0 || !strings.Contains(out, installed+": 1 advisories") || !strings.Contains(out, "X-1") {
		t.Errorf("show: exit %d, %q", code, out)
	}
	log := slog.New(slog.DiscardHandler)
	if l, err := loadAdvisories("", buf, log); err != nil || l.Advisories[0].ID != "X-1" {
		t.Errorf("loaded %v, %v; want the installed list", l, err)
	}
	// A damaged installed list falls back to the embedded one; a damaged
	// configured one is an error.
	os.WriteFile(installed, []byte("{"), 0o600)
	if l, err := loadAdvisories("", buf, log); err != nil || len(l.Advisories) < 18 {
		t.Errorf("damaged installed list: %v, %v; want the embedded one", l, err)
	}
	if _, err := loadAdvisories(installed, buf, log); err == nil {
		t.Error("a damaged configured list was accepted")
	}
	if code, _, _ := run("advisories", "update"); code == 0 {
		t.Error("update without a file succeeded")
	}
}
