package modbus

// Class groups function codes by what they do to a device. Detections and
// flow summaries use it; the numeric code is always kept next to it.
type Class uint8

// The function-code classes.
const (
	// ClassUnknown is a code that the Modbus specification does not assign.
	ClassUnknown Class = iota
	// ClassRead reads coils, inputs or registers (FC 1, 2, 3, 4, 24).
	ClassRead
	// ClassWrite changes coils or registers (FC 5, 6, 15, 16, 22, 23).
	ClassWrite
	// ClassDiagnostic reads or changes the device's communication state
	// (FC 7, 8, 11, 12).
	ClassDiagnostic
	// ClassIdentification asks the device who it is (FC 17, 43).
	ClassIdentification
	// ClassFileRecord reads or writes file records (FC 20, 21).
	ClassFileRecord
	// ClassProgram is a vendor or user-defined code: 65-72 and 100-110
	// (user-defined ranges) and 90 (Schneider Electric UMAS), used by
	// engineering software to program, start and stop controllers.
	ClassProgram
	// ClassOther is a code that is public or reserved but fits no class above
	// (FC 9, 10, 13, 14 program/poll of legacy controllers, 19, 41, 42, 91,
	// 125-127).
	ClassOther
)

var classNames = [...]string{"unknown", "read", "write", "diagnostic", "identification", "file_record", "program", "other"}

// String returns the lowercase name of c ("read", "write", ...).
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// Classify returns the class of function code fc; the exception bit 0x80 is
// ignored.
func Classify(fc uint8) Class {
	fc &= 0x7F
	switch fc {
	case 1, 2, 3, 4, 24:
		return ClassRead
	case 5, 6, 15, 16, 22, 23:
		return ClassWrite
	case 7, 8, 11, 12:
		return ClassDiagnostic
	case 17, 43:
		return ClassIdentification
	case 20, 21:
		return ClassFileRecord
	case 90:
		return ClassProgram
	case 9, 10, 13, 14, 19, 41, 42, 91, 125, 126, 127:
		return ClassOther
	}
	if (fc >= 65 && fc <= 72) || (fc >= 100 && fc <= 110) {
		return ClassProgram
	}
	return ClassUnknown
}

// IsWrite reports whether fc (exception bit ignored) changes coils or
// registers: FC 5, 6, 15, 16, 22 or 23.
func IsWrite(fc uint8) bool { return Classify(fc) == ClassWrite }

var functionNames = [128]string{
	1:  "Read Coils",
	2:  "Read Discrete Inputs",
	3:  "Read Holding Registers",
	4:  "Read Input Registers",
	5:  "Write Single Coil",
	6:  "Write Single Register",
	7:  "Read Exception Status",
	8:  "Diagnostics",
	9:  "Program 484",
	10: "Poll 484",
	11: "Get Comm Event Counter",
	12: "Get Comm Event Log",
	13: "Program Controller",
	14: "Poll Controller",
	15: "Write Multiple Coils",
	16: "Write Multiple Registers",
	17: "Report Server ID",
	20: "Read File Record",
	21: "Write File Record",
	22: "Mask Write Register",
	23: "Read/Write Multiple Registers",
	24: "Read FIFO Queue",
	43: "Encapsulated Interface Transport",
	90: "Schneider UMAS",
}

// FunctionName returns the specification name of function code fc, with
// " Exception" appended when the exception bit 0x80 is set. Codes in the
// user-defined ranges are named "User Defined", others "Unknown".
func FunctionName(fc uint8) string {
	base := fc & 0x7F
	name := functionNames[base]
	if name == "" {
		if Classify(base) == ClassProgram {
			name = "User Defined"
		} else {
			name = "Unknown"
		}
	}
	if fc&0x80 != 0 {
		return name + " Exception"
	}
	return name
}

var exceptionNames = [...]string{
	1:  "Illegal Function",
	2:  "Illegal Data Address",
	3:  "Illegal Data Value",
	4:  "Server Device Failure",
	5:  "Acknowledge",
	6:  "Server Device Busy",
	7:  "Negative Acknowledge",
	8:  "Memory Parity Error",
	10: "Gateway Path Unavailable",
	11: "Gateway Target Device Failed to Respond",
}

// ExceptionName returns the specification name of exception code c, or
// "Unknown".
func ExceptionName(c uint8) string {
	if int(c) < len(exceptionNames) && exceptionNames[c] != "" {
		return exceptionNames[c]
	}
	return "Unknown"
}

// Diagnostics (FC 8) sub-function codes that detections single out.
const (
	DiagReturnQueryData      uint16 = 0x0000
	DiagRestartCommunication uint16 = 0x0001
	DiagForceListenOnly      uint16 = 0x0004
	DiagClearCounters        uint16 = 0x000A
)

// MEI types of FC 43 (Encapsulated Interface Transport).
const (
	MEICANopen            uint8 = 13
	MEIReadDeviceIdentity uint8 = 14
)
