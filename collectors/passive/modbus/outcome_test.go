package modbus

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestOutcomeAccounting: unit ids, function codes and address ranges are
// accounted per outcome (answered, refused per exception code, no
// response, broadcast), and only units that answered normally are the
// device's units.
func TestOutcomeAccounting(t *testing.T) {
	t.Parallel()
	exc := func(tid uint16, unit, fc, code uint8) []byte { return mbap(tid, unit, fc|0x80, code) }
	tests := []struct {
		name    string
		traffic func(s *Session, ts time.Time) // the session is closed after
		wantDev Device                         // Server, times and counts ignored
		want    Flow                           // only the outcome fields compared
	}{
		{"gateway: absent units refuse with 10 and 11", func(s *Session, ts time.Time) {
			req, resp := readHolding(1, 1, 0, 10)
			exchange(s, req, resp, ts)
			req, _ = readHolding(2, 2, 0, 10)
			exchange(s, req, exc(2, 2, 3, 11), ts)
			req, _ = readHolding(3, 3, 0, 10)
			exchange(s, req, exc(3, 3, 3, 10), ts)
			req, _ = readHolding(4, 2, 0, 10) // unit 2 again: still absent
			exchange(s, req, exc(4, 2, 3, 11), ts)
		},
			Device{UnitIDs: []uint8{1}, FunctionCodes: []uint8{3}, Refused: []Outcome{
				{Exception: 11, Requests: 2, UnitIDs: []uint8{2}, FunctionCodes: []uint8{3}},
				{Exception: 10, Requests: 1, UnitIDs: []uint8{3}, FunctionCodes: []uint8{3}},
			}},
			Flow{UnitIDs: []uint8{1}, Read: AddressRanges{HoldingRegisters: []Range{{0, 9}}}, Refused: []Outcome{
				{Exception: 11, Requests: 2, UnitIDs: []uint8{2}, FunctionCodes: []uint8{3}, Read: AddressRanges{HoldingRegisters: []Range{{0, 9}}}},
				{Exception: 10, Requests: 1, UnitIDs: []uint8{3}, FunctionCodes: []uint8{3}, Read: AddressRanges{HoldingRegisters: []Range{{0, 9}}}},
			}}},
		{"refused ranges kept apart from read and written ones", func(s *Session, ts time.Time) {
			req, resp := readHolding(1, 1, 100, 10)
			exchange(s, req, resp, ts)
			req, _ = readHolding(2, 1, 9000, 10)
			exchange(s, req, exc(2, 1, 3, 2), ts)
			w := mbap(3, 1, 6, 0, 7, 0, 1)
			exchange(s, w, w, ts)
			exchange(s, mbap(4, 1, 6, 0x23, 0x28, 0, 1), exc(4, 1, 6, 2), ts) // address 9000
		},
			Device{UnitIDs: []uint8{1}, FunctionCodes: []uint8{3, 6}, Refused: []Outcome{
				{Exception: 2, Requests: 2, UnitIDs: []uint8{1}, FunctionCodes: []uint8{3, 6}},
			}},
			Flow{UnitIDs: []uint8{1},
				Read:    AddressRanges{HoldingRegisters: []Range{{100, 109}}},
				Written: AddressRanges{HoldingRegisters: []Range{{7, 7}}},
				Refused: []Outcome{{Exception: 2, Requests: 2, UnitIDs: []uint8{1}, FunctionCodes: []uint8{3, 6},
					Read: AddressRanges{HoldingRegisters: []Range{{9000, 9009}}}, Written: AddressRanges{HoldingRegisters: []Range{{9000, 9000}}}}},
			}},
		{"broadcast is never unanswered", func(s *Session, ts time.Time) {
			req, resp := readHolding(1, 5, 0, 1)
			exchange(s, req, resp, ts)
			s.Feed(true, mbap(2, 0, 6, 0, 1, 0, 1), ts)
			s.Feed(true, mbap(3, 0, 16, 0, 1, 0, 1, 2, 0, 1), ts)
		},
			Device{UnitIDs: []uint8{5}, FunctionCodes: []uint8{3}, Broadcasts: 2},
			Flow{UnitIDs: []uint8{5}, Read: AddressRanges{HoldingRegisters: []Range{{0, 0}}}, Broadcasts: 2}},
		{"unit 0 answered is a unit", func(s *Session, ts time.Time) {
			req, resp := readHolding(1, 0, 0, 1)
			exchange(s, req, resp, ts)
		},
			Device{UnitIDs: []uint8{0}, FunctionCodes: []uint8{3}},
			Flow{UnitIDs: []uint8{0}, Read: AddressRanges{HoldingRegisters: []Range{{0, 0}}}}},
		{"no response: at close and after the response timeout", func(s *Session, ts time.Time) {
			req, late := readHolding(1, 7, 40, 2)
			s.Feed(true, req, ts)
			req, resp := readHolding(2, 1, 0, 1) // 11 s later: request 1 timed out
			exchange(s, req, resp, ts.Add(11*time.Second))
			s.Feed(false, late, ts.Add(11*time.Second)) // a late response matches nothing
			s.Feed(true, mbap(3, 9, 65, 1), ts.Add(12*time.Second))
		},
			Device{UnitIDs: []uint8{1}, FunctionCodes: []uint8{3}, NoResponse: &Outcome{Requests: 2, UnitIDs: []uint8{7, 9}, FunctionCodes: []uint8{3, 65}}},
			Flow{UnitIDs: []uint8{1}, Read: AddressRanges{HoldingRegisters: []Range{{0, 0}}}, Unanswered: 2, Unmatched: 1,
				NoResponse: &Outcome{Requests: 2, UnitIDs: []uint8{7, 9}, FunctionCodes: []uint8{3, 65}, Read: AddressRanges{HoldingRegisters: []Range{{40, 41}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := NewAnalyzer(Config{})
			s := a.NewSession(testClient, testServer)
			tt.traffic(s, testT0)
			s.Close(testT0.Add(time.Minute))
			d := a.Devices()[0]
			gotDev := Device{UnitIDs: d.UnitIDs, FunctionCodes: d.FunctionCodes, Refused: d.Refused, NoResponse: d.NoResponse, Broadcasts: d.Broadcasts}
			if diff := cmp.Diff(tt.wantDev, gotDev, netipOpts()); diff != "" {
				t.Errorf("device (-want +got):\n%s", diff)
			}
			f := a.Flows()[0]
			gotFlow := Flow{UnitIDs: f.UnitIDs, Read: f.Read, Written: f.Written, Refused: f.Refused, NoResponse: f.NoResponse,
				Broadcasts: f.Broadcasts, Unanswered: f.Unanswered, Unmatched: f.Unmatched}
			if diff := cmp.Diff(tt.want, gotFlow, netipOpts()); diff != "" {
				t.Errorf("flow (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAlertOutcomes: per-request alerts are raised once the outcome is
// known, carry it, and their severity follows it.
func TestAlertOutcomes(t *testing.T) {
	t.Parallel()
	const none = ""
	tests := []struct {
		name              string
		req, resp         []byte // resp nil: none before the connection ends
		known             bool   // the client is a known writer
		kind, sev, result string // kind none: no alert at all
	}{
		{"user function executed", mbap(1, 1, 65, 1), mbap(1, 1, 65, 0), false, KindProgramFunction, SeverityHigh, OutcomeExecuted},
		{"user function refused: probe", mbap(1, 1, 65, 1), mbap(1, 1, 0xc1, 1), false, KindProgramFunction, SeverityLow, "refused:exception 1"},
		{"user function unanswered", mbap(1, 1, 65, 1), nil, false, KindProgramFunction, SeverityMedium, OutcomeUnanswered},
		{"UMAS download executed", mbap(1, 1, 90, 0, 0x31, 1), mbap(1, 1, 90, 0, 0xfe), false, KindProgramFunction, SeverityCritical, OutcomeExecuted},
		{"UMAS download refused", mbap(1, 1, 90, 0, 0x31, 1), mbap(1, 1, 0xda, 1), false, KindProgramFunction, SeverityLow, "refused:exception 1"},
		{"restart executed", mbap(1, 1, 8, 0, 1, 0, 0), mbap(1, 1, 8, 0, 1, 0, 0), false, KindDiagnostic, SeverityHigh, OutcomeExecuted},
		{"restart refused", mbap(1, 1, 8, 0, 1, 0, 0), mbap(1, 1, 0x88, 1), false, KindDiagnostic, SeverityLow, "refused:exception 1"},
		{"force listen only unanswered", mbap(1, 1, 8, 0, 4, 0, 0), nil, false, KindDiagnostic, SeverityHigh, OutcomeUnanswered},
		{"return query data: read-only", mbap(1, 1, 8, 0, 0, 0x12, 0x34), mbap(1, 1, 8, 0, 0, 0x12, 0x34), false, none, "", ""},
		{"bus message count: read-only", mbap(1, 1, 8, 0, 0x0b, 0, 0), mbap(1, 1, 8, 0, 0x0b, 0, 7), false, none, "", ""},
		{"new master write executed", mbap(1, 1, 6, 0, 1, 0, 1), mbap(1, 1, 6, 0, 1, 0, 1), false, KindWriteNewMaster, SeverityMedium, OutcomeExecuted},
		{"new master write refused", mbap(1, 1, 6, 0, 1, 0, 1), mbap(1, 1, 0x86, 2), false, KindWriteNewMaster, SeverityLow, "refused:exception 2"},
		{"new master write unanswered", mbap(1, 1, 6, 0, 1, 0, 1), nil, false, KindWriteNewMaster, SeverityLow, OutcomeUnanswered},
		{"broadcast write", mbap(1, 0, 6, 0, 1, 0, 1), nil, true, KindBroadcastWrite, SeverityHigh, OutcomeBroadcast},
		{"unit 0 answered: not a broadcast", mbap(1, 0, 6, 0, 1, 0, 1), mbap(1, 0, 6, 0, 1, 0, 1), true, none, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := NewAnalyzer(Config{})
			if tt.known {
				a.writers.Add(testClient.Addr())
			}
			s := a.NewSession(testClient, testServer)
			s.Feed(true, tt.req, testT0)
			if tt.resp != nil {
				s.Feed(false, tt.resp, testT0.Add(time.Millisecond))
			}
			s.Close(testT0.Add(time.Second))
			al := a.TakeAlerts()
			if tt.kind == none {
				if len(al) != 0 {
					t.Errorf("alerts = %+v, want none", al)
				}
				return
			}
			if len(al) != 1 || al[0].Kind != tt.kind || al[0].Severity != tt.sev || al[0].Outcome != tt.result || !al[0].Time.Equal(testT0) {
				t.Errorf("alerts = %+v, want one %s %s %s at the request's time", al, tt.kind, tt.sev, tt.result)
			}
		})
	}
}

// TestRefusedThenExecutedBothReported: a refused write attempt does not
// learn the client as a writer nor silence the executed write after it.
func TestRefusedThenExecutedBothReported(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{})
	s := a.NewSession(testClient, testServer)
	exchange(s, mbap(1, 1, 6, 0, 1, 0, 1), mbap(1, 1, 0x86, 2), testT0)
	w := mbap(2, 1, 6, 0, 2, 0, 1)
	exchange(s, w, w, testT0.Add(time.Second))
	exchange(s, w, w, testT0.Add(2*time.Second))
	var got []string
	for _, al := range a.TakeAlerts() {
		got = append(got, al.Kind+" "+al.Severity+" "+al.Outcome)
	}
	want := []string{"modbus.write_new_master low refused:exception 2", "modbus.write_new_master medium executed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// TestLearnPeriod: writers seen within Config.LearnPeriod are learned
// without alerts; a new writer after it is reported.
func TestLearnPeriod(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{LearnPeriod: 10 * time.Minute})
	w := mbap(1, 1, 6, 0, 1, 0, 1)
	exchange(a.NewSession(testClient, testServer), w, w, testT0)
	exchange(a.NewSession(testClient, testServer), w, w, testT0.Add(20*time.Minute))
	exchange(a.NewSession(testClient2, testServer), w, w, testT0.Add(20*time.Minute))
	al := a.TakeAlerts()
	if len(al) != 1 || al[0].Client != testClient2.Addr() || al[0].Kind != KindWriteNewMaster {
		t.Errorf("alerts = %+v, want one write_new_master from %s", al, testClient2.Addr())
	}
}

// TestScansJudgedOnOutcomes: the scan and exception rate detections count
// failures, not variety: an engineering session with many function codes
// the device answers, or refuses as illegal (capability probes, public
// codes), raises nothing; unassigned codes refused, or tried already in an
// earlier window, are judged as the specification says.
func TestScansJudgedOnOutcomes(t *testing.T) {
	t.Parallel()
	illegal := func(s *Session, fc byte, tid uint16, ts time.Time) {
		exchange(s, mbap(tid, 1, fc, 0, 0), mbap(tid, 1, fc|0x80, 1), ts)
	}
	t.Run("engineering session", func(t *testing.T) {
		t.Parallel()
		a := NewAnalyzer(Config{})
		a.writers.Add(testClient.Addr()) // a known writer (22 and 23 are writes)
		s := a.NewSession(testClient, testServer)
		tid := uint16(0)
		for _, fc := range []byte{7, 11, 12, 17, 20, 21, 22, 23, 24} { // public codes the device lacks
			tid++
			illegal(s, fc, tid, testT0)
		}
		for i := 0; i < 30; i++ { // reads and writes it answers
			tid++
			req, resp := readHolding(tid, 1, uint16(10*i), 10)
			exchange(s, req, resp, testT0)
		}
		if al := a.TakeAlerts(); len(al) != 0 {
			t.Errorf("alerts = %v, want none", kinds(al))
		}
	})
	t.Run("unassigned codes swept", func(t *testing.T) {
		t.Parallel()
		a := NewAnalyzer(Config{})
		s := a.NewSession(testClient, testServer)
		for fc := byte(25); fc < 35; fc++ {
			illegal(s, fc, uint16(fc), testT0)
		}
		if got := kinds(a.TakeAlerts()); len(got) != 1 || got[0] != KindScan {
			t.Errorf("alerts = %v, want one %s", got, KindScan)
		}
	})
	t.Run("codes tried in an earlier window", func(t *testing.T) {
		t.Parallel()
		a := NewAnalyzer(Config{})
		s := a.NewSession(testClient, testServer)
		for fc := byte(25); fc < 29; fc++ {
			illegal(s, fc, uint16(fc), testT0)
		}
		for fc := byte(25); fc < 33; fc++ { // 4 of the 8 are not new
			illegal(s, fc, uint16(fc), testT0.Add(2*time.Minute))
		}
		if al := a.TakeAlerts(); len(al) != 0 {
			t.Errorf("alerts = %v, want none", kinds(al))
		}
	})
}
