package modbus

import (
	"fmt"
	"net/netip"
	"slices"
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
	// Time is the capture time of the request that raised the alert (of
	// the ADU that completed a window detection).
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
	// Outcome is what became of the request that raised a per-request
	// alert: "executed" (normal response), "refused:exception N",
	// "unanswered" or "broadcast" (unit 0, no response by design); empty
	// for window detections (scans, sweeps, rates, floods).
	Outcome string `json:"outcome,omitempty"`
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
	// refused keeps refused attempts apart from executed requests, so
	// that an attempt does not silence the change that follows it.
	refused bool
}

const (
	quietDiagnostic uint8 = iota + 1
	quietBroadcast
	quietProgram
	quietWriteAttempt
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
	if now := ts.UnixNano(); !w.started || now-w.start >= int64(a.cfg.Window) || now < w.start {
		for i := range c.fcsHist {
			c.fcsHist[i] |= w.fcsTried[i]
		}
		ids, addrs := w.idTargets[:0], w.addrTargets[:0]
		*w = clientWindow{start: now, started: true, idTargets: ids, addrTargets: addrs}
	}
}

func (s *Session) baseAlert(kind, sev string, p *pending, r result, code uint8) Alert {
	return Alert{Kind: kind, Severity: sev, Time: p.time().UTC(), Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
		UnitID: p.unit, Function: p.fc, Outcome: outcomeString(r, code)}
}

// bySeverity adjusts the severity sev of an alert on a request that had
// outcome r: a refused request is an attempt (low at most); the others
// keep sev.
func bySeverity(sev string, r result) string {
	if r == resRefused && sev != SeverityInfo {
		return SeverityLow
	}
	return sev
}

// learning reports whether ts falls in Config.LearnPeriod.
func (a *Analyzer) learning(ts time.Time) bool {
	return a.cfg.LearnPeriod > 0 && ts.Sub(a.start) < a.cfg.LearnPeriod
}

// onOutcome runs the detections of request p once its outcome r is known
// (code: the exception code of a refused request) at ts.
func (a *Analyzer) onOutcome(s *Session, p *pending, r result, code uint8, ts time.Time) {
	fc := p.fc
	class := Classify(fc)
	c := s.cliVal(ts)
	a.windowFor(c, ts)
	w := &c.win
	if r == resExecuted {
		c.fcsOK.add(fc)
	}
	outcome := outcomeString(r, code)

	if class == ClassWrite {
		a.checkWriter(s, p, r, code)
		if r == resBroadcast {
			if ok, sup := a.quietAllows(quietKey{kind: quietBroadcast, client: s.clientIP, server: s.server, fc: fc}, p.time()); ok {
				al := s.baseAlert(KindBroadcastWrite, SeverityHigh, p, r, code)
				al.Message = fmt.Sprintf("broadcast write (unit 0): %s from %s to %s", FunctionName(fc), s.clientIP, s.server)
				al.Evidence = writeEvidence(p)
				al.Evidence["suppressed_since_last"] = sup
				a.raise(al)
			}
		}
	}

	if fc == 8 {
		sev, what, raise := diagnosticSeverity(p.sub)
		if raise {
			if ok, sup := a.quietAllows(quietKey{kind: quietDiagnostic, client: s.clientIP, server: s.server, unit: p.unit, fc: fc, sub: p.sub, refused: r == resRefused}, p.time()); ok {
				al := s.baseAlert(KindDiagnostic, bySeverity(sev, r), p, r, code)
				if p.sub == noSub {
					al.Message = fmt.Sprintf("FC 8 diagnostics without sub-function from %s to %s (%s)", s.clientIP, s.server, outcome)
					al.Evidence = map[string]any{"suppressed_since_last": sup}
				} else {
					al.Message = fmt.Sprintf("FC 8 %s (sub-function 0x%04x) from %s to %s unit %d (%s)", what, p.sub, s.clientIP, s.server, p.unit, outcome)
					al.Evidence = map[string]any{"sub_function": p.sub, "sub_function_name": what, "suppressed_since_last": sup}
				}
				a.raise(al)
			}
		}
	}

	if class == ClassProgram {
		sev := SeverityHigh
		ev := map[string]any{"function_code": fc}
		if fc == 90 && p.sub != noSub {
			ev["umas_function"] = uint8(p.sub)
			if name := umasName(uint8(p.sub)); name != "" {
				ev["umas_function_name"] = name
			}
			if umasCritical(uint8(p.sub)) {
				sev = SeverityCritical
			}
		}
		what := "vendor programming function"
		switch r {
		case resRefused:
			sev, what = SeverityLow, "refused vendor programming function (probe attempt)"
		case resUnanswered:
			sev = SeverityMedium
		}
		if ok, sup := a.quietAllows(quietKey{kind: quietProgram, client: s.clientIP, server: s.server, unit: p.unit, fc: fc, sub: p.sub, refused: r == resRefused}, p.time()); ok {
			al := s.baseAlert(KindProgramFunction, sev, p, r, code)
			al.Message = fmt.Sprintf("%s %d (%s) from %s to %s unit %d (%s)", what, fc, FunctionName(fc), s.clientIP, s.server, p.unit, outcome)
			ev["suppressed_since_last"] = sup
			al.Evidence = ev
			a.raise(al)
		}
	}

	if (fc == 43 && p.sub == uint16(MEIReadDeviceIdentity)) || fc == 17 {
		a.checkIdentSweep(s, p, r, code, w, ts)
	}
	a.checkScan(s, p, r, code, c, ts)
}

