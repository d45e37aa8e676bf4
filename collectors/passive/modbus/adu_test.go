package modbus

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeFromBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    ADU
		wantErr error
	}{
		// icsnpp-modbus_example.pcap frame 92 (tshark -x): FC 43/14 query, unit 1.
		{name: "fc43 query", in: "0017 0000 0005 01 2b 0e 01 00",
			want: ADU{TransactionID: 0x17, Length: 5, UnitID: 1, Function: 43, Data: []byte{0x0e, 0x01, 0x00}}},
		// digitalbond-modbus_test_data_part1.pcap frame 9: FC 8 exception 11.
		{name: "exception", in: "0000 0000 0003 0a 88 0b",
			want: ADU{Length: 3, UnitID: 10, Function: 0x88, Data: []byte{0x0b}}},
		// ndpi-modbus.pcap style FC 3 request.
		{name: "fc3 request", in: "0001 0000 0006 01 03 0000 000a",
			want: ADU{TransactionID: 1, Length: 6, UnitID: 1, Function: 3, Data: []byte{0, 0, 0, 10}}},
		{name: "minimum length 2", in: "0001 0000 0002 ff 07",
			want: ADU{TransactionID: 1, Length: 2, UnitID: 255, Function: 7, Data: []byte{}}},
		{name: "empty", in: "", wantErr: ErrShortFrame},
		{name: "six bytes", in: "0001 0000 0006", wantErr: ErrShortFrame},
		{name: "truncated pdu", in: "0001 0000 0006 01 03 0000", wantErr: ErrShortFrame},
		// digitalbond frame 80: protocol id 0x0010.
		{name: "protocol id", in: "0001 0010 0006 0a 01 0001 0003", wantErr: ErrProtocolID},
		{name: "length 1", in: "0001 0000 0001 01", wantErr: ErrLength},
		{name: "length 0", in: "0001 0000 0000 01 03", wantErr: ErrLength},
		// digitalbond frame 76: length 0x8804.
		{name: "length too big", in: "0001 0000 8804 05 07 08 09 10", wantErr: ErrLength},
		{name: "trailing bytes", in: "0001 0000 0002 01 07 00", wantErr: ErrTrailingBytes},
		{name: "http on 502", in: "474554202f20485454502f312e300d0a0d0a", wantErr: ErrProtocolID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := ADU{TransactionID: 99, Data: []byte{1}} // must be reset
			err := a.DecodeFromBytes(unhex(t, tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DecodeFromBytes() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, a); diff != "" {
				t.Errorf("DecodeFromBytes() (-want +got):\n%s", diff)
			}
			if a.Len() != len(unhex(t, tt.in)) {
				t.Errorf("Len() = %d, want %d", a.Len(), len(unhex(t, tt.in)))
			}
		})
	}
}

func TestFrameLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    int
		wantErr error
	}{
		{"0001 0000 0006 01", 12, nil},      // header only: length known
		{"0001 0000 03fa 01", 1024, nil},    // MaxLengthField
		{"0001 0000 03fb 01", 0, ErrLength}, // above it
		{"0001 0000 0006", 0, ErrShortFrame},
		{"0001 0001 0006 01", 0, ErrProtocolID},
	}
	for _, tt := range tests {
		got, err := FrameLength(unhex(t, tt.in))
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("FrameLength(%s) = %d, %v, want %d, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestException(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       []byte
		wantCode uint8
		wantOK   bool
	}{
		{mbap(1, 1, 0x83, 0x02), 2, true},
		{mbap(1, 1, 0x81, 0x06), 6, true},
		{mbap(1, 1, 0xAB, 0x04), 4, true}, // zeek-modbus-eit.pcap frame 4: FC 43 exception 4
		{mbap(1, 1, 0x83, 0x00), 0, false},
		{mbap(1, 1, 0x83), 0, false},
		{mbap(1, 1, 0x03, 0x02, 0, 0), 0, false},
	}
	for _, tt := range tests {
		var a ADU
		if err := a.DecodeFromBytes(tt.in); err != nil {
			t.Fatal(err)
		}
		code, ok := a.Exception()
		if code != tt.wantCode || ok != tt.wantOK {
			t.Errorf("Exception(% x) = %d, %v, want %d, %v", tt.in, code, ok, tt.wantCode, tt.wantOK)
		}
	}
}

