package modbus

import (
	"fmt"
	"net/netip"
	"time"
)

// Alert kinds (the record kind of the threat record the caller emits).
const (
	KindWriteNewMaster      = "modbus.write_new_master"
	KindDiagnostic          = "modbus.diagnostic"
	KindIdentificationSweep = "modbus.identification_sweep"
	KindScan                = "modbus.scan"
	KindBroadcastWrite      = "modbus.broadcast_write"
	KindProgramFunction     = "modbus.program_function"
	KindMalformedFlood      = "modbus.malformed_flood"
	KindExceptionRate       = "modbus.exception_rate"
)

// Severities of an Alert (the values of collectors.Severity).
const (
	SeverityInfo     = "info"
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Alert is a detection raised by the Analyzer. The caller rate-limits alerts
// per kind and source and turns them into threat records.
type Alert struct {
	// Kind is one of the Kind* constants.
	Kind string `json:"kind"`
	// Severity is info, low, medium, high or critical.
	Severity string `json:"severity"`
	// Time is the capture time of the ADU that raised the alert.
	Time time.Time `json:"time"`
	// Client is the Modbus client (master) ip; ClientPort the client's TCP
	// port on the connection that raised the alert.
	Client     netip.Addr `json:"client"`
	ClientPort uint16     `json:"client_port"`
	// Server is the Modbus server (ip:port) of the ADU that raised the alert.
	Server netip.AddrPort `json:"server"`
	// UnitID and Function are those of the ADU that raised the alert.
	UnitID   uint8 `json:"unit_id"`
	Function uint8 `json:"function"`
	// Message is a one-line English description.
	Message string `json:"message"`
	// Evidence holds kind-specific details (JSON-friendly values).
	Evidence map[string]any `json:"evidence,omitempty"`
}

// quietKey identifies a repeated per-source alert (diagnostic, broadcast
// write, program function) that is raised at most once per Window.
type quietKey struct {
	kind   uint8
	client netip.Addr
	server netip.AddrPort
	unit   uint8
	fc     uint8
	sub    uint16
}

const (
	quietDiagnostic uint8 = iota + 1
	quietBroadcast
	quietProgram
)

// raise queues al, within MaxAlerts.
func (a *Analyzer) raise(al Alert) { a.alerts.Push(al) }

// quietAllows reports whether an alert of key k may be raised at ts (none
// within Window), and the number of identical alerts suppressed since the
// last one.
func (a *Analyzer) quietAllows(k quietKey, ts time.Time) (bool, uint64) { return a.quiet.Allow(k, ts) }

// windowFor resets the client's detection window when it has expired.
func (a *Analyzer) windowFor(c *clientState, ts time.Time) {
	w := &c.win
	if w.start.IsZero() || ts.Sub(w.start) >= a.cfg.Window {
		ids := w.idTargets[:0]
		*w = clientWindow{start: ts, idTargets: ids}
	}
}

func (s *Session) baseAlert(kind, sev string, ad *ADU, ts time.Time) Alert {
	return Alert{Kind: kind, Severity: sev, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
		UnitID: ad.UnitID, Function: ad.Function}
}

// onRequest runs the request detections.
func (a *Analyzer) onRequest(s *Session, ad *ADU, c *clientState, ts time.Time) {
	fc := ad.Function & 0x7F
	class := Classify(fc)
	a.windowFor(c, ts)
	w := &c.win

	if class == ClassWrite {
		c.wrote = true
		if n := a.writers.Get(s.clientIP); n == nil {
			a.writers.Add(s.clientIP)
			al := s.baseAlert(KindWriteNewMaster, SeverityMedium, ad, ts)
			al.Message = fmt.Sprintf("first write seen from client %s: %s to %s unit %d", s.clientIP, FunctionName(fc), s.server, ad.UnitID)
			al.Evidence = writeEvidence(ad)
			a.raise(al)
		}
		if ad.UnitID == 0 {
			if ok, sup := a.quietAllows(quietKey{kind: quietBroadcast, client: s.clientIP, server: s.server, fc: fc}, ts); ok {
				al := s.baseAlert(KindBroadcastWrite, SeverityHigh, ad, ts)
				al.Message = fmt.Sprintf("broadcast write (unit 0): %s from %s to %s", FunctionName(fc), s.clientIP, s.server)
				al.Evidence = writeEvidence(ad)
				al.Evidence["suppressed_since_last"] = sup
				a.raise(al)
			}
		}
	}

	if sub, ok := ad.DiagnosticSubFunction(); ok {
		sev, what := SeverityLow, "diagnostics"
		switch sub {
		case DiagRestartCommunication:
			sev, what = SeverityHigh, "restart communications"
		case DiagForceListenOnly:
			sev, what = SeverityHigh, "force listen only mode"
		case DiagReturnQueryData:
			sev, what = SeverityInfo, "return query data"
		case DiagClearCounters:
			what = "clear counters and diagnostic register"
		}
		if ok, sup := a.quietAllows(quietKey{kind: quietDiagnostic, client: s.clientIP, server: s.server, unit: ad.UnitID, fc: fc, sub: sub}, ts); ok {
			al := s.baseAlert(KindDiagnostic, sev, ad, ts)
			al.Message = fmt.Sprintf("FC 8 %s (sub-function 0x%04x) from %s to %s unit %d", what, sub, s.clientIP, s.server, ad.UnitID)
			al.Evidence = map[string]any{"sub_function": sub, "sub_function_name": what, "suppressed_since_last": sup}
			a.raise(al)
		}
	} else if fc == 8 {
		// a Diagnostics request too short for a sub-function is itself odd
		if ok, sup := a.quietAllows(quietKey{kind: quietDiagnostic, client: s.clientIP, server: s.server, unit: ad.UnitID, fc: fc, sub: 0xFFFF}, ts); ok {
			al := s.baseAlert(KindDiagnostic, SeverityLow, ad, ts)
			al.Message = fmt.Sprintf("FC 8 diagnostics without sub-function from %s to %s", s.clientIP, s.server)
			al.Evidence = map[string]any{"suppressed_since_last": sup}
			a.raise(al)
		}
	}

	if class == ClassProgram {
		sub := uint16(0xFFFF)
		sev := SeverityHigh
		ev := map[string]any{"function_code": fc}
		if fc == 90 && len(ad.Data) >= 2 {
			sub = uint16(ad.Data[1])
			ev["umas_function"] = ad.Data[1]
			if name := umasName(ad.Data[1]); name != "" {
				ev["umas_function_name"] = name
			}
			if umasCritical(ad.Data[1]) {
				sev = SeverityCritical
			}
		}
		if ok, sup := a.quietAllows(quietKey{kind: quietProgram, client: s.clientIP, server: s.server, unit: ad.UnitID, fc: fc, sub: sub}, ts); ok {
			al := s.baseAlert(KindProgramFunction, sev, ad, ts)
			al.Message = fmt.Sprintf("vendor programming function %d (%s) from %s to %s unit %d", fc, FunctionName(fc), s.clientIP, s.server, ad.UnitID)
			ev["suppressed_since_last"] = sup
			al.Evidence = ev
			a.raise(al)
		}
	}

	// identification sweep: FC 43/14 or FC 17 to many (server, unit) targets
	if mei, ok := ad.MEIType(); (ok && mei == MEIReadDeviceIdentity) || fc == 17 {
		k := identKey{server: s.server, unit: ad.UnitID}
		seen := false
		for _, t := range w.idTargets {
			if t == k {
				seen = true
				break
			}
		}
		if !seen && len(w.idTargets) < a.cfg.IdentSweepThreshold {
			w.idTargets = append(w.idTargets, k)
		}
		if len(w.idTargets) >= a.cfg.IdentSweepThreshold && w.fired&winFiredIdent == 0 {
			w.fired |= winFiredIdent
			targets := make([]string, 0, len(w.idTargets))
			for _, t := range w.idTargets {
				targets = append(targets, fmt.Sprintf("%s/%d", t.server, t.unit))
			}
			al := s.baseAlert(KindIdentificationSweep, SeverityMedium, ad, ts)
			al.Message = fmt.Sprintf("client %s asked %d devices for identification within %s", s.clientIP, len(w.idTargets), a.cfg.Window)
			al.Evidence = map[string]any{"targets": targets, "window": a.cfg.Window.String()}
			a.raise(al)
		}
	}

	// scans: many unit ids or many function codes from one client
	if w.units.add(ad.UnitID) {
		w.nUnits++
	}
	if w.fcs.add(fc) {
		w.nFCs++
	}
	if w.nUnits >= a.cfg.ScanUnitThreshold && w.fired&winFiredScanUnits == 0 {
		w.fired |= winFiredScanUnits
		al := s.baseAlert(KindScan, SeverityMedium, ad, ts)
		al.Message = fmt.Sprintf("client %s addressed %d unit ids within %s", s.clientIP, w.nUnits, a.cfg.Window)
		al.Evidence = map[string]any{"reason": "unit_ids", "unit_ids": intList(w.units.list()), "window": a.cfg.Window.String()}
		a.raise(al)
	}
	if w.nFCs >= a.cfg.ScanFCThreshold && w.fired&winFiredScanFCs == 0 {
		w.fired |= winFiredScanFCs
		al := s.baseAlert(KindScan, SeverityMedium, ad, ts)
		al.Message = fmt.Sprintf("client %s used %d function codes within %s", s.clientIP, w.nFCs, a.cfg.Window)
		al.Evidence = map[string]any{"reason": "function_codes", "function_codes": intList(w.fcs.list()), "window": a.cfg.Window.String()}
		a.raise(al)
	}
}

// checkExceptionRate runs after each response to the client.
func (a *Analyzer) checkExceptionRate(s *Session, ad *ADU, c *clientState, ts time.Time) {
	w := &c.win
	if w.fired&winFiredExceptions != 0 || w.responses < a.cfg.ExceptionMinResponses {
		return
	}
	rate := float64(w.exceptions) / float64(w.responses)
	if rate < a.cfg.ExceptionRateThreshold {
		return
	}
	w.fired |= winFiredExceptions
	al := s.baseAlert(KindExceptionRate, SeverityMedium, ad, ts)
	al.Message = fmt.Sprintf("%d of %d responses to client %s were exceptions within %s", w.exceptions, w.responses, s.clientIP, a.cfg.Window)
	al.Evidence = map[string]any{"responses": w.responses, "exceptions": w.exceptions, "rate": rate, "window": a.cfg.Window.String()}
	a.raise(al)
}

// checkMalformed runs after each malformed frame or garbage run.
func (a *Analyzer) checkMalformed(s *Session, c *clientState, ts time.Time) {
	w := &c.win
	if w.fired&winFiredMalformed != 0 || w.malformed < a.cfg.MalformedFloodThreshold {
		return
	}
	w.fired |= winFiredMalformed
	al := Alert{Kind: KindMalformedFlood, Severity: SeverityMedium, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server}
	al.Message = fmt.Sprintf("%d malformed Modbus frames on connections of client %s within %s", w.malformed, s.clientIP, a.cfg.Window)
	al.Evidence = map[string]any{"malformed": w.malformed, "window": a.cfg.Window.String()}
	a.raise(al)
}

func writeEvidence(ad *ADU) map[string]any {
	ev := map[string]any{"function_name": FunctionName(ad.Function)}
	acc, n := ad.RequestAccesses()
	for i := 0; i < n; i++ {
		if acc[i].Write {
			ev["table"] = acc[i].Table.String()
			ev["address"] = acc[i].Start
			ev["quantity"] = acc[i].Quantity
		}
	}
	return ev
}

func intList(v []uint8) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// umasName names the Schneider UMAS sub-function codes detections care about.
func umasName(c uint8) string {
	switch c {
	case 0x01:
		return "INIT_COMM"
	case 0x02:
		return "READ_ID"
	case 0x10:
		return "TAKE_PLC_RESERVATION"
	case 0x11:
		return "RELEASE_PLC_RESERVATION"
	case 0x12:
		return "KEEP_ALIVE"
	case 0x20:
		return "READ_MEMORY_BLOCK"
	case 0x22:
		return "READ_VARIABLES"
	case 0x23:
		return "WRITE_VARIABLES"
	case 0x24:
		return "READ_COILS_REGISTERS"
	case 0x25:
		return "WRITE_COILS_REGISTERS"
	case 0x30:
		return "INITIALIZE_DOWNLOAD"
	case 0x31:
		return "DOWNLOAD_BLOCK"
	case 0x32:
		return "END_DOWNLOAD"
	case 0x33:
		return "INITIALIZE_UPLOAD"
	case 0x34:
		return "UPLOAD_BLOCK"
	case 0x35:
		return "END_UPLOAD"
	case 0x40:
		return "START_PLC"
	case 0x41:
		return "STOP_PLC"
	}
	return ""
}

// umasCritical reports UMAS codes that change the controller's program or
// run state.
func umasCritical(c uint8) bool {
	switch c {
	case 0x30, 0x31, 0x32, 0x40, 0x41:
		return true
	}
	return false
}