// checkWriter raises modbus.write_new_master for a write of a client not
// learned as a writer: medium when it executed (or was broadcast), and the
// client is learned; low when it was refused or unanswered (an attempt,
// at most once per Window), and the client is not learned. Within
// Config.LearnPeriod writers are learned silently.
func (a *Analyzer) checkWriter(s *Session, p *pending, r result, code uint8) {
	b := s.clientIP.As16()
	slot := &a.writerCache[b[15]%uint8(len(a.writerCache))]
	if n := *slot; n != nil && !n.Gone && n.Key == s.clientIP {
		a.writers.Touch(n) // what Get does, without the map lookup
		return
	}
	if n := a.writers.Get(s.clientIP); n != nil {
		*slot = n
		return
	}
	done := r == resExecuted || r == resBroadcast
	if done {
		*slot = a.writers.Add(s.clientIP)
		a.learnedGen++
	}
	at := p.time()
	if a.learning(at) {
		return
	}
	sev, what := SeverityMedium, "first write seen"
	if !done {
		ok, _ := a.quietAllows(quietKey{kind: quietWriteAttempt, client: s.clientIP}, at)
		if !ok {
			return
		}
		sev, what = SeverityLow, "write attempt"
	}
	al := s.baseAlert(KindWriteNewMaster, sev, p, r, code)
	al.Message = fmt.Sprintf("%s from client %s: %s to %s unit %d (%s)", what, s.clientIP, FunctionName(p.fc), s.server, p.unit, al.Outcome)
	al.Evidence = writeEvidence(p)
	a.raise(al)
}

// diagnosticSeverity returns the severity and name of FC 8 sub-function
// sub, and whether it raises modbus.diagnostic at all: the sub-functions
// that only read (return query data, the diagnostic register, counters)
// do not; those that change the device's communication state do.
func diagnosticSeverity(sub uint16) (sev, what string, raise bool) {
	switch sub {
	case DiagRestartCommunication:
		return SeverityHigh, "restart communications", true
	case DiagForceListenOnly:
		return SeverityHigh, "force listen only mode", true
	case DiagClearCounters:
		return SeverityLow, "clear counters and diagnostic register", true
	case 0x0003:
		return SeverityLow, "change ASCII input delimiter", true
	case 0x0014:
		return SeverityLow, "clear overrun counter and flag", true
	case DiagReturnQueryData, 0x0002, 0x000B, 0x000C, 0x000D, 0x000E, 0x000F, 0x0010, 0x0011, 0x0012:
		return SeverityInfo, "read-only diagnostics", false
	case noSub:
		return SeverityLow, "", true
	}
	return SeverityLow, "diagnostics", true
}

// checkIdentSweep runs the identification sweep detection on FC 43/14 or
// FC 17 request p: many servers asked, or many (server, unit) targets that
// refused or did not answer.
func (a *Analyzer) checkIdentSweep(s *Session, p *pending, r result, code uint8, w *clientWindow, ts time.Time) {
	k := identKey{server: s.server, unit: p.unit}
	i := 0
	for ; i < len(w.idTargets) && w.idTargets[i].identKey != k; i++ {
	}
	if i == len(w.idTargets) {
		if len(w.idTargets) >= maxIdentTargets {
			return
		}
		w.idTargets = append(w.idTargets, identTarget{identKey: k})
	}
	if r == resExecuted {
		w.idTargets[i].ok = true
	}
	if w.fired&winFiredIdent != 0 {
		return
	}
	var servers []netip.AddrPort
	failed := 0
	for _, t := range w.idTargets {
		if !t.ok {
			failed++
		}
		if !slices.Contains(servers, t.server) {
			servers = append(servers, t.server)
		}
	}
	if len(servers) < a.cfg.IdentSweepThreshold && failed < 2*a.cfg.IdentSweepThreshold {
		return
	}
	w.fired |= winFiredIdent
	targets := make([]string, 0, len(w.idTargets))
	for _, t := range w.idTargets {
		targets = append(targets, fmt.Sprintf("%s/%d", t.server, t.unit))
	}
	al := s.baseAlert(KindIdentificationSweep, SeverityMedium, p, r, code)
	al.Time = ts.UTC()
	al.Outcome = ""
	al.Message = fmt.Sprintf("client %s asked %d targets on %d servers for identification within %s, %d refused or unanswered",
		s.clientIP, len(w.idTargets), len(servers), a.cfg.Window, failed)
	al.Evidence = map[string]any{"targets": targets, "servers": len(servers), "failed_targets": failed, "window": a.cfg.Window.String()}
	a.raise(al)
}

