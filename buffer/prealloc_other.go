//go:build !linux

package buffer

// preallocate is a no-op outside Linux: Windows allocates the clusters when
// bbolt extends its file, and the other targets are not supported hosts.
func preallocate(string, int64, int64) error { return nil }
