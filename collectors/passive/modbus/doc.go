// Package modbus decodes Modbus/TCP from untrusted bytes and analyses it
// passively: ADUs, request/response matching, devices, clients, flows and
// detections. It imports only the standard library.
//
// Specification: MODBUS Application Protocol Specification V1.1b3 and
// MODBUS Messaging on TCP/IP Implementation Guide V1.0b
// (https://modbus.org/specs.php).
//
// # Layers
//
// The decoder layer is ADU.DecodeFromBytes, FrameLength and the PDU helpers
// (Exception, DiagnosticSubFunction, MEIType, RequestAccesses, CheckPDU,
// DeviceID). It never allocates, never panics, resets its output on every
// call and reports failures with the sentinel errors of errors.go.
//
// The analyzer layer is Analyzer and Session. A capture goroutine creates
// one Session per TCP connection and calls Feed with the reassembled,
// in-order payload of each direction (normally once per TCP segment), Gap
// when bytes were lost and Close at FIN, RST or idle timeout. The Analyzer
// holds bounded LRU tables (Devices, Clients, Flows), the capture-wide Stats
// and the alerts waiting for TakeAlerts.
//
// # Counting rules (tshark 4.0 compatibility)
//
// Stats is compared with tshark's dissection (../shared/testdata/pcaps,
// truth.sh), so the framing follows Wireshark's Modbus/TCP dissector and
// tcp_dissect_pdus:
//
//   - A Feed that starts on an ADU boundary is Modbus only when its first
//     8 bytes have protocol id 0 and a length of at least 2 (tshark's
//     heuristic, which accepts any longer length); otherwise none of it is.
//     The ADUs that follow in the same Feed, or that complete an ADU begun
//     in an earlier Feed, are cut by their length field without further
//     checks, exactly as tshark does; after an ADU completed from earlier
//     Feeds the rest of the Feed is judged by the heuristic again.
//   - Protocol id not 0: rejected at a boundary (tshark's
//     adus_protocol_id_not_zero can only come from later ADUs in a chain);
//     inside a chain it is counted as an ADU, as tshark does, and also as
//     malformed.
//   - ADUs without a PDU (length 0 or 1): tshark never shows a Modbus layer
//     for them; they are not counted as ADUs here, only as malformed.
//   - An ADU longer than MaxADULength (bogus lengths such as 0x8804 in
//     digitalbond-modbus_test_data_part1.pcap) is not buffered: its
//     first 8 bytes are kept and the rest skipped; it counts as an ADU (and
//     malformed) once complete, as tshark counts it after reassembly.
//   - Non-Modbus payload on port 502 (HTTP, TLS, RPC in
//     zeek-modbus-and-non-modbus-p502.pcap): it fails the heuristic, so no
//     ADU is counted; each rejected run is one malformed count.
//   - Direction: the caller says toServer; an ADU to the server port is a
//     request, from it a response. An exception response (function code
//     with bit 0x80 and a non-zero exception code, as tshark) counts under
//     its base code as a response and under exceptions_by_code; like tshark,
//     an exception code is tallied in whichever direction it travels.
//   - FC 43 counts under 43 whatever its MEI type (13 CANopen, 14 Read
//     Device Identification). Device identification objects are taken only
//     from normal FC 43/14 responses; objects 0-6 are shown as ASCII strings
//     (cut at NUL, bytes above 0x7F as U+FFFD), others as colon-separated
//     hex; objects of successive responses ("more follows") are merged per
//     server and unit. A truncated response keeps the objects before the
//     truncation (emreekin-modbus-encapsulated-transport.pcap has none).
//   - Malformed PDUs (a field or byte count past the end of the ADU, what
//     tshark marks "Malformed Packet") still count as ADUs of their function
//     code, and once in Stats.Malformed.
//
// # Segments that do not start an ADU
//
// Like tshark there is no resynchronisation inside a segment: a Feed that
// starts on a boundary and fails the heuristic (mid-stream pick-up inside an
// ADU, after a Gap, garbage, fewer than 8 bytes such as an MBAP header sent
// alone) is skipped whole, and the next Feed is judged from its own start.
// When a chain ends with fewer than 6 bytes of an ADU (no length yet), they
// are joined with the whole next Feed, which is judged by the heuristic and
// cut as one chain; an ADU completed from several Feeds is judged by the
// heuristic as a whole (so a protocol id not 0 is dropped there, not
// counted), and the rest of that Feed is judged again. Skipped bytes before
// the first ADU of a direction that are shorter than an ADU (the tail of an
// ADU cut by the capture start) are not malformed unless no ADU ever
// follows. Once an ADU of a segment's chain throws in tshark's Modbus
// dissector (a fixed field missing, a truncated identification object
// list), a partial ADU at the end of that segment is counted as it is (8
// bytes or more) or dropped, not reassembled; an exception without its
// code, FC 43 without MEI type or FC 8 without sub-function is not counted
// (tshark throws before it shows the layer). A rejected segment that looks
// like a TLS record hands the connection to tshark's TLS heuristic: nothing
// after it is Modbus (it is counted malformed). TestFramingAgainstTshark
// (collectors/passive) compares all this with tshark on generated captures
// mixing valid, malformed and fuzzed frames.
//
// # Guarantees
//
//   - No input panics (FuzzModbus); decoding and a steady poll through
//     Session.Feed do not allocate (TestDecodeDoesNotAllocate).
//   - Memory is bounded: a Session holds one partial ADU per direction
//     (MaxADULength bytes, borrowed from the Analyzer only while a partial
//     ADU is held) and up to MaxPendingPerSession requests (a table
//     allocated on the first request, grown as needed); an idle session
//     costs about 300 bytes (TestSessionBytes). The Analyzer's devices,
//     clients, flows, learned writers, alert quiet periods, alerts and
//     Stats servers are bounded by Config, with LRU eviction; device
//     identification objects by MaxIdentityObjects per server and
//     MaxStatsServers for Stats (the rest counted, IdentityObjectsDropped).
//   - Work per byte is bounded: each byte is copied at most once into the
//     partial-ADU buffer.
//
// # Outcomes
//
// What a request did is known from its response, so a request is accounted
// once its outcome is: executed (normal response), refused (exception
// response, per exception code), unanswered (no response within
// Config.ResponseTimeout, before the connection ended, or dropped from a
// full pending table) or broadcast (unit 0 without a response, by design;
// never unanswered). Device.UnitIDs lists only units that answered
// normally, so a gateway's absent units (exceptions 10 and 11) and unit 0
// used for broadcasts are not device units; Flow.UnitIDs, Read and Written
// count only requests answered normally, and Refused and NoResponse hold
// the unit ids, function codes and ranges of the others.
//
// # Detections
//
// Per-request alerts are raised when the request's outcome is known and
// carry it (Alert.Outcome); their severity follows it, since a refused
// request is an attempt and an executed one a change. They are: the first
// write (FC 5, 6, 15, 16, 22, 23) of a client not learned as a writer
// (medium when executed, and the client is learned; low as a write attempt
// when refused or unanswered; writers seen within Config.LearnPeriod are
// learned silently); FC 8 sub-functions that change the communication
// state: restart communications (0x0001) and force listen only (0x0004)
// high, clear counters and others low, refused ones low; the read-only
// sub-functions (return query data, diagnostic register, counters) raise
// nothing; broadcast writes (unit 0 without a response) high; vendor
// programming functions (90 UMAS, with start/stop/download as critical,
// and 65-72, 100-110) high when executed, medium when unanswered, low when
// refused (a probe of a function the device does not have).
//
// Window detections (per client, tumbling Window) are judged on outcomes
// too, so that a varied engineering session is not a scan: modbus.scan
// when ScanUnitThreshold unit ids refused or stayed silent without
// answering (and were at least half of those addressed), when
// ScanFCThreshold function codes were refused as illegal (exception 1) or
// unanswered and had never been answered to the client before, or when
// ScanAddressThreshold start addresses were refused as illegal data
// addresses and such refusals were at least half of the requests;
// identification sweeps (FC 43/14 or 17 to IdentSweepThreshold servers,
// or to twice as many (server, unit) targets that refused or did not
// answer);
// exception rate above ExceptionRateThreshold (exception 1 left out);
// malformed floods. Repeated
// diagnostic, broadcast and programming alerts for the same source are
// raised once per Window with a suppressed count (refused and executed
// ones apart); window detections fire once per client and Window.
//
// # Caveats
//
//   - Feed boundaries stand for TCP segment boundaries. A caller that merges
//     segments still gets every ADU of a clean stream, but on garbage and
//     mid-stream starts the counts can differ from tshark's per-segment view.
//   - Address ranges come from requests (what a client asked to read or
//     write), kept per outcome; past 32 intervals per table, flow and
//     outcome the closest ones are merged (over-approximation). Exception
//     codes beyond the first 8 of a device or flow are counted in its
//     exceptions but not detailed in Refused.
//   - A request without a response is judged unanswered only after
//     ResponseTimeout (capture time, checked at the session's next
//     request) or at the connection's end, so its alert comes then.
//   - A client evicted from the learned-writer table raises
//     modbus.write_new_master again on its next write.
//   - Window detections use tumbling windows started by the client's first
//     ADU, so a scan split across two windows may stay below a threshold.
//   - Analyzer, Session and everything they return pointers into are not
//     safe for concurrent use; the slices returned by Devices, Clients,
//     Flows, Stats and TakeAlerts are copies owned by the caller.
package modbus
