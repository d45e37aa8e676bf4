package buffer

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// bbolt's on-disk structures (file format version 2), read here without
// bbolt so that a damaged file can be salvaged: every field is checked before
// it is used, and a page that fails a check is skipped, never trusted.
//
// Page: id (8), flags (2), count (2), overflow (4), then count elements.
// Branch element: pos (4), ksize (4), child page id (8). Leaf element: flags
// (4), pos (4), ksize (4), vsize (4). pos is relative to the element. A
// bucket's value is its root page id (8) and sequence (8), followed by the
// bucket's only page when the root id is 0 (an inline bucket). Fields are in
// host byte order.
const (
	pageHeaderSize   = 16
	pageElemSize     = 16
	bucketHeaderSize = 16
	pageFlagBranch   = 0x01
	pageFlagLeaf     = 0x02
	pageFlagFreelist = 0x10
	leafFlagBucket   = 0x01
	noFreelist       = ^uint64(0)
	maxTreeDepth     = 64
	// maxPageRun bounds a page with its overflow pages: the largest record
	// plus its labels and header.
	maxPageRun = maxRecordData + 2*maxLabelLen + 1<<20
)

var (
	ne          = binary.NativeEndian
	errBadPage  = errors.New("damaged page")
	errNoMeta   = errors.New("no valid bbolt meta page")
	errMetaSize = errors.New("meta page declares a page size the file cannot hold")
)

// bitset is a set of page ids.
type bitset []uint64

func newBitset(n uint64) bitset        { return make(bitset, (n+63)/64) }
func (s bitset) has(i uint64) bool     { return i/64 < uint64(len(s)) && s[i/64]&(1<<(i%64)) != 0 }
func (s bitset) set(i uint64)          { s[i/64] |= 1 << (i % 64) }
func (s bitset) inRange(i uint64) bool { return i/64 < uint64(len(s)) }

// page is one page read from the file with its overflow pages; data is
// valid until the next read.
type page struct {
	flags    uint16
	count    int
	overflow uint64
	data     []byte
}

// pageScan reads one bbolt file defensively.
type pageScan struct {
	f       *os.File
	size    int64
	ps      int64
	meta    boltMeta
	npages  uint64 // pages that can exist: min(high-water mark, file pages)
	buf     []byte
	visited bitset // pages reached by a tree walk
	free    bitset // pages the freelist lists; nil when it is unreadable
	damaged int    // pages of a walked tree that failed a check
	lost    bool   // a walk could not reach part of a tree
}

