package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeConfigExamples parses every YAML example in the README, so the
// documentation cannot drift from what tollgate accepts.
func TestReadmeConfigExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	env := func(string) (string, bool) { return "placeholder", true }
	blocks := strings.Split(string(data), "```yaml\n")
	if len(blocks) < 3 {
		t.Fatalf("found %d YAML examples in the README, want several", len(blocks)-1)
	}
	for i, b := range blocks[1:] {
		example, _, _ := strings.Cut(b, "```")
		t.Run(firstLine(example), func(t *testing.T) {
			if _, err := Parse([]byte(example), "README example "+string(rune('1'+i)), env); err != nil {
				t.Errorf("%v\n--- example:\n%s", err, example)
			}
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
