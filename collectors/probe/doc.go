// Package probe holds edgeward's opt-in active probes: Modbus/TCP device
// identification (function 43, MEI type 14: basic, regular and extended
// objects) and OPC UA identification (GetEndpoints and, where an endpoint
// offers SecurityPolicy None with an anonymous token, a Read of
// Server.ServerStatus.BuildInfo in an anonymous session). Nothing here runs
// unless an operator names a target (the probe command) or enables active
// identification in run, whose Identifier enforces an allowlist of networks
// and ports, a global rate and a per-target interval: edgeward is passive by
// default.
//
// # Guarantees
//
//   - Each probe sends only read requests, each request once: a failed
//     exchange is reported, never retried. The OPC UA session needed for the
//     BuildInfo read (CreateSession, ActivateSession with the anonymous
//     token, CloseSession) changes nothing on the server; no write, call,
//     browse, subscription or node management request is ever sent.
//   - Each probe honours its context: the context's deadline (or
//     DefaultTimeout when it has none) bounds the whole exchange, and
//     cancelling the context interrupts a blocked read or write.
//   - Responses are untrusted. A Modbus response is at most 260 bytes; an
//     OPC UA exchange reads at most MaxOPCUAResponseBytes and every declared
//     array length is checked against the bytes that remain before anything
//     is allocated. Malformed input yields an error wrapping ErrMalformed,
//     never a panic.
//
// # Caveats
//
//   - OPC UA discovery is done with SecurityPolicy None, as the specification
//     allows for GetEndpoints. Requests and responses are encoded and
//     decoded here (opcua_encode.go, opcua_decode.go), not with gopcua's ua
//     package: its init registers every OPC UA type (about 0.4 MB of binary),
//     and gopcua v0.8.0 trusts wire
//     array lengths (a 30-byte message can make it allocate gigabytes in its
//     own goroutine, which no recover can catch) and its transport needs a
//     *net.TCPConn, so a byte-capping connection cannot be slotted under it.
//     The residual risk is bounded by MaxOPCUAResponseBytes: decoding a
//     response costs a small multiple of that.
//   - Modbus framing (MBAP encode, verify, decode) is goburrow/modbus's; its
//     socket transport cannot be cancelled by a context, so the bytes travel
//     over a context-aware transport of this package.
//   - Strings reported by a device (vendor names, application names,
//     certificate subjects) are untrusted; callers that print them to a
//     terminal must strip control characters.
package probe
