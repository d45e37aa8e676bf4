package host

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gonet "github.com/shirou/gopsutil/v3/net"
)

func TestParseDpkgStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []Software
		wantErr error
	}{
		{name: "empty", in: "", want: nil},
		{
			name: "installed, held, removed, half-configured",
			in: "Package: a\nStatus: install ok installed\nVersion: 1:2.0-1\nArchitecture: amd64\nMaintainer: A <a@x>\nDescription: x\n multi\n .\n Version: 9\n\n" +
				"Package: b\nStatus: deinstall ok config-files\nVersion: 1\n\n" +
				"Package: c\nStatus: hold ok installed\nVersion: 3\nArchitecture: all\n\n\n\n" +
				"Package: d\nStatus: install ok half-configured\nVersion: 4\n",
			want: []Software{
				{Name: "a", Version: "1:2.0-1", Architecture: "amd64", Vendor: "A <a@x>", Source: "dpkg"},
				{Name: "c", Version: "3", Architecture: "all", Source: "dpkg"},
			},
		},
		{
			name: "last paragraph without trailing newline, CRLF-free spacing",
			in:   "Package: z\nStatus:   install ok installed  \nVersion:  7 ",
			want: []Software{{Name: "z", Version: "7", Source: "dpkg"}},
		},
		{name: "no package name", in: "Status: install ok installed\nVersion: 1\n", want: nil},
		{name: "line without colon", in: "Package: a\ngarbage\n", wantErr: ErrParse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseDpkgStatus(strings.NewReader(tc.in))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseDpkgStatus (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	t.Parallel()
	in := "NAME=\"Ubuntu\"\nID=ubuntu\n# c\n\nPRETTY_NAME='Ubuntu 22.04.4 LTS'\nVERSION_ID=\"22.04\"\nESCAPED=\"a \\\"b\\\"\"\nnonsense\n=x\n"
	got, err := parseOSRelease(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"NAME": "Ubuntu", "ID": "ubuntu", "PRETTY_NAME": "Ubuntu 22.04.4 LTS", "VERSION_ID": "22.04", "ESCAPED": `a "b"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseOSRelease (-want +got):\n%s", diff)
	}
}

// utmpRecord builds one glibc struct utmp.
func utmpRecord(typ int32, line, user, host string, sec int32) []byte {
	b := make([]byte, utmpSize)
	binary.LittleEndian.PutUint32(b[utmpOffType:], uint32(typ))
	copy(b[utmpOffLine:utmpOffLine+utmpLenLine], line)
	copy(b[utmpOffUser:utmpOffUser+utmpLenUser], user)
	copy(b[utmpOffHost:utmpOffHost+utmpLenHost], host)
	binary.LittleEndian.PutUint32(b[utmpOffTvSec:], uint32(sec))
	return b
}

func TestParseUtmp(t *testing.T) {
	t.Parallel()
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	full32 := strings.Repeat("u", 32) // no NUL terminator
	tests := []struct {
		name    string
		in      []byte
		want    []User
		wantErr error
	}{
		{name: "empty", in: nil},
		{
			name: "sessions only",
			in: cat(utmpRecord(2, "~", "reboot", "5.10", 1700000000),
				utmpRecord(7, "pts/0", "operator", "10.0.0.5", 1700001000),
				utmpRecord(8, "pts/1", "gone", "", 1700001500),
				utmpRecord(7, "tty1", full32, "", 0),
				utmpRecord(7, "tty9", "", "", 5)),
			want: []User{
				{Name: "operator", Terminal: "pts/0", Host: "10.0.0.5", Started: time.Unix(1700001000, 0).UTC()},
				{Name: full32, Terminal: "tty1"},
			},
		},
		{
			name:    "trailing partial record",
			in:      cat(utmpRecord(7, "pts/0", "op", "", 1), []byte{1, 2, 3}),
			want:    []User{{Name: "op", Terminal: "pts/0", Started: time.Unix(1, 0).UTC()}},
			wantErr: ErrParse,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseUtmp(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseUtmp (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseUnitFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want unitFile
	}{
		{name: "empty", in: "", want: unitFile{}},
		{name: "static", in: "[Unit]\nDescription=Journal Service\n[Service]\nDescription=not this\n", want: unitFile{Description: "Journal Service"}},
		{name: "installable, spaced, comments", in: "# x\n; y\n[Unit]\n  Description =  My Unit  \n\n[Install]\nWantedBy=multi-user.target\n", want: unitFile{Description: "My Unit", HasInstall: true}},
		{name: "last description wins", in: "[Unit]\nDescription=a\nDescription=b\n", want: unitFile{Description: "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseUnitFile(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseUnitFile (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseBtime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr error
	}{
		{name: "ok", in: "cpu 1 2\nbtime 1700000000\nprocesses 3\n", want: 1700000000},
		{name: "missing", in: "cpu 1 2\n", wantErr: ErrParse},
		{name: "garbage", in: "btime x\n", wantErr: ErrParse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseBtime([]byte(tc.in))
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Errorf("parseBtime = %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestTemplateOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"getty@tty1.service", "getty@.service", true},
		{"ssh.service", "", false},
		{"foo@bar.socket", "", false},
	}
	for _, tc := range tests {
		got, ok := templateOf(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("templateOf(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// fakeKey is a registry key made of maps, for softwareFromUninstallKey.
type fakeKey struct {
	s map[string]string
	i map[string]uint64
}

var errNoValue = errors.New("value not found")

func (k fakeKey) GetStringValue(name string) (string, uint32, error) {
	v, ok := k.s[name]
	if !ok {
		return "", 0, errNoValue
	}
	return v, 1, nil
}

func (k fakeKey) GetIntegerValue(name string) (uint64, uint32, error) {
	v, ok := k.i[name]
	if !ok {
		return 0, 0, errNoValue
	}
	return v, 4, nil
}

func TestSoftwareFromUninstallKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		key    fakeKey
		arch   string
		want   Software
		wantOK bool
	}{
		{
			name: "full entry",
			key: fakeKey{s: map[string]string{"DisplayName": " Siemens TIA Portal V17 ", "DisplayVersion": "17.0.0.0",
				"Publisher": "Siemens AG", "InstallDate": "20230415"}},
			arch:   "x64",
			want:   Software{Name: "Siemens TIA Portal V17", Version: "17.0.0.0", Architecture: "x64", Vendor: "Siemens AG", InstallDate: "2023-04-15", Source: "registry"},
			wantOK: true,
		},
		{
			name:   "bad install date dropped",
			key:    fakeKey{s: map[string]string{"DisplayName": "7-Zip", "InstallDate": "15/04/2023"}},
			arch:   "x86",
			want:   Software{Name: "7-Zip", Architecture: "x86", Source: "registry"},
			wantOK: true,
		},
		{name: "no display name", key: fakeKey{s: map[string]string{"DisplayVersion": "1"}}, arch: "x64"},
		{name: "system component", key: fakeKey{s: map[string]string{"DisplayName": "VC runtime"}, i: map[string]uint64{"SystemComponent": 1}}, arch: "x64"},
		{name: "update of another product", key: fakeKey{s: map[string]string{"DisplayName": "KB123", "ParentKeyName": "Office"}}, arch: "x64"},
		{
			name:   "system component 0 kept",
			key:    fakeKey{s: map[string]string{"DisplayName": "WinCC"}, i: map[string]uint64{"SystemComponent": 0}},
			arch:   "x64",
			want:   Software{Name: "WinCC", Architecture: "x64", Source: "registry"},
			wantOK: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := softwareFromUninstallKey(tc.key, tc.arch)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("softwareFromUninstallKey (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWinServiceNames(t *testing.T) {
	t.Parallel()
	states := map[uint32]string{1: "stopped", 2: "start_pending", 3: "stop_pending", 4: "running", 5: "continue_pending", 6: "pause_pending", 7: "paused", 99: "unknown"}
	for v, want := range states {
		if got := winServiceState(v); got != want {
			t.Errorf("winServiceState(%d) = %q, want %q", v, got, want)
		}
	}
	modes := []struct {
		t       uint32
		delayed bool
		want    string
	}{{0, false, "boot"}, {1, false, "system"}, {2, false, "auto"}, {2, true, "auto_delayed"}, {3, false, "manual"}, {4, false, "disabled"}, {9, false, ""}}
	for _, m := range modes {
		if got := winStartMode(m.t, m.delayed); got != m.want {
			t.Errorf("winStartMode(%d, %v) = %q, want %q", m.t, m.delayed, got, m.want)
		}
	}
}

func TestListeningSockets(t *testing.T) {
	t.Parallel()
	tcp := func(fam uint32, ip string, port uint32, status string, pid int32) gonet.ConnectionStat {
		return gonet.ConnectionStat{Family: fam, Type: syscall.SOCK_STREAM, Laddr: gonet.Addr{IP: ip, Port: port}, Status: status, Pid: pid}
	}
	udp := func(fam uint32, ip string, port uint32, rport uint32, pid int32) gonet.ConnectionStat {
		return gonet.ConnectionStat{Family: fam, Type: syscall.SOCK_DGRAM, Laddr: gonet.Addr{IP: ip, Port: port}, Raddr: gonet.Addr{IP: "10.0.0.1", Port: rport}, Pid: pid}
	}
	in := []gonet.ConnectionStat{
		tcp(syscall.AF_INET, "10.0.0.2", 502, "ESTABLISHED", 42),
		tcp(syscall.AF_INET, "10.0.0.2", 502, "LISTEN", 42),
		tcp(syscall.AF_INET, "0.0.0.0", 502, "LISTEN", 42),
		tcp(syscall.AF_INET, "0.0.0.0", 502, "LISTEN", 42), // same socket, second fd
		tcp(syscall.AF_INET6, "::", 4840, "LISTEN", 0),
		tcp(syscall.AF_INET, "9.0.0.1", 22, "LISTEN", 7),
		udp(syscall.AF_INET, "0.0.0.0", 161, 0, 5),
		udp(syscall.AF_INET, "10.0.0.2", 40000, 53, 5),
		udp(syscall.AF_INET6, "::1", 323, 0, 9),
	}
	want := []Socket{
		{Protocol: "tcp", Address: "9.0.0.1", Port: 22, PID: 7},
		{Protocol: "tcp", Address: "0.0.0.0", Port: 502, PID: 42},
		{Protocol: "tcp", Address: "10.0.0.2", Port: 502, PID: 42},
		{Protocol: "tcp6", Address: "::", Port: 4840},
		{Protocol: "udp", Address: "0.0.0.0", Port: 161, PID: 5},
		{Protocol: "udp6", Address: "::1", Port: 323, PID: 9},
	}
	if diff := cmp.Diff(want, listeningSockets(in)); diff != "" {
		t.Errorf("listeningSockets (-want +got):\n%s", diff)
	}
}

func TestCapList(t *testing.T) {
	t.Parallel()
	inv := &Inventory{}
	got := capList(inv, "software", []int{1, 2, 3, 4}, 3)
	got = append(got, 9) // must not write into the caller's backing array
	if diff := cmp.Diff([]int{1, 2, 3, 9}, got); diff != "" {
		t.Errorf("capList (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"software": 1}, inv.Truncated); diff != "" {
		t.Errorf("Truncated (-want +got):\n%s", diff)
	}
	if got := capList(inv, "users", []int{1}, 3); len(got) != 1 || inv.Truncated["users"] != 0 {
		t.Errorf("capList under the cap changed something: %v %v", got, inv.Truncated)
	}
}

func TestBoundedReads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		size    int
		max     int64
		wantErr error
	}{
		{name: "under", size: 9, max: 10},
		{name: "exactly", size: 10, max: 10},
		{name: "over", size: 11, max: 10, wantErr: ErrTooLarge},
		{name: "far over", size: 100000, max: 10, wantErr: ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := strings.Repeat("x", tc.size)
			b, err := readAllCapped(strings.NewReader(in), "f", tc.max)
			if !errors.Is(err, tc.wantErr) || (err == nil && string(b) != in) {
				t.Errorf("readAllCapped = %d bytes, %v; want %v", len(b), err, tc.wantErr)
			}
			b, err = io.ReadAll(&cappedReader{r: strings.NewReader(in), name: "f", left: tc.max})
			if !errors.Is(err, tc.wantErr) || (err == nil && string(b) != in) {
				t.Errorf("cappedReader = %d bytes, %v; want %v", len(b), err, tc.wantErr)
			}
		})
	}
}

func TestUsersFromSessions(t *testing.T) {
	t.Parallel()
	in := []wtsSession{
		{Station: "Services", State: 4},
		{Station: "Console", State: wtsActive, User: "operator", Domain: "PLANT"},
		{Station: "RDP-Tcp#3", State: wtsDisconnected, User: "eng", Domain: "PLANT", Client: "ENG-LAPTOP"},
		{Station: "RDP-Tcp", State: 6}, // listener
		{Station: "RDP-Tcp#4", State: 1, User: "half"},
		{Station: "Console", State: wtsActive, User: "local"},
	}
	want := []User{
		{Name: `PLANT\operator`, Terminal: "Console"},
		{Name: `PLANT\eng`, Terminal: "RDP-Tcp#3", Host: "ENG-LAPTOP"},
		{Name: "local", Terminal: "Console"},
	}
	if diff := cmp.Diff(want, usersFromSessions(in)); diff != "" {
		t.Errorf("usersFromSessions (-want +got):\n%s", diff)
	}
}
