package analyzer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kale-project/kale/analyzer/recordstore"
)

// The record types and keys are recordstore's, which owns their Redis layout and JSON; the
// analyzer names them for its callers.
type (
	Float       = recordstore.Float       // a float64 encoding NaN and ±Inf as JSON null
	Record      = recordstore.Record      // one anomaly
	Explanation = recordstore.Explanation // why the kale detector fired
	CycleStats  = recordstore.CycleStats  // what one cycle did
	Current     = recordstore.Current     // the /api/v1/anomalies document
	Feedback    = recordstore.Feedback    // one anomaly marked not anomalous
	MemberInfo  = recordstore.MemberInfo  // the value of an analyzer's lease key
)

// Kale's analyzer state in Redis (every key is documented in README.md).
const (
	KeyCurrent        = recordstore.KeyCurrent
	KeyCycle          = recordstore.KeyCycle
	KeyDump           = recordstore.KeyDump
	KeyHistory        = recordstore.KeyHistory
	KeyMetricPrefix   = recordstore.KeyMetricPrefix
	KeyCurrentPrefix  = recordstore.KeyCurrentPrefix
	KeyFeedbackPrefix = recordstore.KeyFeedbackPrefix
	KeyMembers        = recordstore.KeyMembers
	KeyMemberPrefix   = recordstore.KeyMemberPrefix
)

// Dump renders Skyline's anomalies.json (see recordstore.Dump).
func Dump(recs []Record) string { return recordstore.Dump(recs) }

// MergeCurrent combines the current documents of several analyzers sharing cycles (see
// recordstore.MergeCurrent).
func MergeCurrent(parts []Current) Current { return recordstore.MergeCurrent(parts) }

// LoadCurrent reads the last cycle's anomaly document from the Redis of rdb.
//
// Deprecated: use recordstore.Store.Current; kept until the webapp reads through the store.
func LoadCurrent(ctx context.Context, rdb recordstore.Client) (Current, error) {
	return recordstore.New(rdb).Current(ctx)
}

// Records stores each cycle's anomaly records; *recordstore.Store implements it.
type Records interface {
	// Save writes this analyzer's part of the current document and its records (kept for
	// keep), merges the live members' parts and returns the merge.
	Save(ctx context.Context, id string, doc Current, members []string, keep time.Duration) (Current, error)
	// FeedbackSince reads each metric's "not anomalous" feedback for anomalies since from.
	FeedbackSince(ctx context.Context, names []string, from int64) ([][]Feedback, error)
}

// save writes the cycle's records through the record store, then the Skyline dump file.
func (a *Analyzer) save(ctx context.Context, st CycleStats, recs []Record, members []string) error {
	merged, err := a.records.Save(ctx, a.cfg.ID, Current{Anomalies: recs, Cycle: st}, members, a.cfg.AnomalyHistory)
	if err != nil {
		return err
	}
	if a.cfg.AnomalyDump != "" {
		if err := writeFileAtomic(a.cfg.AnomalyDump, []byte(Dump(merged.Anomalies))); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic replaces path so a reader never sees a partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".anomalies-*.json")
	if err != nil {
		return fmt.Errorf("cannot write the anomaly dump %q: %w", path, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cannot write the anomaly dump %q: %v %v", path, werr, cerr)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cannot write the anomaly dump %q: %w", path, err)
	}
	return nil
}
