package catalogue

// Trigrams are pg_trgm's: each word padded with two spaces in front and one behind, so the in-memory index
// matches typos the way PostgreSQL's does.
func Trigrams(word string) map[string]bool {
	r := []rune("  " + word + " ")
	out := make(map[string]bool, len(r))
	for i := 0; i+3 <= len(r); i++ {
		out[string(r[i:i+3])] = true
	}
	return out
}

// Similarity is the share of trigrams two words have in common (pg_trgm's similarity), 0 to 1.
func Similarity(a, b map[string]bool) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	common := 0
	for t := range a {
		if b[t] {
			common++
		}
	}
	return float64(common) / float64(len(a)+len(b)-common)
}