func openScan(path string) (*pageScan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	m, err := bestMeta(f, fi.Size())
	if errors.Is(err, errNoMeta) {
		// Both meta pages are gone, not necessarily the data: scan every
		// page, at the page size most pages agree on.
		m, err = guessMeta(f, fi.Size())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &pageScan{f: f, size: fi.Size(), ps: int64(m.pageSize), meta: m}
	s.npages = min(m.pgid, uint64(s.size/s.ps))
	s.visited = newBitset(s.npages)
	s.buf = make([]byte, s.ps)
	s.readFreelist()
	return s, nil
}

func (s *pageScan) close() { s.f.Close() }

// bestMeta returns the valid meta page with the highest transaction id, as
// bbolt would pick it.
func bestMeta(f *os.File, size int64) (boltMeta, error) {
	var best *boltMeta
	for _, off := range metaOffsets(size) {
		var buf [pageHeaderSize + 64]byte
		if _, err := f.ReadAt(buf[:], off); err != nil && !errors.Is(err, io.EOF) {
			return boltMeta{}, err
		}
		m, ok := parseMeta(buf[pageHeaderSize:])
		if !ok || (off != 0 && int64(m.pageSize) != off) {
			continue
		}
		if best == nil || m.txid > best.txid {
			best = &m
		}
	}
	if best == nil {
		return boltMeta{}, errNoMeta
	}
	if size < 2*int64(best.pageSize) {
		return boltMeta{}, errMetaSize
	}
	return *best, nil
}

// guessMeta stands in for lost meta pages: no root and no freelist (so every
// page is scanned), and the page size at which the most of the first pages
// name themselves correctly.
func guessMeta(f *os.File, size int64) (boltMeta, error) {
	best, bestN := 0, 0
	for ps := 1024; ps <= 64<<10; ps *= 2 {
		n := 0
		var hdr [pageHeaderSize]byte
		for id := int64(2); id < 258 && (id+1)*int64(ps) <= size; id++ {
			if _, err := f.ReadAt(hdr[:], id*int64(ps)); err == nil && ne.Uint64(hdr[:]) == uint64(id) {
				switch ne.Uint16(hdr[8:]) {
				case pageFlagBranch, pageFlagLeaf, pageFlagFreelist:
					n++
				}
			}
		}
		if n > bestN {
			best, bestN = ps, n
		}
	}
	if bestN == 0 {
		return boltMeta{}, errNoMeta
	}
	return boltMeta{pageSize: uint32(best), freelist: noFreelist, pgid: uint64(size / int64(best))}, nil
}

// read returns page id with its overflow pages after checking that the page
// names itself id and that the run lies inside the file.
func (s *pageScan) read(id uint64) (page, error) {
	if id < 2 || id >= s.npages {
		return page{}, errBadPage
	}
	off := int64(id) * s.ps
	buf := s.buf[:s.ps]
	if _, err := s.f.ReadAt(buf, off); err != nil {
		return page{}, errBadPage
	}
	p := page{flags: ne.Uint16(buf[8:]), count: int(ne.Uint16(buf[10:])), overflow: uint64(ne.Uint32(buf[12:]))}
	if ne.Uint64(buf) != id {
		return page{}, errBadPage
	}
	n := int64(p.overflow+1) * s.ps
	if p.overflow > 0 {
		if id+p.overflow >= s.npages || n > maxPageRun {
			return page{}, errBadPage
		}
		if int64(cap(s.buf)) < n {
			s.buf = append(s.buf[:0], make([]byte, n)...)
			copy(s.buf, buf)
		}
		buf = s.buf[:n]
		if _, err := s.f.ReadAt(buf[s.ps:], off+s.ps); err != nil {
			return page{}, errBadPage
		}
	}
	p.data = buf
	return p, nil
}

// readFreelist loads the freelist named by the meta page; on any damage the
// free set stays nil (unknown).
func (s *pageScan) readFreelist() {
	id := s.meta.freelist
	if id == noFreelist {
		return
	}
	p, err := s.read(id)
	if err != nil || p.flags != pageFlagFreelist {
		return
	}
	start, count := pageHeaderSize, uint64(p.count)
	if count == 0xFFFF {
		if len(p.data) < pageHeaderSize+8 {
			return
		}
		count, start = ne.Uint64(p.data[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > uint64(len(p.data)-start)/8 {
		return
	}
	free := newBitset(s.npages)
	for i := range count {
		if fid := ne.Uint64(p.data[start+int(i)*8:]); free.inRange(fid) {
			free.set(fid)
		}
	}
	for i := id; i <= id+p.overflow && free.inRange(i); i++ {
		free.set(i) // the freelist itself holds no records
	}
	s.free = free
}

// leafElems calls fn for each element of a leaf page whose key and value lie
// inside the page, and returns the number that do not.
func leafElems(p []byte, count int, fn func(flags uint32, k, v []byte)) (bad int) {
	for i := range count {
		eo := pageHeaderSize + i*pageElemSize
		if eo+pageElemSize > len(p) {
			return bad + count - i
		}
		flags := ne.Uint32(p[eo:])
		pos, ksize, vsize := int64(ne.Uint32(p[eo+4:])), int64(ne.Uint32(p[eo+8:])), int64(ne.Uint32(p[eo+12:]))
		start := int64(eo) + pos
		if start+ksize+vsize > int64(len(p)) {
			bad++
			continue
		}
		k := p[start : start+ksize : start+ksize]
		v := p[start+ksize : start+ksize+vsize : start+ksize+vsize]
		fn(flags, k, v)
	}
	return bad
}

// walkBucket walks the tree of the bucket whose stored value is v and calls
// fn for every leaf element it can reach. Pages that fail a check are counted
// in s.damaged and their subtrees marked lost.
func (s *pageScan) walkBucket(v []byte, fn func(flags uint32, k, v []byte)) {
	if len(v) < bucketHeaderSize {
		s.damaged++
		s.lost = true
		return
	}
	root := ne.Uint64(v)
	if root != 0 {
		s.walk(root, 0, fn)
		return
	}
	inline := v[bucketHeaderSize:]
	if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != pageFlagLeaf {
		s.damaged++
		s.lost = true
		return
	}
	if leafElems(inline, int(ne.Uint16(inline[10:])), fn) > 0 {
		s.damaged++
	}
}

func (s *pageScan) walk(id uint64, depth int, fn func(flags uint32, k, v []byte)) {
	if depth > maxTreeDepth || !s.visited.inRange(id) || s.visited.has(id) {
		s.damaged++
		s.lost = true
		return
	}
	s.visited.set(id)
	p, err := s.read(id)
	if err != nil {
		s.damaged++
		s.lost = true
		return
	}
	for i := id + 1; i <= id+p.overflow; i++ {
		s.visited.set(i)
	}
	switch p.flags {
	case pageFlagLeaf:
		if leafElems(p.data, p.count, fn) > 0 {
			s.damaged++
		}
	case pageFlagBranch:
		if pageHeaderSize+p.count*pageElemSize > len(p.data) {
			s.damaged++
			s.lost = true
			return
		}
		// Copy the children first: reading them reuses the page buffer.
		kids := make([]uint64, p.count)
		for i := range kids {
			kids[i] = ne.Uint64(p.data[pageHeaderSize+i*pageElemSize+8:])
		}
		for _, k := range kids {
			s.walk(k, depth+1, fn)
		}
	default:
		s.damaged++
		s.lost = true
	}
}

// scanLeaves calls fn for the elements of every leaf page that no walk
// reached and that the freelist does not list (all such pages when the
// freelist is unreadable): the pages under a damaged branch page.
func (s *pageScan) scanLeaves(fn func(flags uint32, k, v []byte)) {
	for id := uint64(2); id < s.npages; {
		if s.visited.has(id) || s.free.has(id) {
			id++
			continue
		}
		p, err := s.read(id)
		if err != nil {
			id++ // damaged, or inside another page's overflow run
			continue
		}
		if p.flags == pageFlagLeaf {
			leafElems(p.data, p.count, fn)
		}
		id += p.overflow + 1
	}
}

// buckets returns the stored values of the top-level buckets, read from the
// root bucket's tree.
func (s *pageScan) buckets() map[string][]byte {
	out := map[string][]byte{}
	s.walk(s.meta.root, 0, func(flags uint32, k, v []byte) {
		if flags&leafFlagBucket != 0 {
			out[string(k)] = append([]byte(nil), v...)
		}
	})
	return out
}
