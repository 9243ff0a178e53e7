package algorithms

import "math"

// oculusScalePoints is the [0, 25] range of Oculus' min-max scaling: the fingerprint's
// hard-coded scale and the scorers' default scale_points (spec §6.2, §6.5).
const oculusScalePoints = 25

// OculusFingerprint returns Oculus' shape description of a series ("shape description
// alphabet", helpers/fingerprint.rb; spec §6.5), exactly:
//
//	lo, hi := min(values), max(values)
//	q_i    := ceil((25 / (hi − lo)) · (v_i − lo))     0 when that is NaN (a flat series),
//	                                                  and 0 when v_i == lo == hi == 0
//	d_i    := q_i − q_{i+1}                           previous minus next: > 0 goes DOWN
//	token  := "sdec" if d >= 4, "dec" if 1 <= d <= 3, "s" if −1 <= d <= 0,
//	          "inc" if −4 <= d <= −2, "sinc" if d <= −5
//
// and the fingerprint is the tokens without every "s", joined by single spaces. So q runs
// over 0..25 (lo → 0, anything above lo → >= 1), the vocabulary is asymmetric (−1 is
// steady, +1 is "dec") and flat stretches vanish [BUG-COMPAT, spec §7 item 12]. A series of
// fewer than 2 points, or a flat one, gives "". The arithmetic is the Ruby original's
// (IEEE doubles, the same operation order), so q can exceed 25 by rounding exactly where
// Ruby's did. Where Ruby raised FloatDomainError (25/(hi − lo) overflows because hi − lo is
// subnormal) the series is treated as flat.
//
// Example (spec §6.5): [0 10 5 5 100 50] → q = [0 3 2 2 25 13] → "inc dec sinc sdec".
func OculusFingerprint(values []float64) string {
	var buf [4096]byte
	return string(AppendOculusFingerprint(buf[:0], values))
}

// AppendOculusFingerprint appends OculusFingerprint(values) to dst and returns it; it does
// not allocate when dst has room.
func AppendOculusFingerprint(dst []byte, values []float64) []byte {
	if len(values) < 2 {
		return dst
	}
	lo, hi := values[0], values[0]
	for _, v := range values[1:] {
		lo = math.Min(lo, v)
		hi = math.Max(hi, v)
	}
	scale := oculusScalePoints / (hi - lo)
	flat := math.IsInf(scale, 0)
	quant := func(v float64) int {
		if flat || (v == 0 && lo == 0 && hi == 0) {
			return 0
		}
		q := scale * (v - lo)
		if math.IsNaN(q) {
			return 0
		}
		return int(math.Ceil(q))
	}
	first := true
	prev := quant(values[0])
	for _, v := range values[1:] {
		next := quant(v)
		var tok string
		switch d := prev - next; {
		case d >= 4:
			tok = "sdec"
		case d >= 1:
			tok = "dec"
		case d >= -1:
			tok = "" // "s", removed
		case d >= -4:
			tok = "inc"
		default:
			tok = "sinc"
		}
		prev = next
		if tok == "" {
			continue
		}
		if !first {
			dst = append(dst, ' ')
		}
		dst = append(dst, tok...)
		first = false
	}
	return dst
}

// OculusScale min-max scales x to [0, 25] into dst and returns it, as Oculus' scorers did
// before comparing series (scaleArrayList in the Java plugin; spec §6.7):
//
//	scale(x)_i = (25 / (max x − min x)) · (x_i − min x)        no rounding
//
// A flat series (max == min, or a spread so small that 25/(max − min) overflows) becomes all
// zeros; Oculus produced NaN for it (0·Inf), which left its ranking undefined [spec §7 item
// 10]. dst is grown if its capacity is below len(x) and reused otherwise; it may be x.
func OculusScale(dst, x []float64) []float64 {
	dst = growFloats(dst, len(x))
	scale, lo := oculusScaleFactor(x)
	for i, v := range x {
		dst[i] = scale * (v - lo)
	}
	return dst
}

// oculusScaleFactor returns 25/(max − min) and min of x, the factor 0 for a flat series.
func oculusScaleFactor(x []float64) (scale, lo float64) {
	if len(x) == 0 {
		return 0, 0
	}
	lo, hi := x[0], x[0]
	for _, v := range x[1:] {
		lo = math.Min(lo, v)
		hi = math.Max(hi, v)
	}
	scale = oculusScalePoints / (hi - lo)
	if math.IsInf(scale, 0) || math.IsNaN(scale) {
		return 0, lo
	}
	return scale, lo
}
