package probe

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds a probe whose context has no deadline.
const DefaultTimeout = 5 * time.Second

const (
	defaultModbusPort = "502"
	defaultOPCUAPort  = "4840"
	defaultModbusUnit = 1
)

// ValidateTarget returns an error wrapping ErrTarget or ErrBroadcast unless s
// is a target a probe accepts: modbus://host[:port][/unit] (unit 1 to 255,
// default port 502, default unit 1) or opc.tcp://host[:port][/path]. It does
// no I/O.
func ValidateTarget(s string) error {
	switch {
	case strings.HasPrefix(s, "modbus://"):
		_, _, err := parseModbusTarget(s)
		return err
	case strings.HasPrefix(s, "opc.tcp://"):
		_, err := parseOPCUATarget(s)
		return err
	}
	return fmt.Errorf("%w: %q: want modbus://host[:port][/unit] or opc.tcp://host[:port][/path]", ErrTarget, s)
}

// parseModbusTarget returns the host:port and unit id of a modbus:// target.
func parseModbusTarget(s string) (addr string, unit byte, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "modbus" || u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", 0, fmt.Errorf("%w: %q: want modbus://host[:port][/unit]", ErrTarget, s)
	}
	port := u.Port()
	if port == "" {
		port = defaultModbusPort
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", 0, fmt.Errorf("%w: %q: bad port %q", ErrTarget, s, port)
	}
	unit = defaultModbusUnit
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return "", 0, fmt.Errorf("%w: %q: unit must be 1 to 255, got %q", ErrTarget, s, p)
		}
		if n == 0 {
			return "", 0, fmt.Errorf("%w: %q", ErrBroadcast, s)
		}
		unit = byte(n)
	}
	return net.JoinHostPort(u.Hostname(), port), unit, nil
}

// parseOPCUATarget returns the host:port to dial for an opc.tcp:// URL.
func parseOPCUATarget(s string) (addr string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "opc.tcp" || u.Hostname() == "" || u.User != nil {
		return "", fmt.Errorf("%w: %q: want opc.tcp://host[:port][/path]", ErrTarget, s)
	}
	port := u.Port()
	if port == "" {
		port = defaultOPCUAPort
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("%w: %q: bad port %q", ErrTarget, s, port)
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// TargetServer returns the host:port a modbus:// or opc.tcp:// target
// reaches (its scheme's default port when it names none).
func TargetServer(target string) (string, error) {
	if strings.HasPrefix(target, "modbus://") {
		addr, _, err := parseModbusTarget(target)
		return addr, err
	}
	return parseOPCUATarget(target)
}
