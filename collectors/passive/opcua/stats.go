package opcua

import (
	"sort"
)

// Stats are the capture-wide OPC UA counts. It marshals (encoding/json) to
// the "opcua" section of `edgeward replay --format json` (DESIGN.md §8),
// with the field names and conventions of the tshark truth files.
type Stats struct {
	// Messages counts every chunk (one tshark "OpcUa Binary Protocol"
	// layer): HEL, ACK, ERR, RHE, OPN, MSG and CLO, intermediate and abort
	// chunks included.
	Messages uint64 `json:"messages"`
	// MessageTypes counts chunks per message type; only types seen appear.
	MessageTypes map[string]uint64 `json:"message_types"`
	// SecurityPolicyURIs are the distinct OPN security policy URIs (each
	// kept up to 256 bytes), sorted.
	SecurityPolicyURIs []string `json:"security_policy_uris"`
	// EndpointURLs are the distinct Hello endpoint URLs, sorted.
	EndpointURLs []string `json:"endpoint_urls"`
	// Services counts the messages whose body starts with a numeric type id,
	// as tshark 4.0 counts opcua.servicenodeid.numeric: the body of every
	// final MSG, OPN and CLO chunk (a multi-chunk message once, on its final
	// chunk), keyed by type name ("ReadRequest"). tshark also reads a type
	// id from encrypted bodies, so ciphertext that happens to start with a
	// numeric NodeId encoding byte is counted too, mostly as "Unknown" (ids
	// outside the standard services).
	Services map[string]uint64 `json:"services"`
	// Servers are the distinct servers ("ip:port", "[v6]:port") with at least
	// one chunk, sorted as strings.
	Servers []string `json:"servers"`
	// Malformed counts invalid chunk headers met in sync, undecodable bodies
	// of the services decoded, and partial chunks left at the end of a
	// connection.
	Malformed uint64 `json:"malformed"`
	// DroppedOverBudget counts the partial chunks and multi-chunk messages
	// dropped undecoded because Config.MaxBufferedBytes was reached (their
	// chunks are still counted in Messages).
	DroppedOverBudget uint64 `json:"dropped_over_budget"`
}

// Stats returns the capture-wide counts so far. The result is a copy; empty
// lists and maps are empty, never null, in JSON.
func (a *Analyzer) Stats() *Stats {
	c := &a.stats
	s := &Stats{
		Messages: c.messages, Malformed: c.malformed, DroppedOverBudget: c.overBudget,
		MessageTypes:       map[string]uint64{},
		SecurityPolicyURIs: sortedSet(c.policies),
		EndpointURLs:       sortedSet(c.urls),
		Services:           map[string]uint64{},
		Servers:            []string{},
	}
	for t, n := range c.types {
		if n != 0 {
			s.MessageTypes[MessageType(t).String()] = n
		}
	}
	for id, n := range c.services {
		name, _ := ServiceName(id)
		s.Services[name] += n
	}
	for sv := range c.servers {
		s.Servers = append(s.Servers, sv.String())
	}
	sort.Strings(s.Servers)
	return s
}

func sortedSet(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
