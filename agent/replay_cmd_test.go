package agent

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pcapWith returns a pcap file (Ethernet) holding one empty 60-byte frame,
// followed by tail.
func pcapWith(tail []byte) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = le.AppendUint32(b, 65535)
	b = le.AppendUint32(b, 1)
	rec := func(caplen uint32, data []byte) {
		b = le.AppendUint32(b, 1)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, caplen)
		b = le.AppendUint32(b, caplen)
		b = append(b, data...)
	}
	rec(60, make([]byte, 60))
	return append(b, tail...)
}

// TestReplayStrict: a capture that ends in a truncated record or has an
// impossible record length is decoded up to it with a warning on stderr
// naming the offset and what was skipped (exit 0), and fails with
// --strict (exit 1, nothing on stdout).
func TestReplayStrict(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := func(caplen uint32, data []byte) []byte {
		h := binary.LittleEndian.AppendUint32(nil, 2)
		h = binary.LittleEndian.AppendUint32(h, 0)
		h = binary.LittleEndian.AppendUint32(h, caplen)
		h = binary.LittleEndian.AppendUint32(h, caplen)
		return append(h, data...)
	}
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"clean", "", pcapWith(nil)},
		{"truncated", "truncated block at offset 100", pcapWith(bad(60, make([]byte, 10)))},
		{"invalid", "invalid block at offset 100", pcapWith(bad(0xFFFFFFF0, make([]byte, 40)))},
	}
	for _, tc := range cases {
		path := filepath.Join(dir, tc.name+".pcap")
		if err := os.WriteFile(path, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, strict := range []bool{false, true} {
			args := []string{"replay", "--format", "json", "-c", filepath.Join(dir, "none.yaml"), path}
			if strict {
				args = append(args, "--strict")
			}
			if err := os.WriteFile(filepath.Join(dir, "none.yaml"), []byte("log: {level: error}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := Main(args, &out, &errb)
			wantCode := 0
			if strict && tc.want != "" {
				wantCode = 1
			}
			if code != wantCode {
				t.Errorf("%s strict=%v: exit %d, want %d; stderr %q", tc.name, strict, code, wantCode, errb.String())
			}
			switch {
			case tc.want == "":
				if errb.Len() != 0 || !strings.Contains(out.String(), `"packets": 1`) {
					t.Errorf("%s: stderr %q, stdout %.200q", tc.name, errb.String(), out.String())
				}
			case strict:
				if out.Len() != 0 || !strings.Contains(errb.String(), tc.want) || strings.Count(errb.String(), "\n") != 1 {
					t.Errorf("%s --strict: stdout %d bytes, stderr %q; want one line with %q", tc.name, out.Len(), errb.String(), tc.want)
				}
			default:
				if !strings.Contains(errb.String(), "warning: ") || !strings.Contains(errb.String(), tc.want) ||
					!strings.Contains(errb.String(), "remaining") || !strings.Contains(out.String(), `"packets": 1`) {
					t.Errorf("%s: stderr %q, stdout %.200q; want a warning with %q and the first packet decoded", tc.name, errb.String(), out.String(), tc.want)
				}
			}
		}
	}
}
