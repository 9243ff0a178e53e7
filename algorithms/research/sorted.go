package research

import "slices"

// sortedWindow is a fixed-capacity FIFO of values with a sorted copy of them, so the median
// is read in O(1) and the median absolute deviation in O(n); a push costs O(n) (one shift
// of the sorted copy). It never allocates after newSortedWindow. Values must not be NaN.
// LevelShift's windows and Discord's calibration window are kept in it; its two
// sorted-slice steps (sortedInsert, sortedReplace) also keep Discord's sorted values and
// Seasonality's calibration window.
type sortedWindow struct {
	ring   []float64 // the values in arrival order, the oldest at head once full
	head   int
	sorted []float64 // the same values, ascending; len is the number kept
}

func newSortedWindow(capacity int) sortedWindow {
	return sortedWindow{ring: make([]float64, capacity), sorted: make([]float64, 0, capacity)}
}

func (w *sortedWindow) len() int { return len(w.sorted) }

// at returns the i-th value in arrival order, 0 the oldest (head is 0 until the window is
// full).
func (w *sortedWindow) at(i int) float64 { return w.ring[(w.head+i)%len(w.ring)] }

func (w *sortedWindow) reset() {
	w.head = 0
	w.sorted = w.sorted[:0]
}

// push appends x; when the window is full it drops the oldest value and returns it.
func (w *sortedWindow) push(x float64) (old float64, evicted bool) {
	n := len(w.sorted)
	if n < len(w.ring) {
		w.ring[n] = x
		w.sorted = sortedInsert(w.sorted, x)
		return 0, false
	}
	old = w.ring[w.head]
	w.ring[w.head] = x
	w.head++
	if w.head == len(w.ring) {
		w.head = 0
	}
	sortedReplace(w.sorted, old, x)
	return old, true
}

// median returns the median of the values (numpy convention), 0 when empty.
func (w *sortedWindow) median() float64 {
	s := w.sorted
	n := len(s)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return s[n/2]
	}
	return s[n/2-1]/2 + s[n/2]/2
}

// mad returns the median of |v − m| over the values (numpy convention), 0 when empty. The
// deviations are merged in ascending order from m outwards, up to the middle one.
func (w *sortedWindow) mad(m float64) float64 {
	s := w.sorted
	n := len(s)
	if n == 0 {
		return 0
	}
	hi := n / 2 // the rank of the upper middle deviation
	lo := hi
	if n%2 == 0 {
		lo--
	}
	r, _ := slices.BinarySearch(s, m) // s[:r] < m <= s[r:]
	l := r - 1
	var a float64
	for k := 0; ; k++ {
		var dev float64
		if r >= n || (l >= 0 && m-s[l] <= s[r]-m) {
			dev = m - s[l]
			l--
		} else {
			dev = s[r] - m
			r++
		}
		if k == lo {
			a = dev
		}
		if k == hi {
			return a/2 + dev/2
		}
	}
}

// sortedInsert inserts x into the ascending slice s (which must have spare capacity to stay
// allocation-free) and returns it.
func sortedInsert(s []float64, x float64) []float64 {
	i, _ := slices.BinarySearch(s, x)
	return slices.Insert(s, i, x)
}

// sortedReplace replaces one element equal to old by x in the ascending slice s, keeping it
// ascending; it moves only the elements between the two positions. old must be in s and
// neither value may be NaN.
func sortedReplace(s []float64, old, x float64) {
	i, _ := slices.BinarySearch(s, old)
	j, _ := slices.BinarySearch(s, x)
	if j > i { // x goes after old's slot: shift s[i+1:j] left
		copy(s[i:j-1], s[i+1:j])
		s[j-1] = x
	} else { // shift s[j:i] right
		copy(s[j+1:i+1], s[j:i])
		s[j] = x
	}
}
