package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/goburrow/modbus"
	"github.com/google/go-cmp/cmp"
)

// fakeModbus is a Modbus/TCP server on 127.0.0.1 that answers each request
// PDU with answer(unit, pdu); a nil answer sends nothing. It records the
// request PDUs it received.
type fakeModbus struct {
	addr   string
	answer func(unit byte, pdu []byte) []byte

	mu       sync.Mutex
	requests [][]byte
}

func startFakeModbus(t *testing.T, answer func(unit byte, pdu []byte) []byte) *fakeModbus {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeModbus{addr: l.Addr().String(), answer: answer}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				f.serve(c)
			}()
		}
	}()
	return f
}

func (f *fakeModbus) serve(c net.Conn) {
	for {
		var h [7]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return
		}
		pdu := make([]byte, int(binary.BigEndian.Uint16(h[4:]))-1)
		if _, err := io.ReadFull(c, pdu); err != nil {
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, pdu)
		f.mu.Unlock()
		resp := f.answer(h[6], pdu)
		if resp == nil {
			continue
		}
		out := append(h[:4:4], 0, 0, h[6])
		binary.BigEndian.PutUint16(out[4:], uint16(len(resp)+1))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

func (f *fakeModbus) seen() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.requests...)
}

// deviceIDResponse builds a function 43 / MEI 14 response PDU.
func deviceIDResponse(code, conformity byte, more bool, next byte, objs ...string) []byte {
	b := []byte{fcReadDeviceID, meiDeviceID, code, conformity, 0, next, 0}
	if more {
		b[4] = 0xFF
	}
	for i := 0; i+1 < len(objs); i += 2 {
		b = append(b, objs[i][0], byte(len(objs[i+1])))
		b = append(b, objs[i+1]...)
		b[6]++
	}
	return b
}

// multiPartDevice answers the basic category in two parts and the regular
// category in two parts, each time with "more follows".
func multiPartDevice(_ byte, pdu []byte) []byte {
	if len(pdu) != 4 || pdu[0] != fcReadDeviceID || pdu[1] != meiDeviceID {
		return []byte{pdu[0] | 0x80, 0x01}
	}
	switch [2]byte{pdu[2], pdu[3]} {
	case [2]byte{deviceIDBasic, 0}:
		return deviceIDResponse(deviceIDBasic, 0x82, true, 2, "\x00", "Acme", "\x01", "PLC-9")
	case [2]byte{deviceIDBasic, 2}:
		return deviceIDResponse(deviceIDBasic, 0x82, false, 0, "\x02", "v1.2.3")
	case [2]byte{deviceIDRegular, 3}:
		return deviceIDResponse(deviceIDRegular, 0x82, true, 5, "\x03", "https://acme.example", "\x04", "Acme PLC")
	case [2]byte{deviceIDRegular, 5}:
		return deviceIDResponse(deviceIDRegular, 0x82, false, 0, "\x05", "PLC-9/XL", "\x06", "line 4 \x1b[2J")
	}
	return []byte{pdu[0] | 0x80, 0x02}
}

