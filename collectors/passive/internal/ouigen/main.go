// Command ouigen turns the IEEE MA-L registry as shipped by Debian's
// ieee-data package (/usr/share/ieee-data/oui.csv) into the compact table
// that package passive embeds: gzip-compressed lines "XXXXXX<TAB>Organization",
// sorted by the 24-bit prefix in upper-case hex.
//
// Run it through go generate in collectors/passive.
package main

import (
	"compress/gzip"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	in := flag.String("in", "/usr/share/ieee-data/oui.csv", "IEEE oui.csv (apt-get install ieee-data)")
	out := flag.String("out", "oui.tsv.gz", "output file")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "ouigen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("open registry: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	names := map[string]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read registry: %w", err)
		}
		if len(rec) < 3 || rec[0] != "MA-L" || len(rec[1]) != 6 {
			continue
		}
		name := strings.Join(strings.Fields(strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, rec[2])), " ")
		names[strings.ToUpper(rec[1])] = name
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	o, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	zw, err := gzip.NewWriterLevel(o, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("compress table: %w", err)
	}
	for _, k := range keys {
		if _, err := fmt.Fprintf(zw, "%s\t%s\n", k, names[k]); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return o.Close()
}
