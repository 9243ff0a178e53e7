// Package research holds streaming anomaly detectors that were built and measured next to
// Kale's own detector but are not shipped: no binary runs them. LevelShift, RelativeEntropy,
// Discord and Seasonality (with DetectPeriod) are each causal, bounded in memory and
// allocation-free per Update, like algorithms.Kale; combined with it they bought each
// detection with many false positives, so they stay here as measured baselines. Their NAB
// scores are in ../README.md ("Research detectors"), checked by TestStreamDetectorsNAB in
// utils/eval/nab.
//
// Like package algorithms it is pure math: no I/O, no clock, no goroutines. It imports
// nothing of Kale's but algorithms (the Ring and BlockRange windows kale keeps too).
package research
