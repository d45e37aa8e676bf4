package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrNotAllowed is returned for a target outside the active identification
// allowlist.
var ErrNotAllowed = errors.New("target not allowed")

// Defaults and bounds of a Policy.
const (
	DefaultPerMinute = 6
	DefaultInterval  = 24 * time.Hour
	// maxTracked bounds the targets whose last identification is
	// remembered (about 100 bytes each); the oldest is forgotten first.
	maxTracked = 4096
)

// Policy is what active identification may do: which hosts and ports it
// may connect to, how often in all, and how often per target.
type Policy struct {
	// Allow lists the networks a target's address must be in. Empty
	// allows nothing.
	Allow []netip.Prefix
	// Ports lists the server ports a target's port must be one of. Empty
	// allows nothing.
	Ports []uint16
	// PerMinute is the most identifications started per minute, all
	// targets together (0: DefaultPerMinute). One identification is one
	// TCP connection: at most 3 categories of FC 43/14 requests (each
	// followed while the device says more follows) for Modbus, at most 7
	// OPC UA messages (HEL, OPN, GetEndpoints, CreateSession,
	// ActivateSession, Read, CloseSession) and a CLO for OPC UA.
	PerMinute int
	// Interval is how long a target's identification stands before it is
	// identified again, failed or not (0: DefaultInterval).
	Interval time.Duration
	// Timeout bounds one identification (0: DefaultTimeout).
	Timeout time.Duration
}

// Result is the outcome of identifying one target.
type Result struct {
	Target   string        `json:"target"`
	Time     time.Time     `json:"time"`
	Modbus   *ModbusResult `json:"modbus,omitempty"`
	OPCUA    *OPCUAResult  `json:"opcua,omitempty"`
	Findings []Finding     `json:"findings,omitempty"`
	Err      error         `json:"-"`
}

// Identifier identifies targets under a Policy: it refuses any target
// outside the allowlist, never starts identifications faster than
// Policy.PerMinute, and does not identify a target again within
// Policy.Interval. It sends only what ModbusIdentify and OPCUAIdentify
// send. Safe for concurrent use; identifications are serialised.
type Identifier struct {
	pol   Policy
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu     sync.Mutex // serialises Identify; guards last and next
	last   map[string]time.Time
	next   time.Time // the earliest start of the next identification
	modbus func(context.Context, string) (*ModbusResult, error)
	opcua  func(context.Context, string) (*OPCUAResult, error)
}

// NewIdentifier returns an Identifier for p, after checking it.
func NewIdentifier(p Policy) (*Identifier, error) {
	switch {
	case p.PerMinute < 0:
		return nil, fmt.Errorf("active identification: per_minute %d: must not be negative", p.PerMinute)
	case p.PerMinute == 0:
		p.PerMinute = DefaultPerMinute
	}
	if p.Interval <= 0 {
		p.Interval = DefaultInterval
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	for _, pr := range p.Allow {
		if !pr.IsValid() {
			return nil, fmt.Errorf("active identification: invalid network %v in the allowlist", pr)
		}
	}
	return &Identifier{
		pol: p, now: time.Now, sleep: sleep, last: map[string]time.Time{},
		modbus: ModbusIdentify, opcua: OPCUAIdentify,
	}, nil
}

// Allowed returns nil when target is a valid modbus:// or opc.tcp:// target
// whose host is an IP address inside the allowlist and whose port is an
// allowed one; otherwise an error wrapping ErrTarget, ErrBroadcast or
// ErrNotAllowed. A host name is not allowed: resolving it could lead
// anywhere.
func (id *Identifier) Allowed(target string) error {
	if err := ValidateTarget(target); err != nil {
		return err
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrTarget, target)
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return fmt.Errorf("%w: %q: the host must be an IP address", ErrNotAllowed, target)
	}
	ip = ip.Unmap()
	if !slices.ContainsFunc(id.pol.Allow, func(p netip.Prefix) bool { return p.Contains(ip) }) {
		return fmt.Errorf("%w: %q: %s is in no allowed network", ErrNotAllowed, target, ip)
	}
	port := defaultOPCUAPort
	if strings.HasPrefix(target, "modbus://") {
		port = defaultModbusPort
	}
	if p := u.Port(); p != "" {
		port = p
	}
	if !slices.ContainsFunc(id.pol.Ports, func(p uint16) bool { return fmt.Sprint(p) == port }) {
		return fmt.Errorf("%w: %q: port %s is not an allowed port", ErrNotAllowed, target, port)
	}
	return nil
}

// Due returns the candidates that may be identified now: allowed, not
// identified within the interval, each once, in the order given.
func (id *Identifier) Due(candidates []string) []string {
	id.mu.Lock()
	defer id.mu.Unlock()
	now := id.now()
	var out []string
	for _, t := range candidates {
		if slices.Contains(out, t) || id.Allowed(t) != nil {
			continue
		}
		if at, ok := id.last[t]; ok && now.Sub(at) < id.pol.Interval {
			continue
		}
		out = append(out, t)
	}
	return out
}

// Identify identifies one target, waiting first for the rate limit (or
// ctx). A target outside the policy is refused without any I/O: the
// Result's Err wraps ErrNotAllowed. A device's refusal is in the Result,
// with the findings; a failure is in Err.
func (id *Identifier) Identify(ctx context.Context, target string) Result {
	r := Result{Target: target}
	if r.Err = id.Allowed(target); r.Err != nil {
		r.Time = id.now()
		return r
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if wait := id.next.Sub(id.now()); wait > 0 {
		if err := id.sleep(ctx, wait); err != nil {
			r.Err, r.Time = err, id.now()
			return r
		}
	}
	start := id.now()
	r.Time = start
	id.next = start.Add(time.Minute / time.Duration(id.pol.PerMinute))
	id.remember(target, start)

	pctx, cancel := context.WithTimeout(ctx, id.pol.Timeout)
	defer cancel()
	if strings.HasPrefix(target, "modbus://") {
		r.Modbus, r.Err = id.modbus(pctx, target)
		r.Findings = ModbusFindings(target, r.Modbus)
	} else {
		r.OPCUA, r.Err = id.opcua(pctx, target)
		if r.OPCUA != nil {
			r.Findings = OPCUAFindings(target, r.OPCUA.Endpoints, start)
		}
	}
	return r
}

// remember records target's identification at t; id.mu is held. The
// oldest entries go first when maxTracked are remembered.
func (id *Identifier) remember(target string, t time.Time) {
	if _, ok := id.last[target]; !ok && len(id.last) >= maxTracked {
		var oldest string
		for k, v := range id.last {
			if oldest == "" || v.Before(id.last[oldest]) {
				oldest = k
			}
		}
		delete(id.last, oldest)
	}
	id.last[target] = t
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
