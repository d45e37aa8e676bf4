// Package passive watches industrial network traffic without sending a
// byte: it reads frames from capture files (pcap, pcapng) or live
// interfaces, reassembles TCP, hands Modbus/TCP streams to
// collectors/passive/modbus and OPC UA Binary streams to
// collectors/passive/opcua, and turns what they learn into records:
// net.asset (class asset, key "ip:<addr>": Modbus and OPC UA roles,
// identities and applications merged per IP), net.flow (class activity, key
// "<modbus|opcua>:<client>-><server ip:port>") and modbus.* and opcua.*
// threat records.
//
// # Basics
//
// An Engine does the work and is driven by one goroutine: Process for every
// frame, Flush now and then (capture time in a replay, wall time live),
// Records every summary interval, Summary at the end of a replay. Replay
// wraps that for `edgeward replay`; Collector (New, Run) wraps it for
// `edgeward run`, with OpenFile and OpenLive as sources.
//
// Decoding is hand-rolled: Ethernet, Linux cooked v1 and v2 (SLL, SLL2),
// BSD null/loopback and raw IPv4/IPv6 link types; up to four 802.1Q/802.1ad
// tags (QinQ); IPv4 options and IPv6 extension headers (hop-by-hop,
// routing, destination options, AH). IPv4 and IPv6 fragments are counted
// (decode outcome "ip_fragment") and skipped, not reassembled: Modbus and
// OPC UA segments fit any Ethernet MTU.
//
// Dispatch: a connection with exactly one port in Ports.Modbus is Modbus,
// that port being the server's. With both ports in the set, a SYN names the
// client and a SYN/ACK the server; mid-stream, the lower port is the
// server's (equal ports: the lower address). Ports.OPCUA is matched the
// same way. On any other port, a connection not yet tracked whose segment
// payload starts with a valid OPC UA chunk header (opcua.Recognize, 8
// bytes, checked only for untracked connections so the Modbus path never
// pays for it) is OPC UA: a Hello makes its sender the client; a MSG, OPN
// or CLO header (a session picked up mid-stream) names the client by its
// service type when the body is in clear (...Request from the client,
// ...Response or ServiceFault from the server), else by the lower port
// being the server's. Such connections are counted in
// EngineStats.OPCUARecognized. An ERR or ACK alone does not start one.
//
// # Guarantees
//
//   - No frame is fatal. Every frame is counted once under
//     EngineStats.Decode by outcome (tcp, not_ip, not_tcp, short_ip,
//     bad_ip, ip_fragment, ...); frames cut by the snap length are counted
//     as truncated and their missing bytes become a reassembly gap.
//   - Each TCP direction is delivered to its session in sequence order,
//     exactly once: retransmitted bytes are trimmed, out-of-order segments
//     are held until the hole before them fills. A hole that does not fill
//     within 2 seconds of capture time, or whose held data would exceed 64
//     KiB for the direction, 1024 segments, or Config.MaxReassemblyBytes
//     over all connections, is declared lost (Gap) and skipped, and counted.
//   - Memory is bounded whatever the capture size: the connection table
//     holds at most Config.MaxFlows entries (least recently used evicted,
//     counted), out-of-order data at most MaxReassemblyBytes, the MAC table
//     2×MaxFlows addresses (least recently seen evicted, counted), OPC UA
//     partial chunks and messages opcua.Config.MaxBufferedBytes over all
//     connections (EngineStats.OPCUADroppedOverBudget), Modbus device
//     identification modbus.Config.MaxIdentityObjects per server, the
//     modbus and opcua tables their own LRU bounds, the
//     event rate-limit table 4096 keys and a Summary 10000 events.
//   - Steady-state processing of an established connection allocates
//     nothing per packet (TestProcessDoesNotAllocate), local process
//     attribution on or off: only a connection's first segment is checked
//     against this host's addresses.
//   - Replayed files are never attributed to local processes, and
//     attribution's tables are bounded: 1024 connections waiting for a
//     socket table read (more are skipped, counted in
//     EngineStats.LocalLookupsSkipped), 4096 attributed
//     connections and 4096 flows (least recently used evicted).
//   - Events are rate-limited to one per (kind, client) per minute of
//     capture time; the next emitted event of that key carries the number
//     suppressed in between (Event.Suppressed).
//   - Records returns state records only for assets and flows that saw
//     traffic since the previous call, with cumulative counts, so a quiet
//     network sends nothing and a busy one one record per flow per interval.
//
// # Caveats
//
//   - Mid-stream pick-up: with no SYN, the first data segment seen starts a
//     direction. If that segment was itself out of order, the bytes before
//     it are never delivered (they look like retransmissions).
//   - A connection ended by FIN/RST is remembered until it idles out so late
//     retransmissions do not start a new connection; a new SYN on the same
//     4-tuple does (a SYN that repeats the initial sequence number, as a
//     retransmission does, does not).
//   - A RST ends a connection only at the next expected sequence number,
//     as RFC 5961 stacks accept it, so a spoofed RST cannot blind the
//     sensor; others are counted (FlowStats.IgnoredRST). tshark instead
//     moves its expected sequence number to such a RST and stops
//     dissecting that direction, so counts can differ after one.
//   - Records judges "since the previous call" by capture time, so packets
//     a live capture hands over late still reach the next records.
//   - pcapng files may mix interfaces of different link types; each frame
//     is decoded by its own interface's link type.
//   - The MAC address of an asset is the source MAC of the first frame seen
//     from its IP: for routed traffic that is the router's, not the host's.
//   - IP fragments are not reassembled (counted only).
//   - Not safe for concurrent use: the Collector serialises its capture
//     goroutines through a mutex.
//   - Local process attribution (Config.AttributeLocal, live capture on
//     Linux and Windows only): a connection whose client, else server,
//     address is this host's (interface addresses, re-read every minute,
//     and loopback) is looked up by its exact 4-tuple as soon as its SYN
//     is seen, by a worker outside the Engine's lock: on Linux a SYN-only
//     AF_PACKET socket (no ring, so no block timeout) reports the SYN,
//     NETLINK_SOCK_DIAG gives the socket's inode and /proc/<pid>/fd its
//     process; on Windows GetExtendedTcpTable is read when the capture
//     hands the first segment over. A server end not accepted yet is
//     attributed to its listener's owner. Measured on loopback under load
//     (TestAttributionShortConnections): at least 95% of connections of
//     20 ms or more are attributed. A connection closed before its lookup
//     ends, or another user's socket while the agent runs unprivileged,
//     stays unattributed. A net.flow carries the owner of its latest
//     attributed connection (several processes may share a flow); an
//     event the owner of the client end of its own connection. The command
//     line, clipped to MaxCmdline bytes, may hold secrets passed as
//     arguments: it goes into records, never into logs.
package passive
