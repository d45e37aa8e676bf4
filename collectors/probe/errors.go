package probe

import "errors"

var (
	// ErrTarget is returned when a target is not a valid modbus:// or
	// opc.tcp:// URL.
	ErrTarget = errors.New("invalid target")

	// ErrBroadcast is returned when a Modbus target names unit 0, the
	// broadcast address, which a probe must never write to.
	ErrBroadcast = errors.New("unit 0 is the broadcast address")

	// ErrMalformed is returned when a device answers with bytes that do not
	// follow the protocol.
	ErrMalformed = errors.New("malformed response")

	// ErrTooLarge is returned when an OPC UA server sends more than
	// MaxOPCUAResponseBytes in one exchange.
	ErrTooLarge = errors.New("response too large")

	// ErrServiceFault is returned when an OPC UA server answers a request
	// with a bad status code (a ServiceFault, an ERR message or a bad
	// service result).
	ErrServiceFault = errors.New("service fault")
)
