package modbus

import (
	"fmt"
	"math/bits"
	"time"
)

// result is what became of a request.
type result uint8

const (
	// resExecuted: a normal (non-exception) response came back.
	resExecuted result = iota
	// resRefused: an exception response came back.
	resRefused
	// resUnanswered: no response within Config.ResponseTimeout, before the
	// connection ended, or before the pending table dropped the request.
	resUnanswered
	// resBroadcast: a request to unit 0 without a response, which the
	// specification defines for broadcasts; never counted unanswered.
	resBroadcast
)

// Outcome strings of Alert.Outcome.
const (
	OutcomeExecuted   = "executed"
	OutcomeUnanswered = "unanswered"
	OutcomeBroadcast  = "broadcast"
	// OutcomeRefusedPrefix starts the outcome of a request answered by an
	// exception: "refused:exception 1".
	OutcomeRefusedPrefix = "refused:exception "
)

// outcomeString names a result for Alert.Outcome.
func outcomeString(r result, code uint8) string {
	switch r {
	case resExecuted:
		return OutcomeExecuted
	case resRefused:
		return refusedOutcomes[code]
	case resBroadcast:
		return OutcomeBroadcast
	}
	return OutcomeUnanswered
}

// refusedOutcomes are the refused outcome strings by exception code, made
// once: an outcome is named for every refused request.
var refusedOutcomes = func() (t [256]string) {
	for i := range t {
		t[i] = fmt.Sprintf("%s%d", OutcomeRefusedPrefix, i)
	}
	return t
}()

// maxRefusedCodes bounds the exception codes kept apart per device and
// flow; requests refused with further codes are counted in the flow's and
// device's exceptions but not detailed.
const maxRefusedCodes = 8

// outcomeSet accounts the requests of one outcome of a device: how many,
// to which unit ids, with which function codes.
type outcomeSet struct {
	code       uint8 // exception code (refused sets)
	requests   uint64
	units, fcs bitset256
}

func (o *outcomeSet) add(unit, fc uint8) {
	o.requests++
	o.units.add(unit)
	o.fcs.add(fc)
}

// outcomeRanges is an outcomeSet with the address ranges of the requests,
// for flows.
type outcomeRanges struct {
	outcomeSet
	read, written [numTables]rangeSet
}

// add accounts request p; it returns by how many intervals the capacity
// of the range sets grew.
func (o *outcomeRanges) add(p *pending) int {
	o.outcomeSet.add(p.unit, p.fc)
	return addAccesses(&o.read, &o.written, p)
}

// addAccesses adds the table ranges of request p to read and written and
// returns by how many intervals their capacity grew.
func addAccesses(read, written *[numTables]rangeSet, p *pending) int {
	grew := 0
	for i := 0; i < int(p.nacc); i++ {
		acc := &p.acc[i]
		set := &read[acc.Table]
		if acc.Write {
			set = &written[acc.Table]
		}
		c := cap(set.r)
		set.add(acc.Start, acc.Quantity)
		grew += cap(set.r) - c
	}
	return grew
}

// refusedSet returns the set of exception code among sets, adding it when
// there is room (nil when there is none).
func refusedSet[T any](sets *[]T, code uint8, codeOf func(*T) uint8, mk func(uint8) T) *T {
	for i := range *sets {
		if codeOf(&(*sets)[i]) == code {
			return &(*sets)[i]
		}
	}
	if len(*sets) >= maxRefusedCodes {
		return nil
	}
	*sets = append(*sets, mk(code))
	return &(*sets)[len(*sets)-1]
}

// Outcome summarises the requests of one outcome on a device or flow:
// refused with one exception code, or unanswered.
type Outcome struct {
	// Exception is the exception code of refused requests (0 for
	// unanswered ones).
	Exception uint8 `json:"exception,omitempty"`
	// Requests counts the requests.
	Requests uint64 `json:"requests"`
	// UnitIDs and FunctionCodes are those of the requests, sorted.
	UnitIDs       []uint8 `json:"unit_ids"`
	FunctionCodes []uint8 `json:"function_codes"`
	// Read and Written are the address ranges the requests asked for
	// (flows only).
	Read    AddressRanges `json:"read,omitzero"`
	Written AddressRanges `json:"written,omitzero"`
}

