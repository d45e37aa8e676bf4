package buffer

// initialMmapCap is the largest InitialMmapSize handed to bbolt. On Windows
// bbolt resizes the file to InitialMmapSize at open, which would defeat size
// accounting and compaction, so the mapping grows on demand instead.
const initialMmapCap = 0

// syncDir is a no-op on Windows, where directories cannot be fsynced; NTFS
// journals the rename itself.
func syncDir(string) error { return nil }