func TestClassifyAndName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fc    uint8
		class Class
		name  string
	}{
		{1, ClassRead, "Read Coils"},
		{2, ClassRead, "Read Discrete Inputs"},
		{3, ClassRead, "Read Holding Registers"},
		{4, ClassRead, "Read Input Registers"},
		{24, ClassRead, "Read FIFO Queue"},
		{5, ClassWrite, "Write Single Coil"},
		{6, ClassWrite, "Write Single Register"},
		{15, ClassWrite, "Write Multiple Coils"},
		{16, ClassWrite, "Write Multiple Registers"},
		{22, ClassWrite, "Mask Write Register"},
		{23, ClassWrite, "Read/Write Multiple Registers"},
		{7, ClassDiagnostic, "Read Exception Status"},
		{8, ClassDiagnostic, "Diagnostics"},
		{11, ClassDiagnostic, "Get Comm Event Counter"},
		{12, ClassDiagnostic, "Get Comm Event Log"},
		{17, ClassIdentification, "Report Server ID"},
		{43, ClassIdentification, "Encapsulated Interface Transport"},
		{20, ClassFileRecord, "Read File Record"},
		{21, ClassFileRecord, "Write File Record"},
		{90, ClassProgram, "Schneider UMAS"},
		{65, ClassProgram, "User Defined"},
		{72, ClassProgram, "User Defined"},
		{100, ClassProgram, "User Defined"},
		{110, ClassProgram, "User Defined"},
		{9, ClassOther, "Program 484"},
		{42, ClassOther, "Unknown"},
		{0, ClassUnknown, "Unknown"},
		{73, ClassUnknown, "Unknown"},
		{111, ClassUnknown, "Unknown"},
		{0x83, ClassRead, "Read Holding Registers Exception"},
		{0x90, ClassWrite, "Write Multiple Registers Exception"},
	}
	for _, tt := range tests {
		if got := Classify(tt.fc); got != tt.class {
			t.Errorf("Classify(%d) = %v, want %v", tt.fc, got, tt.class)
		}
		if got := FunctionName(tt.fc); got != tt.name {
			t.Errorf("FunctionName(%d) = %q, want %q", tt.fc, got, tt.name)
		}
	}
	if got := ExceptionName(2); got != "Illegal Data Address" {
		t.Errorf("ExceptionName(2) = %q", got)
	}
	if got := ClassProgram.String(); got != "program" {
		t.Errorf("ClassProgram.String() = %q", got)
	}
}