func (o *outcomeSet) export() Outcome {
	return Outcome{Exception: o.code, Requests: o.requests, UnitIDs: o.units.list(), FunctionCodes: o.fcs.list()}
}

func (o *outcomeRanges) export() Outcome {
	out := o.outcomeSet.export()
	out.Read, out.Written = rangesOf(&o.read), rangesOf(&o.written)
	return out
}

// resolve accounts what became of request p (code: the exception code of
// a refused one) in the flow, device and client tables and runs the
// detections that depend on it. The caller marks p unused.
func (s *Session) resolve(p *pending, r result, code uint8, ts time.Time) {
	if r == resUnanswered && p.unit == 0 {
		r = resBroadcast
	}
	f, d := s.flowVal(ts), s.devVal(ts)
	switch r {
	case resExecuted:
		f.units.add(p.unit)
		d.units.add(p.unit)
		f.rangeCap += addAccesses(&f.read, &f.written, p)
	case resRefused:
		if o := refusedSet(&f.refused, code, func(o *outcomeRanges) uint8 { return o.code },
			func(c uint8) outcomeRanges { return outcomeRanges{outcomeSet: outcomeSet{code: c}} }); o != nil {
			f.rangeCap += o.add(p)
		}
		if o := refusedSet(&d.refused, code, func(o *outcomeSet) uint8 { return o.code },
			func(c uint8) outcomeSet { return outcomeSet{code: c} }); o != nil {
			o.add(p.unit, p.fc)
		}
	case resUnanswered:
		f.unanswered++
		f.rangeCap += f.noResponse.add(p)
		d.noResponse.add(p.unit, p.fc)
	case resBroadcast:
		f.broadcasts++
		d.broadcasts++
	}
	s.a.onOutcome(s, p, r, code, ts)
}

// flowVal returns the session's flow, without moving it in the LRU when
// the session holds it already (handle just did); its growth is measured
// at the next touch.
func (s *Session) flowVal(ts time.Time) *flowState {
	if n := s.flow; n != nil && !n.Gone {
		return &n.Val
	}
	return &s.flowNode(ts).Val
}

// devVal is flowVal for the session's device.
func (s *Session) devVal(ts time.Time) *deviceState {
	if n := s.dev; n != nil && !n.Gone {
		return &n.Val
	}
	return &s.devNode(ts).Val
}

// cliVal is flowVal for the session's client.
func (s *Session) cliVal(ts time.Time) *clientState {
	if n := s.cli; n != nil && !n.Gone {
		return &n.Val
	}
	return &s.cliNode(ts).Val
}

// unassignedFCs are the function codes the specification does not assign.
var unassignedFCs = func() (b bitset256) {
	for fc := 0; fc < 128; fc++ {
		if Classify(uint8(fc)) == ClassUnknown {
			b.add(uint8(fc))
		}
	}
	return b
}()

// and returns the values in both b and c.
func (b *bitset256) and(c *bitset256) bitset256 {
	return bitset256{b[0] & c[0], b[1] & c[1], b[2] & c[2], b[3] & c[3]}
}

// expirePending resolves as unanswered the pending requests sent more than
// Config.ResponseTimeout before ts.
func (s *Session) expirePending(ts time.Time) {
	if s.hi == 0 {
		return
	}
	limit := ts.UnixNano() - int64(s.a.cfg.ResponseTimeout)
	for i := 0; i < s.hi; i++ {
		if p := &s.pending[i]; p.used && p.at < limit {
			p.used = false
			s.resolve(p, resUnanswered, 0, ts)
		}
	}
	for s.hi > 0 && !s.pending[s.hi-1].used {
		s.hi--
	}
}

// count returns the number of values in b.
func (b *bitset256) count() int {
	return bits.OnesCount64(b[0]) + bits.OnesCount64(b[1]) + bits.OnesCount64(b[2]) + bits.OnesCount64(b[3])
}

// andNot returns the values of b not in c.
func (b *bitset256) andNot(c *bitset256) bitset256 {
	return bitset256{b[0] &^ c[0], b[1] &^ c[1], b[2] &^ c[2], b[3] &^ c[3]}
}
