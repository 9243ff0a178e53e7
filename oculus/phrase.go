package oculus

import "sort"

// phraseMatcher checks Oculus' phase-1 condition for fastdtw: ElasticSearch's sloppy phrase
// match of the query fingerprint against a document's fingerprint. bleve v2.6.0 has no slop
// in its phrase queries, so the index narrows the documents to those holding every query
// token and this check, on the fingerprints kept in memory, applies the positions.
//
// A document matches when every query token t_i can be given a position p_i in the document
// holding the same token, distinct positions for repeated tokens, such that the offsets
// p_i − i spread over at most slop — Lucene's sloppy phrase "match length ≤ slop" (a swap of
// two neighbours costs 2). For a fixed lowest offset c every p_i lies in [i+c, i+c+slop];
// both ends grow with i, so taking for each i the earliest free position of its token is
// optimal, and trying every c in [−slop, n−m] decides the match exactly.
type phraseMatcher struct {
	q      []byte
	slop   int
	counts [5]int
	pos    [5][]int32
}

func newPhraseMatcher(q []byte, slop int) *phraseMatcher {
	m := &phraseMatcher{q: q, slop: slop}
	for _, t := range q {
		m.counts[t]++
	}
	return m
}

// match reports whether doc matches the query phrase. It is not safe for concurrent use.
func (m *phraseMatcher) match(doc []byte) bool {
	nq, nd := len(m.q), len(doc)
	if nq == 0 || nq > nd {
		return false
	}
	var counts [5]int
	for _, t := range doc {
		counts[t]++
	}
	for t := range counts {
		if counts[t] < m.counts[t] {
			return false
		}
	}
	for t := range m.pos {
		m.pos[t] = m.pos[t][:0]
	}
	for i, t := range doc {
		m.pos[t] = append(m.pos[t], int32(i))
	}
	for c := -m.slop; c <= nd-nq; c++ {
		if m.fits(c) {
			return true
		}
	}
	return false
}

// fits assigns positions greedily for the lowest offset c.
func (m *phraseMatcher) fits(c int) bool {
	var next [5]int
	for i, t := range m.q {
		lo, hi := int32(i+c), int32(i+c+m.slop)
		p := m.pos[t]
		k := next[t]
		k += sort.Search(len(p)-k, func(x int) bool { return p[k+x] >= lo })
		if k == len(p) || p[k] > hi {
			return false
		}
		next[t] = k + 1
	}
	return true
}
