// Package uplink publishes edgeward records from a durable queue to an MQTT
// broker (MQTT 3.1.1, QoS 1, eclipse/paho.mqtt.golang).
//
// The agent adapts its bbolt buffer to the small Source interface declared
// here (Next, Ack, Ready) and calls Client.Run, which connects, drains the
// queue forever and acknowledges to the queue what the broker acknowledged.
// uplink imports no other edgeward package.
//
// # Topics and payloads
//
// Records of class C are published on Config.Topic(C):
//
//	{prefix}/{enterprise}/{site}/{agent_id}/{class}      prefix default "edgeward/v1"
//
// One MQTT message is one batch: a JSON array of records of one class, at
// most Config.BatchMaxRecords records and Config.BatchMaxBytes bytes. With
// Config.Gzip the array is gzip-compressed and the topic gets the suffix
// "/gz" (GzipTopicSuffix), so subscribers know from the topic alone that they
// must decompress; Subscribe does so. The status topic
// ({...}/{agent_id}/status) holds the retained string "online" while the agent
// is connected; the broker replaces it with the retained last will "offline"
// when the connection dies, and the client publishes a retained "offline"
// itself when it shuts down cleanly. Heartbeat records (class "status") are
// JSON arrays on the same topic; Client.Stats feeds them.
//
// # Guarantees
//
//   - At least once: a message is acknowledged to the Source (Source.Ack) only
//     after the broker's PUBACK for the batch holding it arrived, on the same
//     connection that sent it, and only if every batch published before it on
//     that connection was acknowledged too. Anything else stays in the Source
//     and is sent again: after every reconnect Run reads the Source from the
//     start (after = 0). A crash, a dropped link or a broker restart therefore
//     yields duplicates of the batches that were in flight (at most
//     Config.InFlight batches per reconnect), never a loss. Records carry ids
//     so the platform can drop the duplicates.
//   - Order: within a class, records are first published in Source order, and
//     redeliveries start again from the oldest unacknowledged record, so the
//     first arrival of every record at a subscriber is in Source order.
//   - Bounded: at most Config.InFlight batches wait for a PUBACK or for their
//     Source.Ack at a time; a batch without PUBACK within
//     Config.PublishTimeout drops the connection.
//   - A link that goes silent (no error, nothing arrives) is dropped within
//     about Config.KeepAlive + Config.PingTimeout + KeepAlive/4 through the
//     MQTT keep-alive, and a connection that was live for a keep-alive
//     period (or delivered) is retried at the shortest backoff.
//   - Config.BytesPerSecond holds in every window: at most (T + 0.25 s) of
//     the cap in any T seconds.
//   - The backlog drains as fast as the broker, the window and
//     Config.BytesPerSecond allow once a broker accepts the connection.
//   - Run returns nil soon after its context is cancelled, after at most
//     Config.FlushTimeout spent waiting for in-flight PUBACKs and publishing
//     "offline"; Close stops Run the same way. Publish returns nil only after
//     the PUBACK.
//   - Secrets: the password is never logged, and broker URLs are logged and
//     put into errors without user information.
//
// # How paho is used
//
// paho's own store is not the source of truth. A publish token can report an
// error for a message that was delivered, or success for one resumed across
// an automatic reconnect; QoS 0 messages are dropped silently while
// reconnecting; its file store does not fsync. So every connection is a new
// paho client (a "connection generation") with a memory store,
// CleanSession=true and AutoReconnect off. Its tokens can only complete on
// that connection; Run itself handles reconnects, with jittered exponential
// backoff from Config.MinBackoff to Config.MaxBackoff, trying Config.Brokers
// in order each time (failover). When Run gives up a connection (publish
// error, timeout) it closes the socket without an MQTT DISCONNECT, so the
// broker publishes the "offline" will.
//
// # Caveats
//
//   - Message.Data must be one valid JSON value: it is copied verbatim into the
//     batch array. An invalid record makes its whole batch invalid JSON, and a
//     record larger than the broker's maximum packet size makes the broker drop
//     the connection every time the batch is sent. Both are the caller's
//     problem (validate and bound records before queueing them); uplink cannot
//     tell them from a broker outage and keeps retrying, which stalls the queue.
//   - A Message whose Class is not a valid topic level (empty, or containing
//     '/', '+', '#' or NUL) is dropped, removed from the Source (through its
//     Drop method with ReasonInvalidClass when it has one, else Ack) and
//     counted in Stats.Dropped: it could never be published.
//   - Duplicates are normal (see Guarantees); a subscriber that needs
//     exactly-once must de-duplicate on the record id.
//   - Subscribe uses a clean session: messages published while it is
//     disconnected are not replayed to it. It is meant for `edgeward listen`,
//     not for durable consumption.
//   - BytesPerSecond caps the bytes written to the broker's TCP connection
//     (MQTT packets whole, TLS records, keep-alives); TCP/IP headers are not
//     counted. A record larger than a quarter of a second of the cap goes
//     alone, once the cap's bucket is full, and exceeds it for that moment.
//   - The retained status only says what the broker last saw. After a broker
//     restart without persistence it is empty until the client reconnects.
package uplink
