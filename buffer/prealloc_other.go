//go:build !linux

package buffer

import "os"

// preallocate gives the byte range [from, to) of f disk blocks by writing
// zeros past the end of the file, and does nothing inside it: Windows
// allocates the clusters when bbolt extends its file.
func preallocate(f *os.File, from, to int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if to <= fi.Size() {
		return nil
	}
	_, err = f.WriteAt(make([]byte, to-max(from, fi.Size())), max(from, fi.Size()))
	return err
}
