package agent

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsLinkOnlyToTheRepository checks README.md and docs/*.md: every
// relative link names a file or directory of the repository, and nothing
// points outside it (a reader of the repository has nothing else).
func TestDocsLinkOnlyToTheRepository(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	pages = append(pages, filepath.Join(root, "README.md"))
	if len(pages) < 6 {
		t.Fatalf("want README.md and the docs/ pages, found %v", pages)
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	n := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "DESIGN.md") || strings.Contains(string(b), "shared/docs") {
			t.Errorf("%s points to the workplace's design documents, which users do not have", page)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			n++
			p := filepath.Clean(filepath.Join(filepath.Dir(page), target))
			if rel, err := filepath.Rel(root, p); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links outside the repository: %s", page, m[1])
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s links to a missing file: %s", page, m[1])
			}
		}
	}
	if n < 20 {
		t.Errorf("found only %d relative links; is the link pattern broken?", n)
	}
}
