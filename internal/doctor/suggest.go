package doctor

import (
	"slices"
	"strings"
)

// closest returns up to n names from names that look like a mistyped
// want: a small edit distance or a long common prefix, ignoring case. The
// closest come first.
func closest(want string, names []string, n int) []string {
	type cand struct {
		name   string
		dist   int
		prefix int
	}
	w := strings.ToLower(want)
	limit := max(2, len([]rune(w))/3)
	// Near misses by edit distance first; failing those, names sharing a
	// long prefix or containing want.
	var near, loose []cand
	for _, name := range names {
		l := strings.ToLower(name)
		c := cand{name: name, dist: editDistance(w, l), prefix: commonPrefix(w, l)}
		switch {
		case c.dist <= limit:
			near = append(near, c)
		case c.prefix >= 4 || strings.Contains(l, w):
			loose = append(loose, c)
		}
	}
	cands := near
	if len(cands) == 0 {
		cands = loose
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		return b.prefix - a.prefix
	})
	out := make([]string, 0, n)
	for _, c := range cands {
		if len(out) == n {
			break
		}
		out = append(out, c.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// commonPrefix is the length in bytes of the common prefix of a and b.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