func TestModbusIdentifyMultiPart(t *testing.T) {
	t.Parallel()
	dev := startFakeModbus(t, multiPartDevice)
	got, err := ModbusIdentify(context.Background(), "modbus://"+dev.addr+"/7")
	if err != nil {
		t.Fatal(err)
	}
	want := &ModbusResult{
		Target: dev.addr, Unit: 7,
		VendorName: "Acme", ProductCode: "PLC-9", Revision: "v1.2.3",
		VendorURL: "https://acme.example", ProductName: "Acme PLC", ModelName: "PLC-9/XL", UserApplicationName: "line 4 \x1b[2J",
		ConformityLevel: 0x82,
		Objects:         map[byte]string{0: "Acme", 1: "PLC-9", 2: "v1.2.3", 3: "https://acme.example", 4: "Acme PLC", 5: "PLC-9/XL", 6: "line 4 \x1b[2J"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	wantReqs := [][]byte{
		{0x2B, 0x0E, 1, 0}, {0x2B, 0x0E, 1, 2}, {0x2B, 0x0E, 2, 3}, {0x2B, 0x0E, 2, 5},
	}
	if diff := cmp.Diff(wantReqs, dev.seen()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	f := ModbusFindings("modbus://x", got)
	if len(f) != 1 || f[0].Kind != KindModbusIdentityReadable || f[0].Severity != "info" {
		t.Errorf("findings = %+v, want one %s at info", f, KindModbusIdentityReadable)
	}
}

func TestModbusIdentifyBasicOnly(t *testing.T) {
	t.Parallel()
	dev := startFakeModbus(t, func(_ byte, pdu []byte) []byte {
		return deviceIDResponse(deviceIDBasic, 0x01, false, 0, "\x00", "Acme", "\x01", "P", "\x02", "1")
	})
	got, err := ModbusIdentify(context.Background(), "modbus://"+dev.addr)
	if err != nil {
		t.Fatal(err)
	}
	if got.Unit != 1 || got.VendorName != "Acme" || got.Revision != "1" || got.Exception != nil {
		t.Errorf("result = %+v", got)
	}
	// Conformity "basic": no regular-category request may follow.
	if n := len(dev.seen()); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
}

func TestModbusIdentifyException(t *testing.T) {
	t.Parallel()
	refuse := func(_ byte, pdu []byte) []byte { return []byte{pdu[0] | 0x80, modbus.ExceptionCodeIllegalFunction} }
	dev := startFakeModbus(t, refuse)
	got, err := ModbusIdentify(context.Background(), "modbus://"+dev.addr+"/3")
	if err != nil {
		t.Fatalf("an exception is an answer, got error %v", err)
	}
	want := &ModbusResult{Target: dev.addr, Unit: 3, Exception: &ModbusException{Code: 1, Name: "illegal function"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if f := ModbusFindings("modbus://x", got); len(f) != 0 {
		t.Errorf("findings for a refusal: %+v", f)
	}
}

func TestModbusIdentifyRegularRefusedKeepsBasic(t *testing.T) {
	t.Parallel()
	dev := startFakeModbus(t, func(_ byte, pdu []byte) []byte {
		if pdu[2] == deviceIDRegular {
			return []byte{pdu[0] | 0x80, modbus.ExceptionCodeIllegalDataValue}
		}
		return deviceIDResponse(deviceIDBasic, 0x02, false, 0, "\x00", "Acme")
	})
	got, err := ModbusIdentify(context.Background(), "modbus://"+dev.addr)
	if err != nil {
		t.Fatal(err)
	}
	if got.VendorName != "Acme" || got.Exception != nil || len(dev.seen()) != 2 {
		t.Errorf("result = %+v after %d requests, want vendor Acme, no exception, 2 requests", got, len(dev.seen()))
	}
}

func TestModbusIdentifyHostile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer func(byte, []byte) []byte
	}{
		// "more follows" pointing back at the same object would loop forever.
		{"next object does not advance", func(_ byte, pdu []byte) []byte {
			return deviceIDResponse(deviceIDBasic, 1, true, pdu[3], "\x00", "x")
		}},
		{"object overruns the frame", func(_ byte, pdu []byte) []byte {
			return []byte{fcReadDeviceID, meiDeviceID, deviceIDBasic, 1, 0, 0, 1, 0x00, 0xFF, 'a', 'b'}
		}},
		{"empty PDU", func(_ byte, pdu []byte) []byte { return []byte{} }},
		{"declared objects missing", func(_ byte, pdu []byte) []byte {
			b := deviceIDResponse(deviceIDBasic, 1, false, 0, "\x00", "abc")
			b[6] = 5
			return b
		}},
		{"wrong MEI type", func(_ byte, pdu []byte) []byte {
			b := deviceIDResponse(deviceIDBasic, 1, false, 0)
			b[1] = 0x0D
			return b
		}},
		{"wrong function code", func(_ byte, pdu []byte) []byte { return []byte{0x03, 0x02, 0, 0} }},
		{"long exception", func(_ byte, pdu []byte) []byte { return []byte{0xAB, 1, 2} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dev := startFakeModbus(t, tc.answer)
			_, err := ModbusIdentify(context.Background(), "modbus://"+dev.addr)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestModbusTransportRawHeaders answers with MBAP headers the transport must
// refuse before reading on: a length beyond any Modbus ADU, and a peer that
// is not Modbus at all (an HTTP server on port 502).
func TestModbusTransportRawHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		resp func(req []byte) []byte
		want string
	}{
		{"length 65535", func(req []byte) []byte { return []byte{req[0], req[1], 0, 0, 0xFF, 0xFF, 1} }, "MBAP length 65535"},
		{"http", func([]byte) []byte { return []byte("HTTP/1.1 400 Bad Request\r\n\r\n") }, "protocol id 0x5450, not Modbus/TCP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				var req [11]byte
				io.ReadFull(c, req[:])
				c.Write(tc.resp(req[:]))
				io.Copy(io.Discard, c)
			}()
			_, err = ModbusIdentify(context.Background(), "modbus://"+l.Addr().String())
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrMalformed with %q", err, tc.want)
			}
		})
	}
}

// TestDecodeADUShortResponse feeds goburrow's packager a response shorter
// than an MBAP header: its Verify indexes past the end, and the panic must
// come back as an error.
func TestDecodeADUShortResponse(t *testing.T) {
	t.Parallel()
	h := modbus.NewTCPClientHandler("127.0.0.1:1")
	req, err := h.Encode(&modbus.ProtocolDataUnit{FunctionCode: fcReadDeviceID, Data: []byte{meiDeviceID, 1, 0}})
	if err != nil {
		t.Fatal(err)
	}
	for _, resp := range [][]byte{nil, req[:1], req[:3], req[:6]} {
		if _, err := decodeADU(h, req, resp); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodeADU(% x) err = %v, want ErrMalformed", resp, err)
		}
	}
}

func TestModbusIdentifyCancel(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	var once sync.Once
	silent := startFakeModbus(t, func(byte, []byte) []byte {
		once.Do(func() { close(arrived) })
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := ModbusIdentify(ctx, "modbus://"+silent.addr)
		done <- err
	}()
	// Cancel once the request has arrived, so the probe is blocked reading.
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestModbusIdentifyTargets(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		target string
		want   error
		text   string
	}{
		{"modbus://" + addr + "/0", ErrBroadcast, "broadcast"},
		{"modbus://" + addr + "/256", ErrTarget, "unit must be 1 to 255"},
		{"modbus://" + addr + "/x", ErrTarget, "unit"},
		{"modbus://:502", ErrTarget, "want modbus://"},
		{"modbus://host:0", ErrTarget, "bad port"},
		{"tcp://" + addr, ErrTarget, "want modbus://"},
		{"modbus://" + addr, nil, "connect to " + addr},
	} {
		t.Run(tc.target, func(t *testing.T) {
			t.Parallel()
			_, err := ModbusIdentify(context.Background(), tc.target)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestParseDeviceID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   []byte
		want deviceIDPart
		err  bool
	}{
		{"empty object list", []byte{0x0E, 1, 1, 0, 0, 0}, deviceIDPart{conformity: 1, objects: map[byte]string{}}, false},
		{"two objects, more follows", []byte{0x0E, 1, 0x81, 0xFF, 2, 2, 0, 1, 'A', 1, 0}, deviceIDPart{conformity: 0x81, more: true, next: 2, objects: map[byte]string{0: "A", 1: ""}}, false},
		{"short", []byte{0x0E, 1, 1, 0, 0}, deviceIDPart{}, true},
		{"bad more-follows", []byte{0x0E, 1, 1, 0x01, 0, 0}, deviceIDPart{}, true},
		{"trailing bytes", []byte{0x0E, 1, 1, 0, 0, 0, 9}, deviceIDPart{}, true},
		{"truncated object header", []byte{0x0E, 1, 1, 0, 0, 1, 0}, deviceIDPart{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDeviceID(tc.in, 1)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(deviceIDPart{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseDeviceID asserts that no input panics, and that every accepted
// part accounts for every byte: objects' lengths plus headers equal the input.
func FuzzParseDeviceID(f *testing.F) {
	f.Add(deviceIDResponse(1, 0x82, true, 2, "\x00", "Acme", "\x01", "PLC")[1:])
	f.Add([]byte{0x0E, 1, 1, 0, 0, 1, 0, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseDeviceID(b, 1)
		if err != nil {
			return
		}
		n := 6
		for _, v := range p.objects {
			n += 2 + len(v)
		}
		if n > len(b) {
			t.Fatalf("objects take %d bytes of %d", n, len(b))
		}
	})
}
