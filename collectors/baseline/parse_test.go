package baseline

import (
	"bytes"
	"io/fs"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseProcNet(t *testing.T) {
	t.Parallel()
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0500000A:01F6 0900000A:C350 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
   3: garbage
`
	tcp6 := `  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 0
   1: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 0
`
	got := append(parseProcNet([]byte(tcp), "tcp"), parseProcNet([]byte(tcp6), "tcp")...)
	want := []listener{
		{"tcp", netip.MustParseAddr("0.0.0.0"), 22},
		{"tcp", netip.MustParseAddr("127.0.0.1"), 631},
		{"tcp", netip.MustParseAddr("::"), 22},
		{"tcp", netip.MustParseAddr("::1"), 631},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseKeyValues(t *testing.T) {
	t.Parallel()
	in := "PASS_MAX_DAYS\t90\nminlen = 12\n[Journal]\nStorage=persistent\nID=\"debian\"\nflag\n# c\n"
	want := map[string]string{"PASS_MAX_DAYS": "90", "minlen": "12", "Storage": "persistent", "ID": "debian", "flag": ""}
	if diff := cmp.Diff(want, parseKeyValues([]byte(in))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDpkgInstalled(t *testing.T) {
	t.Parallel()
	in := "Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: b\nStatus: deinstall ok config-files\n\nPackage: c\nStatus: install ok not-installed\n\nPackage: d\nVersion: 2\nStatus: hold ok installed"
	want := map[string]string{"a": "1", "d": "2"}
	if diff := cmp.Diff(want, dpkgInstalled([]byte(in))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLogrotateDays(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"weekly\nrotate 26\n": 182, "daily\nrotate 180\n": 180, "rotate 4\n": 28, "monthly\nrotate 6\n/var/log/x {\n rotate 1\n}\n": 180, "": 0} {
		if got := logrotateDays([]byte(in)); got != want {
			t.Errorf("logrotateDays(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestParseFwRule(t *testing.T) {
	t.Parallel()
	got := parseFwRule("v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|RA4=10.0.9.0/255.255.255.0|RA4=10.0.8.1|Name=RDP|")
	want := fwRule{Action: "Allow", Dir: "In", Protocol: "6", Name: "RDP", Active: true, LPorts: []portSpan{{3389, 3389}}, RemoteAddrs: []string{"10.0.9.0/255.255.255.0", "10.0.8.1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLookupEOL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id, ver string
		want    string
	}{{"debian", "12", "2028-06-30"}, {"rocky", "9.4", "2032-05-31"}, {"centos", "7", "2024-06-30"}, {"ubuntu", "22.04", "2027-06-01"}, {"gentoo", "1", ""}} {
		end, ok := lookupEOL(tc.id, tc.ver)
		got := ""
		if ok {
			got = end.Format("2006-01-02")
		}
		if got != tc.want {
			t.Errorf("lookupEOL(%s, %s) = %q, want %q", tc.id, tc.ver, got, tc.want)
		}
	}
}

// FuzzParsers feeds arbitrary bytes to every parser of host files; none may
// panic.
func FuzzParsers(f *testing.F) {
	f.Add([]byte("PermitRootLogin no\nMatch all\n"))
	f.Add([]byte("   0: 00000000:0016 00000000:0000 0A\n   1: 0100007F:XYZ 0 0A\n"))
	f.Add([]byte("auth [success=1 default=ignore pam_unix.so\n@include\n"))
	f.Add([]byte("Package: a\nStatus: install ok installed\n"))
	f.Add([]byte("v2.30|Action=Allow|LPort=|RA4=|"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &sshdConf{}
		c.parse(sshdSource{read: func(string) ([]byte, error) { return nil, fs.ErrNotExist }, glob: func(string) []string { return nil }}, "/f", b, -1, 0)
		for _, ci := range c.sshdConns([]string{"root"}) {
			c.value(ci, "permitrootlogin")
		}
		_, _ = parsePAM(b, "/f")
		_, _ = loadNft(nftSource{read: func(string) ([]byte, error) { return b, nil }, glob: func(string) []string { return nil }, services: func(string, string) (int, bool) { return 0, false }}, "/f")
		loadIptables(b, "/f", "ip", func(string, string) (int, bool) { return 22, true })
		parseAuditRule(string(b))
		parseSysctlConf(b, "/f")
		_, _, _ = rsyslogForwarding(func(string) ([]byte, error) { return b, nil }, func(string) []string { return nil }, "/f")
		parseLoginDefs(b)
		parseProcNet(b, "tcp")
		parseProcNet(b, "udp")
		dpkgInstalled(b)
		parseKeyValues(b)
		parsePasswd(b)
		parseShadow(b)
		parseGroup(b)
		parseMounts(b)
		parseModules(b)
		logrotateDays(b)
		parseFwRule(string(b))
		m := modprobeRules{Blacklist: map[string]string{}}
		parseModprobe(b, "/f", &m)
	})
}

// dpkgInstalled feeds the lines of a whole status file to dpkgStatus.
func dpkgInstalled(b []byte) map[string]string {
	var d dpkgStatus
	for l := range bytes.Lines(b) {
		d.feed(bytes.TrimRight(l, "\r\n"))
	}
	return d.done()
}
