package uplink

import "errors"

// Configuration errors.
var (
	// ErrInvalidConfig is returned by New, Config.Validate and Subscribe when
	// a Config field has a value that cannot work; the wrapped detail names
	// the field.
	ErrInvalidConfig = errors.New("invalid uplink config")

	// ErrTLSFiles is returned by New and Subscribe when a CA, certificate or
	// key file cannot be read or parsed; the wrapped detail names the file.
	ErrTLSFiles = errors.New("load tls files")
)

// Lifecycle errors.
var (
	// ErrClosed is returned by Run and Publish after Close has been called.
	ErrClosed = errors.New("uplink client closed")

	// ErrRunning is returned by Run when another Run of the same Client has
	// not returned yet.
	ErrRunning = errors.New("uplink client already running")

	// ErrNotConnected is returned by Publish when there is no live broker
	// connection: Run is reconnecting, or Publish could not connect on its own.
	ErrNotConnected = errors.New("not connected to a broker")
)

// Delivery errors.
var (
	// ErrPublishTimeout is returned by Publish, and recorded in Stats by
	// Run, when the broker did not acknowledge (PUBACK) a message within
	// Config.PublishTimeout.
	ErrPublishTimeout = errors.New("publish timed out waiting for puback")

	// ErrConnectionLost is recorded in Stats by Run, and returned by Publish,
	// when the broker connection dropped before the acknowledgement arrived.
	ErrConnectionLost = errors.New("broker connection lost")

	// ErrInvalidClass is recorded in Stats when a Message carries a class
	// that cannot be used as an MQTT topic level (empty, or containing '/',
	// '+', '#' or NUL). Such messages are dropped, counted in Stats.Dropped
	// and removed from the Source (its Drop method with ReasonInvalidClass,
	// else Ack) so that they do not block the queue.
	ErrInvalidClass = errors.New("invalid record class")
)
