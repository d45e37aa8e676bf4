package agent

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/baseline"
	"github.com/edgeward/edgeward/collectors/host"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/schematest"
)

// TestEveryRecordKindValidates runs each collector for real (host and
// baseline on their fixture roots, passive over the shared captures when
// ../shared exists), plus the heartbeat, stamps the records exactly as the
// agent does, and validates each against the embedded schema v1.
func TestEveryRecordKindValidates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := discardLogger()
	var recs []collectors.Record

	hc, err := host.New(host.Config{Root: filepath.Join("..", "collectors", "host", "testdata", "root"), Key: "gw"}, log)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := hc.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs, hc.Record(inv))

	for _, fx := range []string{"debian-default", "debian-hardened"} {
		bc, err := baseline.New(baseline.Config{Enabled: true, Role: "auto", Root: filepath.Join("..", "collectors", "baseline", "testdata", "fixtures", fx)}, log)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := bc.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rep.Records()...)
	}

	pcaps := filepath.Join("..", "..", "shared", "testdata", "pcaps")
	files, _ := filepath.Glob(filepath.Join(pcaps, "*.pcap*"))
	var caps []string
	for _, f := range files {
		if filepath.Ext(f) != ".json" {
			caps = append(caps, f)
		}
	}
	if len(caps) == 0 {
		t.Log("../shared/testdata/pcaps not found: passive records are validated by the passive package's own schema test only")
	} else {
		eng, err := passive.NewEngine(passive.DefaultConfig(), log)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range caps {
			src, err := passive.OpenFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for {
				p, err := src.ReadPacket(ctx)
				if err != nil {
					break
				}
				eng.Process(p)
			}
			src.Close()
		}
		recs = append(recs, eng.Records(time.Now().Add(time.Hour))...)
	}

	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	hb := &heartbeat{start: time.Now(), buf: buf, key: "gw"}
	recs = append(recs, hb.record(), recoveryRecord(buffer.Recovery{Time: time.Now(), Reason: buffer.RecoveryDamaged,
		Detail: "page 7", MovedTo: "/var/lib/edgeward/buffer.db.corrupt-x", Salvaged: 10, Lost: 2, LostKnown: true}))

	r := &recorder{buf: buf, agent: collectors.Agent{ID: "gw", Enterprise: "acme", Site: "plant-1", Hostname: "h", Version: "v1"}, now: time.Now}
	kinds := map[string]int{}
	for _, rec := range recs {
		item, err := r.encode(rec)
		if err != nil {
			t.Errorf("encode %s: %v", rec.Kind, err)
			continue
		}
		if err := schematest.ValidateJSON(item.Data); err != nil {
			t.Errorf("%s record does not validate: %v\n%s", rec.Kind, err, item.Data)
		}
		kinds[rec.Kind]++
	}
	want := []string{"host.inventory", "baseline.result", "baseline.score", "agent.heartbeat", "agent.buffer_recovered"}
	if len(caps) > 0 {
		want = append(want, "net.asset", "net.flow")
	}
	for _, k := range want {
		if kinds[k] == 0 {
			t.Errorf("no %s record was produced", k)
		}
	}
	names := sortedKeys(kinds)
	sort.Strings(names)
	t.Logf("validated record kinds: %v", names)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
