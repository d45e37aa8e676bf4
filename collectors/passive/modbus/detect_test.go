package modbus

import (
	"net/netip"
	"testing"
	"time"
)

// kinds returns the kinds of the alerts, in order.
func kinds(al []Alert) []string {
	var out []string
	for _, a := range al {
		out = append(out, a.Kind)
	}
	return out
}

// exchange feeds a request and its response on s at ts.
func exchange(s *Session, req, resp []byte, ts time.Time) {
	s.Feed(true, req, ts)
	if resp != nil {
		s.Feed(false, resp, ts)
	}
}

func TestBenignPollingIsSilent(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{})
	s := a.NewSession(testClient, testServer)
	ts := testT0
	for i := 0; i < 10000; i++ {
		req, resp := readHolding(uint16(i), 1, 0, 10)
		exchange(s, req, resp, ts)
		ts = ts.Add(100 * time.Millisecond)
	}
	s.Close(ts)
	if al := a.TakeAlerts(); len(al) != 0 {
		t.Errorf("benign polling raised %v", kinds(al))
	}
}

func TestFirstWriteLearnedOnce(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{})
	s := a.NewSession(testClient, testServer)
	ts := testT0
	for i := 0; i < 100; i++ {
		req, resp := readHolding(uint16(i), 1, 0, 10)
		exchange(s, req, resp, ts)
		w := mbap(uint16(i), 1, 6, 0, 1, 0, byte(i))
		exchange(s, w, w, ts)
		ts = ts.Add(time.Second)
	}
	al := a.TakeAlerts()
	if len(al) != 1 || al[0].Kind != KindWriteNewMaster || al[0].Client != testClient.Addr() || al[0].Function != 6 {
		t.Fatalf("alerts = %+v, want one %s", al, KindWriteNewMaster)
	}
	if al[0].Evidence["address"] != uint16(1) || al[0].Evidence["table"] != "holding_registers" {
		t.Errorf("evidence = %v", al[0].Evidence)
	}
	// a second client writing is new again
	s2 := a.NewSession(testClient2, testServer)
	w := mbap(1, 1, 5, 0, 3, 0xff, 0)
	exchange(s2, w, w, ts)
	if got := a.TakeAlerts(); len(got) != 1 || got[0].Kind != KindWriteNewMaster || got[0].Outcome != OutcomeExecuted {
		t.Errorf("second client alerts = %+v", got)
	}
}

