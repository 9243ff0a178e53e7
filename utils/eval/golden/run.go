package golden

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Summary counts what Run evaluated.
type Summary struct {
	Cases      int            // cases evaluated and written
	Anomalous  int            // of them, anomalous
	Exceptions map[string]int // by Output.Exception, for the cases that raised one
}

// ExceptionList names the exceptions and their counts in name order ("Stale 1, TooShort
// 2"), or "none".
func (s Summary) ExceptionList() string {
	var exc []string
	for name, k := range s.Exceptions {
		exc = append(exc, fmt.Sprintf("%s %d", name, k))
	}
	slices.Sort(exc)
	if len(exc) == 0 {
		return "none"
	}
	return strings.Join(exc, ", ")
}

// progressEvery is how often Run reports progress.
const progressEvery = 2 * time.Second

// caseResult is one evaluated case, or the error that stops the run.
type caseResult struct {
	out Output
	err error
}

// Run evaluates the cases read from in (named name in errors) with ev and writes one JSON
// line per case (Output.AppendJSON) to out, in input order. Cases are evaluated
// concurrently (GOMAXPROCS at a time) and at most a few hundred are held in memory, so the
// input may be of any size. About every two seconds it flushes out and calls progress (if
// not nil) with the number of cases written so far. The first case that cannot be read or
// evaluated stops the run with an error naming it; the cases before it have been written.
func Run(ctx context.Context, in io.Reader, name string, ev *Evaluator, out io.Writer, progress func(cases int)) (Summary, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The reader hands each case to a worker and queues the worker's result channel, so the
	// writer below prints results in input order; the queue bounds the cases in flight.
	workers := runtime.GOMAXPROCS(0)
	queue := make(chan chan caseResult, 4*workers)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(queue)
		rd := NewReader(in)
		for {
			c, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			ch := make(chan caseResult, 1)
			select {
			case queue <- ch:
			case <-ctx.Done():
				return
			}
			if err != nil {
				ch <- caseResult{err: fmt.Errorf("cannot read %q: %w", name, err)}
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				ch <- caseResult{err: ctx.Err()}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				o, err := ev.Evaluate(c)
				if err != nil {
					err = fmt.Errorf("cannot evaluate case %q on line %d of %q: %w", c.ID, c.Line, name, err)
				}
				ch <- caseResult{out: o, err: err}
			}()
		}
	}()

	w := bufio.NewWriterSize(out, 1<<16)
	lastReport := time.Now()
	sum := Summary{Exceptions: map[string]int{}}
	var (
		buf    []byte
		runErr error
	)
	for ch := range queue {
		res := <-ch
		if res.err != nil {
			runErr = res.err
			break
		}
		buf = res.out.AppendJSON(buf[:0])
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			runErr = fmt.Errorf("cannot write results: %w", err)
			break
		}
		sum.Cases++
		if res.out.Anomalous {
			sum.Anomalous++
		}
		if res.out.Exception != "" {
			sum.Exceptions[res.out.Exception]++
		}
		if time.Since(lastReport) >= progressEvery {
			lastReport = time.Now()
			if err := w.Flush(); err != nil {
				runErr = fmt.Errorf("cannot write results: %w", err)
				break
			}
			if progress != nil {
				progress(sum.Cases)
			}
		}
	}
	cancel()
	for range queue { // let the reader stop
	}
	wg.Wait()
	if err := w.Flush(); err != nil && runErr == nil {
		runErr = fmt.Errorf("cannot write results: %w", err)
	}
	if runErr != nil {
		return sum, runErr
	}
	return sum, parent.Err()
}
