//go:build ignore

// gen_rpmdb prints the SQL of a synthetic rpm sqlite database: the schema
// rpm 4.16+ creates (Packages, Name index table) with 512-byte pages, so
// that header blobs spill into overflow pages and the Packages b-tree has
// interior pages. Regenerate the fixtures with:
//
//	cd collectors/host/testdata
//	go run gen_rpmdb.go | sqlite3 rpmroot/var/lib/rpm/rpmdb.sqlite
//	go run gen_rpmdb.go -bad | sqlite3 rpmdb-bad.sqlite
package main

import (
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"strings"
)

type entry struct {
	tag, typ uint32
	data     []byte
}

func str(tag uint32, s string) entry { return entry{tag, 6, append([]byte(s), 0)} }
func i32(tag uint32, v uint32) entry {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, v)
	return entry{tag, 4, b}
}

// header builds a header blob; int32 data is 4-aligned as rpm does.
func header(es ...entry) []byte {
	var data []byte
	index := make([]byte, 0, 16*len(es))
	for _, e := range es {
		if e.typ == 4 {
			for len(data)%4 != 0 {
				data = append(data, 0)
			}
		}
		var ie [16]byte
		binary.BigEndian.PutUint32(ie[0:], e.tag)
		binary.BigEndian.PutUint32(ie[4:], e.typ)
		binary.BigEndian.PutUint32(ie[8:], uint32(len(data)))
		binary.BigEndian.PutUint32(ie[12:], 1)
		index = append(index, ie[:]...)
		data = append(data, e.data...)
	}
	out := make([]byte, 8, 8+len(index)+len(data))
	binary.BigEndian.PutUint32(out, uint32(len(es)))
	binary.BigEndian.PutUint32(out[4:], uint32(len(data)))
	return append(append(out, index...), data...)
}

func main() {
	bad := flag.Bool("bad", false, "add a corrupt header blob")
	flag.Parse()
	fmt.Println("PRAGMA page_size=512;")
	fmt.Println("PRAGMA journal_mode=WAL;")
	fmt.Println("CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL);")
	fmt.Println("CREATE TABLE 'Name' (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum));")
	fmt.Println("CREATE INDEX 'Name_key_idx' ON 'Name'(key ASC);")
	fmt.Println("BEGIN;")
	n := 60
	if *bad {
		n = 3
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("pkg-%03d", i)
		arch := "x86_64"
		if i%2 == 0 {
			arch = "noarch"
		}
		es := []entry{
			str(1000, name), str(1001, fmt.Sprintf("1.%d", i)), str(1002, fmt.Sprintf("%d.el9", i)),
			str(1005, strings.Repeat("description ", 10+i*2)), // filler: long rows overflow
			str(1011, "Rocky Enterprise Software Foundation"), str(1022, arch),
			i32(1008, uint32(1700000000+i*86400)),
		}
		if i%10 == 0 {
			es = append(es, i32(1003, 2))
		}
		fmt.Printf("INSERT INTO Packages(blob) VALUES (X'%s');\n", hex.EncodeToString(header(es...)))
		fmt.Printf("INSERT INTO Name VALUES ('%s', %d, 0);\n", name, i+1)
	}
	fmt.Printf("INSERT INTO Packages(blob) VALUES (X'%s');\n", hex.EncodeToString(header(str(1000, "gpg-pubkey"), str(1001, "fd431d51"), str(1002, "4ae0493b"))))
	if *bad {
		fmt.Println("INSERT INTO Packages(blob) VALUES (X'0000000100000000');")
		fmt.Println("INSERT INTO Packages(blob) VALUES ('text, not a blob');")
	}
	fmt.Println("COMMIT;")
}
