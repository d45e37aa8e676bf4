//go:build !linux

package buffer

import bolt "go.etcd.io/bbolt"

// trimMapping does nothing outside Linux (see trim_linux.go).
func trimMapping(*bolt.DB, int64) {}
