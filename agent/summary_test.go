package agent

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/baseline"
	"github.com/edgeward/edgeward/collectors/host"
	"github.com/edgeward/edgeward/collectors/passive"
)

// TestCycleLogLines checks the line each collector's cycle gets in the
// log, and that the wrapper hands every record on.
func TestCycleLogLines(t *testing.T) {
	t.Parallel()
	inv := &host.Inventory{Software: make([]host.Software, 312), Listening: make([]host.Socket, 9), Services: make([]host.Service, 1)}
	score := baseline.ScoreBody{Level: 2, Counts: baseline.StateCounts{Pass: 30, Fail: 12, NotApplicable: 3, Error: 1}}
	cases := []struct {
		name string
		recs []collectors.Record
		want string
	}{
		{"host", []collectors.Record{{Kind: host.Kind, Body: inv}},
			`msg="host: 312 packages, 9 listening sockets, 1 service" packages=312 listening=9 records=1`},
		{"baseline", []collectors.Record{{Kind: baseline.KindResult}, {Kind: baseline.KindScore, Body: score}, {Kind: baseline.KindDrift}},
			`msg="baseline: 2★, 12 FAIL, 30 PASS, 3 not applicable, 1 error; 1 changed since the last run" stars=2 fail=12 pass=30 records=3`},
		{"passive", []collectors.Record{{Kind: passive.KindAsset}, {Kind: passive.KindAsset}, {Kind: passive.KindFlow}, {Kind: "modbus.write_new_client"}},
			`msg="passive: 2 assets, 1 flow, 1 event" assets=2 flows=1 events=1 records=4`},
		{"other", []collectors.Record{{Kind: "x.y"}, {Kind: "x.y"}}, `msg="other: 2 records" records=2`},
	}
	for _, tc := range cases {
		var logs bytes.Buffer
		got := 0
		next := collectors.RecordFunc(func(context.Context, collectors.Record) error { got++; return nil })
		emit := withCycleLog(next, tc.name, slog.New(slog.NewTextHandler(&logs, nil)))
		if err := emit.Emit(context.Background(), tc.recs...); err != nil {
			t.Fatal(err)
		}
		if got != len(tc.recs) {
			t.Errorf("%s: %d of %d records handed on", tc.name, got, len(tc.recs))
		}
		if line := strings.TrimSpace(logs.String()); !strings.HasSuffix(line, tc.want) || strings.Count(line, "\n") != 0 {
			t.Errorf("%s: log %q, want one line ending in %q", tc.name, line, tc.want)
		}
	}
}
