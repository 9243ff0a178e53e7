package algorithms_test

import (
	"errors"
	"fmt"

	"github.com/kale-project/kale/algorithms"
)

func ExampleRunSelected() {
	const now = 1_400_000_000
	series := make([]algorithms.Point, 1440) // a day of minutely values, ending now
	for i := range series {
		series[i] = algorithms.Point{Timestamp: now - float64(60*(1439-i)), Value: float64(10 + i%3)}
	}
	series[1439].Value = 100

	cfg := algorithms.DefaultSettings()
	res, err := algorithms.RunSelected(series, now, &cfg)
	switch {
	case errors.Is(err, algorithms.ErrStale), errors.Is(err, algorithms.ErrBoring), errors.Is(err, algorithms.ErrTooShort):
		fmt.Println("skipped:", err)
	case err != nil:
		fmt.Println("error:", err)
	default:
		fmt.Printf("anomalous=%v value=%v triggered=%d of %d\n", res.Anomalous, res.Value, res.Triggered, len(res.Votes))
		for _, v := range res.Votes[:3] {
			fmt.Printf("%s: %v\n", v.Name, v.Verdict)
		}
	}
	// Output:
	// anomalous=true value=100 triggered=8 of 9
	// first_hour_average: True
	// mean_subtraction_cumulation: True
	// stddev_from_average: True
}