func TestDiagnosticSubFunction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		want   uint16
		wantOK bool
	}{
		// digitalbond-modbus_test_data_part1.pcap frames 8, 15, 23.
		{"force listen only", "0000 0000 0006 0a 08 0004 0000", DiagForceListenOnly, true},
		{"restart communications", "0000 0000 0006 0a 08 0001 0000", DiagRestartCommunication, true},
		{"clear counters", "0000 0000 0006 0a 08 000a 0000", DiagClearCounters, true},
		{"return query data", "0000 0000 0006 0a 08 0000 a537", DiagReturnQueryData, true},
		{"exception", "0000 0000 0003 0a 88 0b", 0, false},
		{"short", "0000 0000 0003 0a 08 00", 0, false},
		{"other fc", "0000 0000 0006 0a 03 0001 0000", 0, false},
	}
	for _, tt := range tests {
		var a ADU
		if err := a.DecodeFromBytes(unhex(t, tt.in)); err != nil {
			t.Fatal(err)
		}
		got, ok := a.DiagnosticSubFunction()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: DiagnosticSubFunction() = %#x, %v, want %#x, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestDeviceID(t *testing.T) {
	t.Parallel()
	type obj struct {
		ID    uint8
		Value string
	}
	tests := []struct {
		name     string
		in       string
		wantHdr  DeviceIDHeader
		wantObjs []obj
		wantErr  error
	}{
		// icsnpp-modbus_example.pcap frame 94 (tshark -x), three objects.
		{name: "three objects",
			in: "0017 0000 003d 01 2b 0e 01 83 00 00 03" +
				"00 10 5a65656b204d6f64627573205465737" + "4" +
				"01 18 50726f746f636f6c2050617273696e672069732066756e21" +
				"02 07 312e322e332e36",
			wantHdr:  DeviceIDHeader{ReadDeviceIDCode: 1, Conformity: 0x83, NumObjects: 3},
			wantObjs: []obj{{0, "Zeek Modbus Test"}, {1, "Protocol Parsing is fun!"}, {2, "1.2.3.6"}}},
		// Crafted: more follows 0xFF, next object 3, one object.
		{name: "more follows",
			in:       "0001 0000 000f 01 2b 0e 02 82 ff 03 01 02 05 312e302e32",
			wantHdr:  DeviceIDHeader{ReadDeviceIDCode: 2, Conformity: 0x82, MoreFollows: 0xff, NextObjectID: 3, NumObjects: 1},
			wantObjs: []obj{{2, "1.0.2"}}},
		// zeek-modbus-eit.pcap frame 2: no objects.
		{name: "no objects", in: "0000 0000 000c 00 2b 0e 01 00 4d b7 00 00 00 00 00",
			wantHdr: DeviceIDHeader{ReadDeviceIDCode: 1, MoreFollows: 0x4d, NextObjectID: 0xb7}},
		// emreekin-modbus-encapsulated-transport.pcap frame 6: truncated response.
		{name: "truncated header", in: "0000 0000 0005 01 2b 0e 01 00", wantErr: ErrShortPDU},
		// Crafted: second object runs past the end; the first is still reported.
		{name: "truncated object", in: "0001 0000 0010 01 2b 0e 01 01 00 00 02 00 03 414243 01 09 41",
			wantHdr:  DeviceIDHeader{ReadDeviceIDCode: 1, Conformity: 1, NumObjects: 2},
			wantObjs: []obj{{0, "ABC"}}, wantErr: ErrShortPDU},
		{name: "not fc43", in: "0001 0000 0006 01 03 0000 0001", wantErr: ErrNotDeviceID},
		{name: "mei 13", in: "0001 0000 0004 01 2b 0d 00", wantErr: ErrNotDeviceID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var a ADU
			if err := a.DecodeFromBytes(unhex(t, tt.in)); err != nil {
				t.Fatal(err)
			}
			var h DeviceIDHeader
			var got []obj
			err := a.DeviceID(&h, func(id uint8, v []byte) {
				s, _ := ObjectValueString(id, v)
				got = append(got, obj{id, s})
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DeviceID() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantObjs, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			if err == nil || errors.Is(err, ErrShortPDU) && tt.wantObjs != nil {
				if diff := cmp.Diff(tt.wantHdr, h); diff != "" {
					t.Errorf("header (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestObjectValueString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id     uint8
		in     []byte
		want   string
		wantOK bool
	}{
		{0, []byte("Schneider Electric"), "Schneider Electric", true},
		{1, []byte("BMX P34\x00\x00\x00"), "BMX P34", true},
		{2, []byte{'v', 0xe9, '1'}, "v\uFFFD1", true},
		{4, []byte("a\tb\x01"), `a\tb\x01`, true},
		{3, nil, "", true},
		{0x80, []byte{0x01, 0xab}, "01:ab", true},
		{0x80, nil, "", false},
	}
	for _, tt := range tests {
		got, ok := ObjectValueString(tt.id, tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ObjectValueString(%d, %q) = %q, %v, want %q, %v", tt.id, tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestRequestAccesses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want []Access
	}{
		{"fc1", mbap(1, 1, 1, 0, 0x10, 0, 8), []Access{{Table: TableCoils, Start: 16, Quantity: 8}}},
		{"fc2", mbap(1, 1, 2, 0, 0, 0, 1), []Access{{Table: TableDiscreteInputs, Start: 0, Quantity: 1}}},
		{"fc3", mbap(1, 1, 3, 0, 100, 0, 10), []Access{{Table: TableHoldingRegisters, Start: 100, Quantity: 10}}},
		{"fc4", mbap(1, 1, 4, 0xff, 0xff, 0, 1), []Access{{Table: TableInputRegisters, Start: 65535, Quantity: 1}}},
		{"fc5", mbap(1, 1, 5, 0, 2, 0xff, 0), []Access{{Table: TableCoils, Write: true, Start: 2, Quantity: 1}}},
		{"fc6", mbap(1, 1, 6, 0, 5, 0, 11), []Access{{Table: TableHoldingRegisters, Write: true, Start: 5, Quantity: 1}}},
		{"fc15", mbap(1, 1, 15, 0, 1, 0, 10, 2, 0xff, 0x03), []Access{{Table: TableCoils, Write: true, Start: 1, Quantity: 10}}},
		{"fc16", mbap(1, 1, 16, 0, 1, 0, 2, 4, 0, 1, 0, 2), []Access{{Table: TableHoldingRegisters, Write: true, Start: 1, Quantity: 2}}},
		{"fc22", mbap(1, 1, 22, 0, 4, 0, 0xf2, 0, 0x25), []Access{{Table: TableHoldingRegisters, Write: true, Start: 4, Quantity: 1}}},
		{"fc23", mbap(1, 1, 23, 0, 3, 0, 6, 0, 14, 0, 3, 6, 0, 0xff, 0, 0xff, 0, 0xff), []Access{
			{Table: TableHoldingRegisters, Start: 3, Quantity: 6},
			{Table: TableHoldingRegisters, Write: true, Start: 14, Quantity: 3}}},
		{"zero quantity", mbap(1, 1, 3, 0, 0, 0, 0), nil},
		{"short", mbap(1, 1, 3, 0, 0), nil},
		{"fc8", mbap(1, 1, 8, 0, 0, 0, 0), nil},
	}
	for _, tt := range tests {
		var a ADU
		if err := a.DecodeFromBytes(tt.in); err != nil {
			t.Fatal(err)
		}
		acc, n := a.RequestAccesses()
		var got []Access
		for i := 0; i < n; i++ {
			got = append(got, acc[i])
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: RequestAccesses() (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestCheckPDU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []byte
		request bool
		want    error
	}{
		{"fc3 request", mbap(1, 1, 3, 0, 0, 0, 2), true, nil},
		{"fc3 request short", mbap(1, 1, 3, 0, 0, 0), true, ErrShortPDU},
		{"fc3 response", mbap(1, 1, 3, 4, 0, 1, 0, 2), false, nil},
		{"fc3 response byte count too big", mbap(1, 1, 3, 6, 0, 1, 0, 2), false, ErrShortPDU},
		{"fc16 request byte count", mbap(1, 1, 16, 0, 1, 0, 2, 4, 0, 1, 0), true, ErrShortPDU},
		{"fc43/14 response truncated", mbap(0, 1, 0x2b, 0x0e, 0x01, 0x00), false, ErrShortPDU},
		{"fc43/14 request", mbap(0, 1, 0x2b, 0x0e, 0x01, 0x00), true, nil},
		{"exception", mbap(1, 1, 0x83, 2), false, nil},
		{"exception without code", mbap(1, 1, 0x83), false, ErrShortPDU},
		{"unknown fc", mbap(1, 1, 42), false, nil},
		{"fc8 short", mbap(1, 1, 8, 0), true, ErrShortPDU},
	}
	for _, tt := range tests {
		var a ADU
		if err := a.DecodeFromBytes(tt.in); err != nil {
			t.Fatal(err)
		}
		if got := a.CheckPDU(tt.request); !errors.Is(got, tt.want) {
			t.Errorf("%s: CheckPDU() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