// maxIdentTargets bounds the identification targets kept per window.
const maxIdentTargets = 256

// checkScan runs the scan detections on resolved request p: unit ids that
// refuse or do not answer, function codes the device does not support and
// the client never had answered, addresses the device refuses.
func (a *Analyzer) checkScan(s *Session, p *pending, r result, code uint8, c *clientState, ts time.Time) {
	w := &c.win
	if p.unit != 0 && r != resBroadcast {
		w.unitsTried.add(p.unit)
		if r == resExecuted {
			w.unitsOK.add(p.unit)
		}
	}
	w.fcsTried.add(p.fc)
	if r == resUnanswered || (r == resRefused && code == 1) {
		w.fcsFailed.add(p.fc)
	}
	if p.nacc > 0 && r != resBroadcast {
		w.dataRequests++
	}
	if r == resExecuted {
		return // only a failure can complete a scan
	}
	if p.nacc > 0 && r != resBroadcast {
		if r == resRefused && code == 2 {
			w.addrRefused++
			k := addrKey{table: p.acc[0].Table, start: p.acc[0].Start}
			if len(w.addrTargets) < a.cfg.ScanAddressThreshold && !slices.Contains(w.addrTargets, k) {
				w.addrTargets = append(w.addrTargets, k)
			}
		}
	}
	scan := func(bit uint8, reason, msg string, ev map[string]any) {
		w.fired |= bit
		al := s.baseAlert(KindScan, SeverityMedium, p, r, code)
		al.Time = ts.UTC()
		al.Outcome = ""
		al.Message = msg
		ev["reason"] = reason
		ev["window"] = a.cfg.Window.String()
		al.Evidence = ev
		a.raise(al)
	}
	if w.fired&winFiredScanUnits == 0 {
		failed := w.unitsTried.andNot(&w.unitsOK)
		if n, tried := failed.count(), w.unitsTried.count(); n >= a.cfg.ScanUnitThreshold && 2*n >= tried {
			scan(winFiredScanUnits, "unit_ids", fmt.Sprintf("client %s addressed %d unit ids within %s, %d of them refused or did not answer", s.clientIP, tried, a.cfg.Window, n),
				map[string]any{"unit_ids_failed": intList(failed.list()), "unit_ids_addressed": tried})
		}
	}
	if w.fired&winFiredScanFCs == 0 {
		known := c.fcsOK
		for i := range known {
			known[i] |= c.fcsHist[i]
		}
		fresh := w.fcsFailed.andNot(&known)
		un := fresh.and(&unassignedFCs)
		if n, unassigned := fresh.count(), un.count(); n >= a.cfg.ScanFCThreshold && 2*unassigned >= a.cfg.ScanFCThreshold {
			scan(winFiredScanFCs, "function_codes", fmt.Sprintf("client %s tried %d function codes the device refused as illegal or left unanswered within %s", s.clientIP, n, a.cfg.Window),
				map[string]any{"function_codes": intList(fresh.list()), "unassigned": unassigned})
		}
	}
	if w.fired&winFiredScanAddrs == 0 && len(w.addrTargets) >= a.cfg.ScanAddressThreshold && 2*w.addrRefused >= w.dataRequests {
		scan(winFiredScanAddrs, "addresses", fmt.Sprintf("client %s had %d of %d requests refused as illegal data addresses (%d start addresses) within %s",
			s.clientIP, w.addrRefused, w.dataRequests, len(w.addrTargets), a.cfg.Window),
			map[string]any{"refused": w.addrRefused, "requests": w.dataRequests, "start_addresses": len(w.addrTargets)})
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
	al := Alert{Kind: KindExceptionRate, Severity: SeverityMedium, Time: ts, Client: s.clientIP, ClientPort: s.client.Port(), Server: s.server,
		UnitID: ad.UnitID, Function: ad.Function}
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

func writeEvidence(p *pending) map[string]any {
	ev := map[string]any{"function_name": FunctionName(p.fc)}
	for i := 0; i < int(p.nacc); i++ {
		if acc := p.acc[i]; acc.Write {
			ev["table"] = acc.Table.String()
			ev["address"] = acc.Start
			ev["quantity"] = acc.Quantity
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
