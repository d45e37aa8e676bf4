package passive

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/edgeward/edgeward/collectors/passive/modbus"
	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// Summary is the result of a replay, shaped as DESIGN.md §8 describes for
// `edgeward replay --format json`.
type Summary struct {
	Packets uint64        `json:"packets"`
	Modbus  *modbus.Stats `json:"modbus"`
	OPCUA   *opcua.Stats  `json:"opcua"`
	Assets  []Asset       `json:"assets"`
	Flows   []Flow        `json:"flows"`
	Events  []Event       `json:"events"`
	// EventsOmitted counts events past the Summary's bounds (10000 events,
	// Budget.Events bytes).
	EventsOmitted uint64      `json:"events_omitted,omitempty"`
	Stats         EngineStats `json:"stats"`
	// Files tells how much of each capture file was read.
	Files []FileReport `json:"files"`
}

// Summary returns what the engine has seen so far. Call Flush with the zero
// time first to include connections still open at the end of a capture.
// Events are kept for it only by the Engine of a Replay (an Engine from
// NewEngine keeps them for Records instead).
func (e *Engine) Summary() *Summary {
	e.collectAlerts()
	s := &Summary{
		Packets: e.core.stats.Packets,
		Modbus:  e.mb.Stats(),
		OPCUA:   e.ua.Stats(),
		Assets:  e.assets(),
		Events:  append([]Event{}, e.events...),
		Stats:   e.Stats(),
	}
	s.EventsOmitted = e.eventsCut
	s.Flows = []Flow{}
	for _, f := range e.mb.Flows() {
		s.Flows = append(s.Flows, flowOf(f))
	}
	for _, f := range e.ua.Flows() {
		s.Flows = append(s.Flows, opcuaFlowOf(f))
	}
	return s
}

// WriteTable writes a readable report: packet and decode counts, Modbus
// and OPC UA protocol counts, assets, flows and events.
func (s *Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	st := s.Stats
	p("CAPTURE\n")
	p("  packets\t%d\n  bytes\t%d\n  truncated (snap length)\t%d\n  decode errors\t%d\n", s.Packets, st.Bytes, st.Truncated, st.DecodeErrors)
	if len(st.Decode) > 0 {
		p("  by outcome\t%s\n", joinCounts(st.Decode))
	}
	r := st.Reassembly
	p("  tcp connections\t%d created, %d closed, %d expired, %d evicted\n", st.Flows.Created, st.Flows.Closed, st.Flows.Expired, st.Flows.Evicted)
	p("  reassembly\t%d retransmitted, %d out of order, %d gaps (%d bytes skipped)\n", r.Retransmissions, r.OutOfOrder, r.Gaps, r.SkippedBytes)
	if m := s.Modbus; m != nil {
		p("\nMODBUS/TCP\n")
		p("  ADUs\t%d (%d requests, %d responses, %d malformed)\n", m.ADUs, m.Requests, m.Responses, m.Malformed)
		fcs := make([]int, 0, len(m.FunctionCodes))
		for k := range m.FunctionCodes {
			if n, err := strconv.Atoi(k); err == nil {
				fcs = append(fcs, n)
			}
		}
		sort.Ints(fcs)
		for _, fc := range fcs {
			c := m.FunctionCodes[strconv.Itoa(fc)]
			p("  FC %d %s\t%d requests, %d responses\n", fc, modbus.FunctionName(uint8(fc)), c.Requests, c.Responses)
		}
		if len(m.ExceptionsByCode) > 0 {
			p("  exceptions\t%s\n", joinCounts(m.ExceptionsByCode))
		}
		if len(m.UnitIDs) > 0 {
			p("  unit ids\t%v\n", m.UnitIDs)
		}
	}
	if u := s.OPCUA; u != nil && u.Messages > 0 {
		p("\nOPC UA BINARY\n")
		p("  messages\t%d (%d malformed)\n", u.Messages, u.Malformed)
		p("  message types\t%s\n", joinCounts(u.MessageTypes))
		for _, v := range u.SecurityPolicyURIs {
			p("  security policy\t%s\n", v)
		}
		for _, v := range u.EndpointURLs {
			p("  endpoint url\t%s\n", v)
		}
		if len(u.Services) > 0 {
			p("  services\t%s\n", joinCounts(u.Services))
		}
		if len(u.Servers) > 0 {
			p("  servers\t%s\n", strings.Join(u.Servers, " "))
		}
	}
	p("\nASSETS (%d)\n", len(s.Assets))
	p("  IP\tMAC\tVENDOR\tROLE\tPROTOCOLS\tPORTS\tUNITS\tIDENTITY\n")
	for _, a := range s.Assets {
		var ids []string
		for _, id := range a.Identity {
			ids = append(ids, strings.TrimSpace(fmt.Sprintf("unit %d: %s %s %s", id.UnitID, id.Vendor, id.Product, id.Revision)))
		}
		for _, app := range a.OPCUA {
			if d := strings.TrimSpace(app.ApplicationName + " " + app.ApplicationURI); d != "" {
				ids = append(ids, app.Role+": "+d)
			}
		}
		p("  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.IP, dash(a.MAC), dash(a.Vendor), strings.Join(a.Roles, ","),
			strings.Join(a.Protocols, ","), dash(ints(a.Ports)), dash(ints(a.UnitIDs)), dash(strings.Join(ids, "; ")))
	}
	p("\nFLOWS (%d)\n", len(s.Flows))
	p("  PROTO\tCLIENT\tSERVER\tREQ\tRESP\tEXC\tFUNCTIONS / SERVICES\tWRITES\tFIRST\tLAST\n")
	for _, f := range s.Flows {
		if f.Protocol == "opcua" {
			var svcs []string
			for _, sc := range f.Services {
				svcs = append(svcs, fmt.Sprintf("%s×%d", sc.Name, sc.Count))
			}
			if f.SecurityPolicyURI != "" {
				svcs = append(svcs, "policy="+strings.TrimPrefix(f.SecurityPolicyURI, "http://opcfoundation.org/UA/SecurityPolicy#")+"/"+dash(f.SecurityMode))
			}
			p("  opcua\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n", f.Client, f.Server, f.Requests, f.Responses, f.ServiceFaults,
				dash(strings.Join(svcs, " ")), f.Writes, f.FirstSeen.Format("2006-01-02 15:04:05"), f.LastSeen.Format("15:04:05"))
			continue
		}
		var fcs []string
		var writes int
		keys := make([]int, 0, len(f.FunctionCodes))
		for k := range f.FunctionCodes {
			n, _ := strconv.Atoi(k)
			keys = append(keys, n)
		}
		sort.Ints(keys)
		for _, k := range keys {
			c := f.FunctionCodes[strconv.Itoa(k)]
			fcs = append(fcs, fmt.Sprintf("%d×%d", k, c.Requests))
			if c.Class == "write" {
				writes += int(c.Requests)
			}
		}
		p("  modbus\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n", f.Client, f.Server, f.Requests, f.Responses, f.Exceptions,
			dash(strings.Join(fcs, " ")), writes, f.FirstSeen.Format("2006-01-02 15:04:05"), f.LastSeen.Format("15:04:05"))
	}
	p("\nEVENTS (%d)\n", len(s.Events))
	for _, ev := range s.Events {
		p("  %s\n", ev.String())
	}
	if s.EventsOmitted > 0 {
		p("  ... %d more omitted\n", s.EventsOmitted)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func joinCounts(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
