package nab

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Header is the header of every output file.
const Header = "timestamp,value,anomaly_score"

// timeLayouts are the accepted date-time timestamps, read as UTC unless they carry a zone.
// NAB's is the first; fractional seconds are accepted after the seconds by every layout.
var timeLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	time.RFC3339Nano,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04",
}

// ParseTimestamp parses a NAB timestamp: unix seconds (integer or decimal), or a UTC date
// and time `YYYY-MM-DD HH:MM:SS` (also with a T, fractional seconds or a zone offset).
func ParseTimestamp(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("cannot parse timestamp %q: not finite", s)
		}
		return v, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return float64(t.Unix()) + float64(t.Nanosecond())/1e9, nil
		}
	}
	return 0, fmt.Errorf("cannot parse timestamp %q: want unix seconds or YYYY-MM-DD HH:MM:SS", s)
}

// parseValue parses a value; an empty field is a missing value (NaN), as pandas reads it.
func parseValue(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("cannot parse value %q", s)
	}
	return v, nil
}

// ScoreCSV reads a NAB-layout CSV from r, scores its rows in order with s and writes
// `timestamp,value,anomaly_score` to w, one row per input row with the timestamp and value
// fields as read. The input needs columns named timestamp and value (in any order, other
// columns ignored); a file whose first row is data (a timestamp and a number) is read as
// timestamp,value without a header. A value that is empty, NaN or infinite scores 0 and is
// not passed to s. It returns the number of data rows; errors name the line.
func ScoreCSV(ctx context.Context, r io.Reader, w io.Writer, s Scorer) (int, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)

	tsCol, valCol, width := 0, 1, 0
	rows := 0
	out := make([]string, 3)
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			if first {
				return 0, errors.New("cannot read header: the file is empty")
			}
			break
		}
		if err != nil {
			return rows, fmt.Errorf("cannot read CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if first {
			width = len(rec)
			isHeader, err := findColumns(rec, &tsCol, &valCol)
			if err != nil {
				return 0, fmt.Errorf("cannot read header on line %d: %w", line, err)
			}
			if err := cw.Write(strings.Split(Header, ",")); err != nil {
				return 0, fmt.Errorf("cannot write header: %w", err)
			}
			if isHeader {
				continue
			}
		}
		if len(rec) != width {
			return rows, fmt.Errorf("cannot read line %d: %d fields, want %d like the first line", line, len(rec), width)
		}
		ts, err := ParseTimestamp(rec[tsCol])
		if err != nil {
			return rows, fmt.Errorf("line %d: %w", line, err)
		}
		v, err := parseValue(rec[valCol])
		if err != nil {
			return rows, fmt.Errorf("line %d: %w", line, err)
		}
		score := 0.0
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			score = s.Score(ts, v)
			if !(score >= 0 && score <= 1) {
				return rows, fmt.Errorf("line %d: detector returned score %v outside [0, 1]", line, score)
			}
		}
		out[0], out[1], out[2] = rec[tsCol], rec[valCol], strconv.FormatFloat(score, 'g', -1, 64)
		if err := cw.Write(out); err != nil {
			return rows, fmt.Errorf("cannot write line %d: %w", line, err)
		}
		rows++
		if rows%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return rows, err
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return rows, fmt.Errorf("cannot write output: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return rows, fmt.Errorf("cannot write output: %w", err)
	}
	return rows, nil
}

// findColumns locates the timestamp and value columns in the first record. It reports
// whether the record is a header; a record without a "timestamp" column is data if its
// first two fields are a timestamp and a number.
func findColumns(rec []string, tsCol, valCol *int) (bool, error) {
	*tsCol, *valCol = -1, -1
	for i, f := range rec {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(f, "\ufeff"))) {
		case "timestamp":
			*tsCol = i
		case "value":
			*valCol = i
		}
	}
	switch {
	case *tsCol >= 0 && *valCol >= 0:
		return true, nil
	case *tsCol >= 0:
		return false, fmt.Errorf("no %q column in %q", "value", strings.Join(rec, ","))
	}
	*tsCol, *valCol = 0, 1
	if len(rec) >= 2 {
		_, errT := ParseTimestamp(rec[0])
		_, errV := parseValue(rec[1])
		if errT == nil && errV == nil {
			return false, nil
		}
	}
	return false, fmt.Errorf("want a header with columns timestamp and value, got %q", strings.Join(rec, ","))
}
