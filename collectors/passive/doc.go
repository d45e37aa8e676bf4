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
//   - Memory is bounded whatever the input: every table has a byte budget
//     (see Memory below), and what a bound makes the engine forget or drop
//     is counted in EngineStats (Flows.Evicted, MACsEvicted,
//     Tables.Evicted, Reassembly.GapsOverflow, OPCUADroppedOverBudget,
//     EventsDropped; Summary.EventsOmitted), which the agent's heartbeat
//     carries.
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
//     capture time (Modbus: per kind, client and severity, so that a
//     refused attempt does not hide the executed change after it); the
//     next emitted event of that key carries the number suppressed in
//     between (Event.Suppressed). The alerts a frame raises pass the rate
//     limit as soon as the frame is processed; a Modbus request's alert
//     waits for its outcome (response, ResponseTimeout, connection end).
//   - A replay is deterministic: the same files and configuration give the
//     same Summary, byte for byte in JSON (TestReplayDeterministic).
//     Nothing depends on map iteration order or the clock: bounded tables
//     evict in least-recently-used order (a linked list), outputs are
//     sorted, and replays use capture time only.
//   - Records returns state records only for assets and flows that saw
//     traffic since the previous call, with cumulative counts, so a quiet
//     network sends nothing and a busy one one record per flow per interval.
//
// # Memory
//
// Config.MemoryBudget (default 16 MiB; the agent gives the passive
// collector a quarter of limits.memory) is split into byte budgets, one
// per table, each enforced by least-recently-used eviction or by dropping
// what does not fit (Engine.Budget, EngineStats.Budget; at 16 MiB):
//
//	table                                    share   at 16 MiB   when full
//	connections and their protocol sessions   30%    4.8 MiB     evict the least recently used connection
//	out-of-order TCP data (buffer capacity)   15%    2.4 MiB     skip to the buffered data (gap)
//	OPC UA partial chunks and messages        10%    1.6 MiB     drop the partial chunk (counted)
//	Modbus devices, clients, flows            10%    1.6 MiB     evict (flows 1/2, devices and clients 1/4 each)
//	OPC UA applications, flows, Stats strings 12%    1.9 MiB     evict (3/8, 3/8), drop new strings (1/8)
//	source MAC per IP                          2%    0.3 MiB     evict
//	events waiting for Records (Collector)    10%    1.6 MiB     drop (EventsDropped); a file replay cuts a cycle at half
//	  or kept for a replay's Summary                            omit (Summary.EventsOmitted; also past 10000 events)
//	headroom for Records and Summary copies   11%
//
// Config.MaxFlows, MaxReassemblyBytes and the analyzers' MaxTableBytes and
// MaxBufferedBytes only lower a share. A connection is measured after each
// of its frames (the conn, its session's pending requests and partial
// buffers, its out-of-order segment list, and the nodes of table entries
// evicted while the session still refers to them): at about 1 KiB per
// connection in a flow storm, 16 MiB tracks some 4,900 connections at
// once. An analyzer table entry is measured whenever it is used (strings,
// certificates, endpoints, address ranges, identification objects). Small
// tables bounded by a count of fixed-size entries are outside the shares,
// about 6 MiB in all: the rate limiter (4096 keys), the alert quiet
// periods (4096 per analyzer), learned writers (1024), OPC UA client state
// (1024), Stats servers (4096 per analyzer) and Modbus identification
// objects (4096), free lists (256 connections, 64 partial-ADU buffers; the
// reassembly pool within an eighth of its share), the capture file reader
// (1 MiB and one frame of at most 256 KiB), the OUI table (about 2 MiB,
// loaded once), and, live only, local process attribution (1024 waiting
// connections, 4096 connections and 4096 flows; command lines clipped to
// MaxCmdline). The records of a Records call and a replay's Summary are
// copies of bounded tables; a Collector hands records over in batches of
// at most 512.
//
// A flow storm of 200,000 connections (pcapgen.Storm; go run
// ./collectors/passive/internal/pcapgen/stormgen) measures it:
// BenchmarkReplayStorm here, and BenchmarkStormRSS in the agent for the
// resident set of `edgeward replay` and `edgeward run`.
//
// Replay speed is measured on two shapes of about one million packets
// (1000 connections; go run ./collectors/passive/internal/pcapgen/benchgen
// -shape polling|mixed): FC 3 polling (BenchmarkReplay) and mixed function
// codes with exceptions, identification and two ADUs per segment
// (BenchmarkReplayMixed); BenchmarkReplayCLI in the agent times `edgeward
// replay` on both. Per packet the engine allocates nothing on these shapes
// but for new connections and table entries: records are read in place from
// the file buffer, a device's table size is kept as it changes rather than
// recounted on every ADU, and a connection keeps its MAC table entries. A
// replay reads and parses the file on a second goroutine, in two batches of
// 2048 packets that take turns (the file buffer is MaxPacketSize, so the
// resident set stays about 21 MB), and finds a segment's connection through
// a small cache by a hash of its 4-tuple before the flow map. Measured on a
// 2-core Xeon VM at load average about 1 (WIRESHARK_CONFIG_DIR=<empty dir>
// hyperfine -N -w1 -r3 './bin/edgeward replay FILE' 'tshark -n -r FILE -Y
// mbtcp -T fields -e frame.number -e mbtcp.trans_id -e modbus.func_code',
// 1,006,000 packets each, tshark 4.0.17): polling 172 ms, 5.9 M packets/s,
// 93x tshark; mixed 227 ms, 4.4 M packets/s, 70x tshark.
//
// # Capture files
//
// OpenFile reads pcap (microsecond and nanosecond, either byte order) and
// pcapng (several sections and byte orders, interfaces of mixed link
// types, if_tsresol and if_tsoffset, enhanced, simple and obsolete packet
// blocks), gzip-compressed or not, with its own parser: every block or
// record length is checked against its type's minimum, the 4-byte
// alignment, MaxPacketSize, the block itself, the trailing length and the
// bytes left in the file before anything is read or allocated. A failure
// is a *CaptureError, "invalid block at offset N" (ErrInvalidBlock) or
// "truncated block at offset N" (ErrTruncated), and no frame is decoded
// from that block; Replay reads up to it and reports it in Summary.Files
// (`edgeward replay` warns on stderr, or fails with --strict).
//
// # Files in a Collector: exactly once
//
// Each configured file is replayed by an Engine of its own, started empty,
// so that what a file produces depends only on its content and the
// configuration; files and the live capture do not share connections or
// tables. The file's packets are cut into emission cycles after packet n
// when the cycle's capture time reaches SummaryInterval or it holds 2^18
// packets (a full cut: the events and the asset and flow records due, as
// Records), or when the events waiting pass half of their budget (an event
// cut: the events only, as Events); the end of the file is a last full
// cut. A cut depends only on the packets before it, so reading the file
// again cuts it at the same packets and produces the same records in the
// same order.
//
// A cut's records are handed to collectors.Checkpointer.EmitCheckpoint
// together with the file's checkpoint (name "passive.file:" and the
// absolute path; JSON with the size, modification time and file id (device
// and inode, or volume serial and file index), the packet of the last
// complete cut and of the last complete full cut, a partly stored cut,
// done), at most 512 records per call: after a crash either a batch and
// its checkpoint are both stored or neither is. A Run, in this process or
// after a restart, reads the checkpoint first. A file whose identity
// matches a done checkpoint is not read again. One that matches an
// unfinished checkpoint is read again from its start with emission
// suppressed up to the checkpoint: it is cut exactly where the stored cuts
// were (a full cut at the last full cut, an event cut at the last cut, the
// partly stored cut at its packet), so the records already stored are
// regenerated and dropped, the rest of a partly stored cut and the later
// cuts are emitted (TestCollectorFileExactlyOnce crashes at every call). A
// file whose identity changed is read from its start as a new file. With
// an Emitter that is not a Checkpointer the checkpoints are kept in memory
// for the process. A file that cannot be opened (missing, unreadable, not
// a capture) is logged as an error and marked failed (EngineStats.Files),
// never retried by the Collector; once its files are done a Collector
// without interfaces returns that error (the agent does not restart it),
// or, when every file could be read, idles until it is cancelled.
//
// What the live capture learned (modbus.Learned: the writers and the start
// of the learning period) is stored as the checkpoint "passive.learned"
// with the last batch of the cycle in which it changed, so that a writer's
// first-write event and its being learned are stored together. A live
// capture, in this process or after a restart, starts from it: known
// writers are not reported again and the learning period is not opened
// again (TestLiveLearnedWritersSurviveRestart). Replayed files start
// from nothing: each replay is its own analysis.
//
// # Detection quality
//
// The detections are tuned and measured on generated corpora
// (internal/pcapgen BenignCorpus and AttackCorpus, TestCorpora): captures
// of a small plant, each from its own seed, with 2-4 Modbus servers (PLCs
// that answer any unit id, ignore unknown ones or refuse them; serial
// gateways with absent and offline units answering exception 10 or 11;
// random register maps and supported function codes) and an OPC UA
// server. Every capture has 5 minutes of normal operation, the learning
// period (modbus.Config.LearnPeriod; collectors.passive.learn_period in
// the agent's configuration), and 10 more: HMI polling with the
// odd setpoint write, historian reads, engineering upload and download
// sessions with 43/14, 17, 20, 21, 22, 23, 24, 7, 8 (read-only
// sub-functions), 11 and 12, some refused by devices that lack them or
// read past the end of a map, an OPC UA client that discovers on a None
// channel and then reads and publishes on a SignAndEncrypt one (renewed
// every 5 minutes), another signed in with an
// encrypted user name token reading on a Sign channel. An attack capture
// adds one attack from a new address at a random time: unit id sweeps
// (FC 3, 4 or 17; all 247 ids or a range), function code sweeps,
// register address sweeps, identification sweeps over the servers, FC 8
// restart or force listen only, a write from a new master, a UMAS
// download with stop and start (from a new address or the engineering
// station's), OPC UA user name guessing (over None or Basic256Sha256,
// 1-10 attempts per connection, one attempt per 0.2-2 s or, slowly, per
// 15-20 s).
//
// Corpus rates (detected: attack captures that raised the event kind;
// FP: captures, benign or attack, in which the plant's own clients raised
// it; the test fails when these figures change):
//
//	attack family         event kind                   detected    FP         also raised by the attack
//	unit_sweep            modbus.scan                  8/10 80%    0/100 0%   modbus.exception_rate, modbus.identification_sweep
//	fc_sweep              modbus.scan                  10/10 100%  0/100 0%   modbus.program_function, modbus.write_new_master
//	address_sweep         modbus.scan                  10/10 100%  0/100 0%   modbus.exception_rate
//	identification_sweep  modbus.identification_sweep  8/10 80%    0/100 0%   -
//	fc8_restart           modbus.diagnostic            10/10 100%  0/100 0%   -
//	new_master_write      modbus.write_new_master      10/10 100%  0/100 0%   -
//	fc90_download         modbus.program_function      10/10 100%  0/100 0%   -
//	opcua_brute_force     opcua.brute_force            6/10 60%    0/100 0%   opcua.cleartext_password, opcua.security_none
//	captures: 20 benign, 80 attack; events from the plant's own clients: 0
//
// The same corpora from the held-out seeds 7, 12, 99, 2024 and 31337 give
// no false positive either; there the families with misses (unit and
// identification sweeps, password guessing) are detected in 60-100% of
// their captures and the others in all. The misses are what the
// detections cannot see: a unit id sweep of a PLC
// that answers every unit id normally, an identification sweep of fewer
// than 4 servers whose units answer, and password guessing slower than
// opcua.Config.BruteForceThreshold failures per Window.
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
