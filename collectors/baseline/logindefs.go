package baseline

import (
	"strconv"
	"strings"
)

// This file reads /etc/login.defs as shadow's getdef does (def_load): a
// line is a name and a value separated by blanks, leading blanks, quotes
// and tabs are skipped before the value, which ends at a '"'; names are
// case-sensitive and the last line wins. A numeric item is parsed with
// strtol (base 0: "010" is octal) and must be a number to the end of the
// value, or the program's default is used ("PASS_MAX_DAYS = 90" and
// "PASS_MAX_DAYS 90 # days" are errors). /etc/default/useradd is read as
// useradd's get_defaults: "KEY=value" lines matched from the line start.

// parseLoginDefs returns the items of login.defs.
func parseLoginDefs(b []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimRight(l, " \t\r\n\v\f")
		name := strings.TrimLeft(l, " \t")
		if name == "" || name[0] == '#' {
			continue
		}
		i := strings.IndexAny(name, " \t")
		if i < 0 {
			continue
		}
		val := strings.TrimLeft(name[i+1:], " \"\t")
		if j := strings.IndexByte(val, '"'); j >= 0 {
			val = val[:j]
		}
		m[name[:i]] = val
	}
	return m
}

// cStrtol parses s as C's strtol(s, &end, base 0) and reports whether the
// whole string was a number in range of a long.
func cStrtol(s string) (int64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	if t == "" || s == "" {
		return 0, false
	}
	neg := false
	if t[0] == '+' || t[0] == '-' {
		neg = t[0] == '-'
		t = t[1:]
	}
	base := 10
	switch {
	case len(t) > 2 && (t[:2] == "0x" || t[:2] == "0X") && isHex(t[2]):
		base, t = 16, t[2:]
	case len(t) > 1 && t[0] == '0':
		base, t = 8, t[1:]
	}
	if t == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(t, base, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// getdefNum is shadow's getdef_num: the item as an int, or dflt when it is
// absent or not a valid number.
func getdefNum(m map[string]string, name string, dflt int) (int, string) {
	v, ok := m[name]
	if !ok {
		return dflt, "not set"
	}
	n, valid := cStrtol(v)
	if !valid || n > 1<<31-1 || n < -1<<31 {
		return dflt, "invalid value " + strconv.Quote(v) + ", shadow uses the default"
	}
	return int(n), ""
}

// useraddDefault returns the value of KEY= in /etc/default/useradd as
// useradd reads it (the last matching line wins) and whether it is set.
func useraddDefault(b []byte, key string) (string, bool) {
	val, ok := "", false
	for _, l := range strings.Split(string(b), "\n") {
		if v, found := strings.CutPrefix(l, key+"="); found {
			val, ok = v, true
		}
	}
	return val, ok
}

// useraddInactive is the INACTIVE default useradd applies: -1 (never) when
// absent or invalid.
func useraddInactive(b []byte) (int, string) {
	v, ok := useraddDefault(b, "INACTIVE")
	if !ok {
		return -1, "INACTIVE not set"
	}
	n, valid := cStrtol(v)
	if !valid || n < -1 {
		return -1, "INACTIVE=" + v + " is invalid, useradd uses -1"
	}
	return int(n), ""
}
