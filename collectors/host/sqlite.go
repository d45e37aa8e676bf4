package host

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A minimal read-only reader of SQLite 3 database files, enough to walk the
// rows of one rowid table (rpm's Packages table) without cgo. It follows
// https://www.sqlite.org/fileformat.html: the 100-byte header, table
// b-tree pages (interior 0x05, leaf 0x0d), cell payloads with overflow
// chains, and the record format. It reads pages on demand through an
// io.ReaderAt, checks every offset against the page, refuses page cycles
// and bounds the tree depth and the payload size, so a corrupt or hostile
// file gives an error, never a panic or an unbounded allocation. It does not
// read the write-ahead log.

// Limits of the sqlite reader.
const (
	sqliteMaxDepth   = 32       // b-tree depth; real trees are < 10
	sqliteMaxPayload = 32 << 20 // one row; an rpm header is < 1 MiB
)

// sqliteDB is an open database file. It is not safe for concurrent use.
type sqliteDB struct {
	r        io.ReaderAt
	pageSize int
	usable   int
	nPages   uint32
}

// openSQLite reads and checks the header of a database of size bytes.
func openSQLite(r io.ReaderAt, size int64) (*sqliteDB, error) {
	var h [100]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, fmt.Errorf("%w: read header: %w", errSQLite, err)
	}
	if !bytes.Equal(h[:16], []byte("SQLite format 3\x00")) {
		return nil, fmt.Errorf("%w: bad magic", errSQLite)
	}
	ps := int(binary.BigEndian.Uint16(h[16:]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("%w: page size %d", errSQLite, ps)
	}
	usable := ps - int(h[20])
	if usable < 480 {
		return nil, fmt.Errorf("%w: usable page size %d", errSQLite, usable)
	}
	n := uint32(size / int64(ps))
	if n == 0 {
		return nil, fmt.Errorf("%w: empty file", errSQLite)
	}
	return &sqliteDB{r: r, pageSize: ps, usable: usable, nPages: n}, nil
}

// readPage reads page n (1-based) into a new slice.
func (db *sqliteDB) readPage(n uint32) ([]byte, error) {
	if n == 0 || n > db.nPages {
		return nil, fmt.Errorf("%w: page %d out of range 1..%d", errSQLite, n, db.nPages)
	}
	p := make([]byte, db.pageSize)
	if _, err := db.r.ReadAt(p, int64(n-1)*int64(db.pageSize)); err != nil {
		return nil, fmt.Errorf("%w: read page %d: %w", errSQLite, n, err)
	}
	return p, nil
}

