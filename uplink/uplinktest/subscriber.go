package uplinktest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Subscriber is a durable QoS 1 subscriber: a persistent session
// (CleanSession=false, fixed client id) that reconnects on its own, so that
// the broker queues what it misses while disconnected or busy. Its handler
// only stores the payload, so it never falls behind the publisher by
// parsing. It is the delivery oracle of the crash and fault tests.
type Subscriber struct {
	cli mqtt.Client

	mu       sync.Mutex
	payloads [][]byte
	parsed   int            // payloads already counted
	counts   map[string]int // record id -> copies received
	records  int
	bad      int // payloads that are not a JSON array of records
}

// Subscribe connects a durable subscriber to broker (a tcp:// URL) with
// client id "sub-"+name and subscribes to filter at QoS 1. It disconnects
// when the test ends.
func Subscribe(t testing.TB, broker, name, filter string) *Subscriber {
	t.Helper()
	s := &Subscriber{counts: map[string]int{}}
	opts := mqtt.NewClientOptions().AddBroker(broker).
		SetClientID(fmt.Sprintf("sub-%s-%d", name, time.Now().UnixNano())).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(500 * time.Millisecond).
		SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(false).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			s.mu.Lock()
			s.payloads = append(s.payloads, m.Payload())
			s.mu.Unlock()
		})
	s.cli = mqtt.NewClient(opts)
	if tok := s.cli.Connect(); !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect to %s: %v", broker, tok.Error())
	}
	if tok := s.cli.Subscribe(filter, 1, nil); !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %q: %v", filter, tok.Error())
	}
	t.Cleanup(func() { s.cli.Disconnect(100) })
	return s
}

// update counts the payloads received since the last call.
func (s *Subscriber) update() {
	for _, p := range s.payloads[s.parsed:] {
		var recs []struct {
			ID string `json:"id"`
		}
		if len(p) == 0 || p[0] != '[' || json.Unmarshal(p, &recs) != nil {
			if len(p) > 0 && p[0] == '[' {
				s.bad++
			}
			continue // retained "online"/"offline" status
		}
		for _, r := range recs {
			s.counts[r.ID]++
		}
		s.records += len(recs)
	}
	s.parsed = len(s.payloads)
}

// Counts returns the number of copies received of each record id, and the
// total number of records received (duplicates included).
func (s *Subscriber) Counts() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out, s.records
}

// Distinct returns the number of distinct record ids received.
func (s *Subscriber) Distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update()
	return len(s.counts)
}

// Bad counts payloads that looked like a batch but did not decode.
func (s *Subscriber) Bad() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update()
	return s.bad
}

// Missing returns the ids in want that never arrived.
func (s *Subscriber) Missing(want []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update()
	var out []string
	for _, id := range want {
		if s.counts[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// WaitDistinct polls until n distinct ids arrived or timeout passes, and
// reports whether they did.
func (s *Subscriber) WaitDistinct(n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for s.Distinct() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}
