package modbus

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"sort"
	"strconv"
)

// Stats are the capture-wide Modbus counts. It marshals (encoding/json) to
// the "modbus" section of `edgeward replay --format json` (DESIGN.md §8),
// with the field names of the tshark truth files.
type Stats struct {
	// ADUs counts every decoded ADU, requests and responses.
	ADUs uint64 `json:"adus"`
	// Requests counts ADUs sent to the server port.
	Requests uint64 `json:"requests"`
	// Responses counts ADUs sent from the server port.
	Responses uint64 `json:"responses"`
	// FunctionCodes counts requests and responses per function code
	// (exception bit masked off), keyed by the code in decimal.
	FunctionCodes FunctionCodeCounts `json:"function_codes"`
	// ExceptionsByCode counts exception responses per exception code.
	ExceptionsByCode CodeCounts `json:"exceptions_by_code"`
	// UnitIDs are the distinct unit ids of all ADUs, sorted.
	UnitIDs []int `json:"unit_ids"`
	// Servers are the distinct servers ("ip:port", "[v6]:port") with at least
	// one ADU, sorted as strings.
	Servers []string `json:"servers"`
	// DeviceIdentification holds the FC 43/14 objects per server and unit,
	// sorted by server string then unit.
	DeviceIdentification []DeviceIdentification `json:"device_identification"`
	// Malformed counts ADUs whose PDU is too short for its function code,
	// segments that fail the Modbus/TCP heuristic (skipped whole), and partial
	// frames left at the end of a connection.
	Malformed uint64 `json:"malformed"`
}

// RequestResponse is a pair of counts.
type RequestResponse struct {
	Requests  uint64 `json:"requests"`
	Responses uint64 `json:"responses"`
}

// FunctionCodeCounts maps a decimal function code to its counts. It
// marshals with the keys in numeric order.
type FunctionCodeCounts map[string]RequestResponse

// CodeCounts maps a decimal code to a count. It marshals with the keys in
// numeric order.
type CodeCounts map[string]uint64

// DeviceIdentification is the device identification of one server and unit.
type DeviceIdentification struct {
	Server  string        `json:"server"`
	UnitID  int           `json:"unit_id"`
	Objects ObjectStrings `json:"objects"`
}

// ObjectStrings maps a decimal object id to its value. It marshals with the
// keys in numeric order.
type ObjectStrings map[string]string

// MarshalJSON writes the keys in numeric order.
func (m FunctionCodeCounts) MarshalJSON() ([]byte, error) { return marshalNumericKeys(m) }

// MarshalJSON writes the keys in numeric order.
func (m CodeCounts) MarshalJSON() ([]byte, error) { return marshalNumericKeys(m) }

// MarshalJSON writes the keys in numeric order.
func (m ObjectStrings) MarshalJSON() ([]byte, error) { return marshalNumericKeys(m) }

func marshalNumericKeys[V any](m map[string]V) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(m[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Stats returns the capture-wide counts so far. The result is a copy; empty
// lists and maps are empty, never null, in JSON.
func (a *Analyzer) Stats() *Stats {
	c := &a.stats
	s := &Stats{
		ADUs: c.adus, Requests: c.requests, Responses: c.responses, Malformed: c.malformed,
		FunctionCodes:        FunctionCodeCounts{},
		ExceptionsByCode:     CodeCounts{},
		UnitIDs:              []int{},
		Servers:              []string{},
		DeviceIdentification: []DeviceIdentification{},
	}
	for fc := range c.fcReq {
		if c.fcReq[fc] != 0 || c.fcResp[fc] != 0 {
			s.FunctionCodes[strconv.Itoa(fc)] = RequestResponse{Requests: c.fcReq[fc], Responses: c.fcResp[fc]}
		}
	}
	for code, n := range c.exc {
		if n != 0 {
			s.ExceptionsByCode[strconv.Itoa(code)] = n
		}
	}
	for _, u := range c.units.list() {
		s.UnitIDs = append(s.UnitIDs, int(u))
	}
	for sv := range c.servers {
		s.Servers = append(s.Servers, sv.String())
	}
	sort.Strings(s.Servers)
	for k, objs := range c.ident {
		di := DeviceIdentification{Server: k.server.String(), UnitID: int(k.unit), Objects: ObjectStrings{}}
		for id, v := range objs {
			di.Objects[strconv.Itoa(int(id))] = v
		}
		s.DeviceIdentification = append(s.DeviceIdentification, di)
	}
	sort.Slice(s.DeviceIdentification, func(i, j int) bool {
		x, y := s.DeviceIdentification[i], s.DeviceIdentification[j]
		if x.Server != y.Server {
			return x.Server < y.Server
		}
		return x.UnitID < y.UnitID
	})
	return s
}

// addServer records sv for Stats.Servers, within MaxStatsServers.
func (a *Analyzer) addServer(sv netip.AddrPort) {
	if _, ok := a.stats.servers[sv]; ok || len(a.stats.servers) >= a.cfg.MaxStatsServers {
		return
	}
	a.stats.servers[sv] = struct{}{}
}
