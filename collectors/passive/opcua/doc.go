// Package opcua decodes OPC UA Binary (opc.tcp, OPC UA Part 6) traffic
// passively and turns it into counts, application and flow tables and
// security alerts.
//
// The capture layer reassembles each TCP connection and hands its in-order
// bytes to a Session (Analyzer.NewSession, Session.Feed, Session.Gap,
// Session.Close). Recognize tells whether a stream starts with a Hello (an
// OPC UA connection on any port) or, for a stream picked up mid-session,
// with a MSG, OPN or CLO chunk header. The Session cuts each direction into
// chunks (ChunkHeader) and decodes:
//
//   - HEL (endpoint URL), ACK, ERR (status code), RHE;
//   - OPN: security policy URI, sender certificate (thumbprint, subject,
//     validity through crypto/x509) and, with policy None, the
//     OpenSecureChannel service and its security mode;
//   - MSG and CLO: chunk types F, C and A, multi-chunk messages reassembled
//     by request id within MaxMessageSize and MaxChunksPerMessage; the
//     service type id (two-byte, four-byte and numeric NodeId encodings) and
//     name (ServiceName, a table generated from gopcua v0.8.0's id package)
//     when the body is readable; and the security-relevant fields of
//     GetEndpoints and CreateSession responses (endpoints, policies, modes,
//     user token types, server certificate), CreateSession requests (client
//     application description and certificate), ActivateSession (identity
//     token type; user name token policy and whether the password travels
//     unencrypted), Write (node ids), Call (object and method ids),
//     AddNodes/DeleteNodes/AddReferences/DeleteReferences, ServiceFault and
//     the status code of every response.
//
// Counting follows tshark 4.0 (the .truth.json files of the shared
// captures): a message is one chunk; a service is counted when tshark
// shows opcua.servicenodeid.numeric, i.e. when the body of a final MSG, OPN
// or CLO chunk starts with a numeric NodeId (a multi-chunk message once, on
// its final chunk). tshark 4.0 reads that type id from encrypted bodies too,
// so ciphertext that happens to start with a numeric NodeId encoding byte
// (about 1 in 85 chunks) is counted, mostly as "Unknown"; this package
// counts it the same way but never decodes ciphertext. Decoding follows the
// channel: after an OPN with a policy other than None, the first MSG decides
// (as Wireshark 4.2 does) whether the channel is signed only (its body
// starts with a known service id: bodies are decoded) or signed and
// encrypted (metadata only).
//
// Analyzer.Stats marshals to the "opcua" object of `edgeward replay`;
// Devices, Clients and Flows return copies of the bounded tables;
// TakeAlerts returns the detections (Kind* constants): SecurityPolicy None
// sessions, endpoints offering None or deprecated policies, anonymous
// sessions, cleartext passwords, writes and method calls from a client never
// seen doing so, node management, authentication-failure bursts, ERR floods,
// and expired or expiring certificates.
//
// # Guarantees
//
//   - No panic on any input, and no unbounded memory: every length read
//     from the wire (strings, byte strings, arrays, chunk and message sizes)
//     is checked against the bytes remaining and the configured limits
//     before it is used; arrays are walked, never pre-allocated, and their
//     declared length times the minimum element size must fit in what
//     remains. gopcua's ua decoder, which trusts array lengths (a 132-byte
//     message makes v0.8.0 allocate 16 GB), is never used on captured bytes.
//     FuzzOPCUA and TestHugeArrayGuard check this.
//   - Per session at most one partial chunk (MaxChunkSize) and one partial
//     multi-chunk message (MaxMessageSize) per direction are buffered, grown
//     with the bytes actually received and given back once complete (an
//     idle session holds no buffer). All sessions of an Analyzer share
//     MaxBufferedBytes (16 MiB by default, a few released buffers kept for
//     reuse included): a session that needs more than is left drops its
//     partial chunk and message, counted in Stats.DroppedOverBudget, and
//     resumes at the next chunk. The device, client and flow tables
//     are LRU-bounded; the Stats sets and the alert queue are bounded.
//   - ChunkHeader.DecodeFromBytes, Recognize and DecodeServiceID do not
//     allocate; a Feed of chunks that carry no new information (the steady
//     state of a Read/Publish session) does not allocate.
//   - Counts of a stream in sync do not depend on how its bytes are split
//     over Feed calls.
//
// # Caveats
//
//   - Sessions and the Analyzer are not safe for concurrent use: one
//     goroutine owns an Analyzer and all its sessions.
//   - Framing follows tshark (tcp_dissect_pdus on the size at offset 4,
//     with no other check): whatever bytes come first are a chunk header,
//     so a stream picked up mid-chunk, or garbage, swallows the chunks that
//     follow until its size is reached; a size of 0 ends the direction, a
//     size of 1-7 or one 2 GiB or more ahead drops the rest of the Feed; a
//     chunk of an unknown message type is skipped by its size; any chunk
//     type and size counts as a message (a MSG from 24 bytes on), its body
//     read when the header is valid (or, but for MSG, only its chunk type
//     is unknown). TestFramingAgainstTshark (collectors/passive) compares
//     this with tshark on generated captures. Only after a Gap, or a
//     PickUp (the engine's call for a direction whose SYN was not
//     captured: a live capture started after the connection), are bytes
//     skipped until a Feed starts with a valid chunk header; there tshark
//     would read a size out of the middle of a chunk and lose the direction.
//   - Signed-and-encrypted channels yield metadata only (policy, sender
//     certificate, chunk counts and sizes). The security mode of a secured
//     channel is inferred from its first MSG, so a stream picked up
//     mid-session with no OPN is decoded when readable, and decoding
//     failures there are not counted malformed.
//   - Only numeric service type ids name a service. Only the first DER
//     certificate of a certificate chain is parsed (at most 64 KiB).
//   - Alerts keyed "new client" (writes, method calls) live in the bounded
//     client table: an evicted client alerts again.
package opcua