// tableRoot returns the root page of the table called name, from the
// sqlite_schema table on page 1.
func (db *sqliteDB) tableRoot(name string) (uint32, error) {
	var root uint32
	err := db.scanTable(1, func(_ int64, payload []byte) error {
		cols, err := sqliteRecord(payload, 4)
		if err != nil {
			return err
		}
		if cols[0].text() == "table" && cols[1].text() == name {
			if v, ok := cols[3].int(); ok && v > 0 && v <= int64(db.nPages) {
				root = uint32(v)
				return errStopScan
			}
			return fmt.Errorf("%w: table %q has root page %v", errSQLite, name, cols[3])
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return 0, err
	}
	if root == 0 {
		return 0, fmt.Errorf("%w: no table %q", errSQLite, name)
	}
	return root, nil
}

// scanTable calls fn with the rowid and payload of every row of the table
// b-tree rooted at page root, in rowid order. payload is valid only during
// the call. An error from fn ends the walk and is returned.
func (db *sqliteDB) scanTable(root uint32, fn func(rowid int64, payload []byte) error) error {
	visited := make(map[uint32]bool)
	return db.walk(root, 0, visited, fn)
}

func (db *sqliteDB) walk(pg uint32, depth int, visited map[uint32]bool, fn func(int64, []byte) error) error {
	if depth > sqliteMaxDepth {
		return fmt.Errorf("%w: b-tree deeper than %d", errSQLite, sqliteMaxDepth)
	}
	if visited[pg] {
		return fmt.Errorf("%w: page %d referenced twice", errSQLite, pg)
	}
	visited[pg] = true
	p, err := db.readPage(pg)
	if err != nil {
		return err
	}
	hdr := 0
	if pg == 1 {
		hdr = 100 // the file header
	}
	if len(p) < hdr+12 {
		return fmt.Errorf("%w: page %d too short", errSQLite, pg)
	}
	kind := p[hdr]
	nCells := int(binary.BigEndian.Uint16(p[hdr+3:]))
	var cellPtrs int
	switch kind {
	case 0x0d: // table leaf
		cellPtrs = hdr + 8
	case 0x05: // table interior
		cellPtrs = hdr + 12
	default:
		return fmt.Errorf("%w: page %d: type 0x%02x is not a table b-tree page", errSQLite, pg, kind)
	}
	if cellPtrs+2*nCells > db.usable {
		return fmt.Errorf("%w: page %d: %d cells do not fit", errSQLite, pg, nCells)
	}
	for i := 0; i < nCells; i++ {
		off := int(binary.BigEndian.Uint16(p[cellPtrs+2*i:]))
		if off < cellPtrs+2*nCells || off >= db.usable {
			return fmt.Errorf("%w: page %d: cell %d at offset %d", errSQLite, pg, i, off)
		}
		cell := p[off:db.usable]
		if kind == 0x05 {
			if len(cell) < 4 {
				return fmt.Errorf("%w: page %d: short interior cell", errSQLite, pg)
			}
			if err := db.walk(binary.BigEndian.Uint32(cell), depth+1, visited, fn); err != nil {
				return err
			}
			continue
		}
		rowid, payload, err := db.leafCell(pg, cell)
		if err != nil {
			return err
		}
		if err := fn(rowid, payload); err != nil {
			return err
		}
	}
	if kind == 0x05 {
		return db.walk(binary.BigEndian.Uint32(p[hdr+8:]), depth+1, visited, fn)
	}
	return nil
}

// leafCell decodes a table leaf cell and gathers its overflow pages.
func (db *sqliteDB) leafCell(pg uint32, cell []byte) (int64, []byte, error) {
	size, n := sqliteVarint(cell)
	if n == 0 {
		return 0, nil, fmt.Errorf("%w: page %d: bad payload size", errSQLite, pg)
	}
	cell = cell[n:]
	rowid, n := sqliteVarint(cell)
	if n == 0 {
		return 0, nil, fmt.Errorf("%w: page %d: bad rowid", errSQLite, pg)
	}
	cell = cell[n:]
	if size > sqliteMaxPayload {
		return 0, nil, fmt.Errorf("%w: page %d: row %d of %d bytes", errSQLite, pg, int64(rowid), size)
	}
	p := int(size)
	u := db.usable
	x := u - 35
	local := p
	if p > x {
		m := ((u-12)*32)/255 - 23
		k := m + (p-m)%(u-4)
		local = m
		if k <= x {
			local = k
		}
	}
	if local > len(cell) || (local < p && local+4 > len(cell)) {
		return 0, nil, fmt.Errorf("%w: page %d: row %d overruns the page", errSQLite, pg, int64(rowid))
	}
	payload := make([]byte, 0, p)
	payload = append(payload, cell[:local]...)
	if local == p {
		return int64(rowid), payload, nil
	}
	next := binary.BigEndian.Uint32(cell[local:])
	seen := make(map[uint32]bool)
	for len(payload) < p {
		if next == 0 || seen[next] {
			return 0, nil, fmt.Errorf("%w: row %d: broken overflow chain", errSQLite, int64(rowid))
		}
		seen[next] = true
		op, err := db.readPage(next)
		if err != nil {
			return 0, nil, err
		}
		take := min(p-len(payload), u-4)
		payload = append(payload, op[4:4+take]...)
		next = binary.BigEndian.Uint32(op)
	}
	return int64(rowid), payload, nil
}

// sqliteVarint decodes a big-endian sqlite varint (1 to 9 bytes). n is 0
// when b is too short.
func sqliteVarint(b []byte) (v uint64, n int) {
	for i := 0; i < 9; i++ {
		if i >= len(b) {
			return 0, 0
		}
		if i == 8 {
			return v<<8 | uint64(b[i]), 9
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// sqliteValue is one column of a record: its serial type and raw bytes
// (aliasing the payload).
type sqliteValue struct {
	typ uint64
	raw []byte
}

// text returns a text or blob column as a string, "" otherwise.
func (v sqliteValue) text() string {
	if v.typ >= 12 {
		return string(v.raw)
	}
	return ""
}

// blob returns a blob column, nil otherwise.
func (v sqliteValue) blob() []byte {
	if v.typ >= 12 && v.typ%2 == 0 {
		return v.raw
	}
	return nil
}

// int returns an integer column.
func (v sqliteValue) int() (int64, bool) {
	switch v.typ {
	case 8:
		return 0, true
	case 9:
		return 1, true
	case 1, 2, 3, 4, 5, 6:
		var x int64
		for _, c := range v.raw {
			x = x<<8 | int64(c)
		}
		shift := 64 - 8*uint(len(v.raw)) // sign-extend
		return x << shift >> shift, true
	}
	return 0, false
}

// sqliteIntSizes is the byte width of the integer serial types 0..9.
var sqliteIntSizes = [10]int{0, 1, 2, 3, 4, 6, 8, 8, 0, 0}

// sqliteRecord decodes the first want columns of a record; missing trailing
// columns are NULL.
func sqliteRecord(payload []byte, want int) ([]sqliteValue, error) {
	hlen, n := sqliteVarint(payload)
	if n == 0 || hlen < uint64(n) || hlen > uint64(len(payload)) {
		return nil, fmt.Errorf("%w: bad record header", errSQLite)
	}
	hdr, body := payload[n:hlen], payload[hlen:]
	cols := make([]sqliteValue, want)
	for i := 0; i < want && len(hdr) > 0; i++ {
		t, n := sqliteVarint(hdr)
		if n == 0 {
			return nil, fmt.Errorf("%w: bad serial type", errSQLite)
		}
		hdr = hdr[n:]
		var size uint64
		switch {
		case t < 10:
			size = uint64(sqliteIntSizes[t])
		case t < 12:
			return nil, fmt.Errorf("%w: reserved serial type %d", errSQLite, t)
		default:
			size = (t - 12) / 2
		}
		if size > uint64(len(body)) {
			return nil, fmt.Errorf("%w: column %d overruns the record", errSQLite, i)
		}
		cols[i] = sqliteValue{typ: t, raw: body[:size]}
		body = body[size:]
	}
	return cols, nil
}