func TestDetections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		traffic  func(a *Analyzer)
		wantKind string
		wantSev  string
	}{
		{"restart communications", Config{}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			// digitalbond-modbus_test_data_part1.pcap frame 15
			s.Feed(true, unhex(t, "0000 0000 0006 0a 08 0001 0000"), testT0)
			s.Close(testT0) // unanswered: the device may have restarted
		}, KindDiagnostic, SeverityHigh},
		{"force listen only", Config{}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			// digitalbond-modbus_test_data_part1.pcap frame 8
			s.Feed(true, unhex(t, "0000 0000 0006 0a 08 0004 0000"), testT0)
			s.Close(testT0) // no response, by the specification
		}, KindDiagnostic, SeverityHigh},
		{"other diagnostics", Config{}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			w := unhex(t, "0000 0000 0006 0a 08 000a 0000")
			exchange(s, w, w, testT0)
		}, KindDiagnostic, SeverityLow},
		{"identification sweep", Config{IdentSweepThreshold: 3}, func(a *Analyzer) {
			for i := 1; i <= 3; i++ {
				sv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 502)
				s := a.NewSession(testClient, sv)
				s.Feed(true, mbap(1, 1, 0x2b, 0x0e, 0x01, 0x00), testT0.Add(time.Duration(i)*time.Second))
				s.Close(testT0.Add(time.Duration(i) * time.Second))
			}
		}, KindIdentificationSweep, SeverityMedium},
		{"unit id scan", Config{ScanUnitThreshold: 16}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			for u := 1; u <= 20; u++ { // a gateway: unit 1 answers, the others fail
				req, resp := readHolding(uint16(u), uint8(u), 0, 1)
				if u > 1 {
					resp = mbap(uint16(u), uint8(u), 0x83, 0x0b)
				}
				exchange(s, req, resp, testT0)
			}
		}, KindScan, SeverityMedium},
		{"function code scan", Config{ScanFCThreshold: 8}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			for fc := 1; fc <= 4; fc++ { // supported, answered
				req, resp := readHolding(uint16(fc), 1, 0, 1)
				exchange(s, req, resp, testT0)
			}
			for fc := byte(30); fc < 38; fc++ { // unsupported: exception 1
				exchange(s, mbap(uint16(fc), 1, fc, 0, 0), mbap(uint16(fc), 1, fc|0x80, 1), testT0)
			}
		}, KindScan, SeverityMedium},
		{"address scan", Config{}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			for i := 0; i < 16; i++ {
				exchange(s, mbap(uint16(i), 1, 3, byte(i), 0, 0, 100), mbap(uint16(i), 1, 0x83, 0x02), testT0)
			}
		}, KindScan, SeverityMedium},
		{"exception rate", Config{ExceptionMinResponses: 10}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			// lemay-characterization...pcap: FC 4 range scan answered by exception 2
			for i := 0; i < 10; i++ {
				exchange(s, mbap(uint16(i), 1, 4, byte(i), 0, 0, 1), mbap(uint16(i), 1, 0x84, 0x02), testT0)
			}
		}, KindExceptionRate, SeverityMedium},
		{"broadcast write", Config{}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			a.writers.Add(testClient.Addr()) // a known writer
			s.Feed(true, mbap(1, 0, 6, 0, 1, 0, 1), testT0)
			s.Close(testT0)
		}, KindBroadcastWrite, SeverityHigh},
		{"UMAS stop PLC", Config{}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			exchange(s, mbap(1, 0xff, 90, 0x00, 0x41, 0xff, 0x00), mbap(1, 0xff, 90, 0x00, 0xfe), testT0)
		}, KindProgramFunction, SeverityCritical},
		{"user-defined function", Config{}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			exchange(s, mbap(1, 1, 66, 1, 2, 3), mbap(1, 1, 66, 0), testT0)
		}, KindProgramFunction, SeverityHigh},
		{"malformed flood", Config{MalformedFloodThreshold: 5}, func(a *Analyzer) {
			s := a.NewSession(testClient, testServer)
			req, _ := readHolding(1, 1, 0, 1)
			s.Feed(true, req, testT0)
			for i := 0; i < 5; i++ {
				s.Feed(true, []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not modbus"), testT0)
			}
		}, KindMalformedFlood, SeverityMedium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := NewAnalyzer(tt.cfg)
			tt.traffic(a)
			al := a.TakeAlerts()
			n := 0
			for _, x := range al {
				if x.Kind == tt.wantKind {
					n++
					if x.Severity != tt.wantSev {
						t.Errorf("severity = %s, want %s (%s)", x.Severity, tt.wantSev, x.Message)
					}
					if x.Client != testClient.Addr() || x.Message == "" || x.Time.IsZero() {
						t.Errorf("alert fields = %+v", x)
					}
				}
			}
			if n != 1 {
				t.Errorf("alerts = %v, want exactly one %s", kinds(al), tt.wantKind)
			}
			if again := a.TakeAlerts(); len(again) != 0 {
				t.Errorf("TakeAlerts() again = %v, want none", kinds(again))
			}
		})
	}
}

func TestRepeatedAlertsQuietWithinWindow(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{Window: time.Minute})
	s := a.NewSession(testClient, testServer)
	umas := mbap(1, 0xff, 90, 0x00, 0x12) // UMAS keep-alive
	for i := 0; i < 100; i++ {
		exchange(s, umas, mbap(1, 0xff, 90, 0x00, 0xfe), testT0.Add(time.Duration(i)*time.Second))
	}
	al := a.TakeAlerts()
	if len(al) != 2 { // t=0 and t=60s
		t.Fatalf("alerts = %d, want 2", len(al))
	}
	if got := al[1].Evidence["suppressed_since_last"]; got != uint64(59) {
		t.Errorf("suppressed_since_last = %v, want 59", got)
	}
}

func TestAlertsBounded(t *testing.T) {
	t.Parallel()
	a := NewAnalyzer(Config{MaxAlerts: 3, MaxWriters: 100})
	for i := 0; i < 10; i++ {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 40000)
		w := mbap(1, 1, 6, 0, 1, 0, 1)
		exchange(a.NewSession(c, testServer), w, w, testT0)
	}
	if got := len(a.TakeAlerts()); got != 3 || a.AlertsDropped() != 7 {
		t.Errorf("alerts = %d, dropped = %d, want 3, 7", got, a.AlertsDropped())
	}
}
