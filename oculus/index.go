package oculus

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"

	"github.com/kale-project/kale/algorithms"
)

// Fields of an index document (one per metric; document id = metric name without prefix).
const (
	fieldName   = "name"   // the whole name, one keyword (prefix filter)
	fieldSeg    = "seg"    // each dot-separated name segment, a keyword (exclusion filter)
	fieldISAX   = "isax"   // whole iSAX words of the z-normalised resampled window, one per resolution
	fieldFP     = "fp"     // the distinct tokens of the Oculus fingerprint (fastdtw phase 1)
	fieldMarker = "marker" // stored only: the change marker of the indexed data
)

// indexFormat versions the document layout; bump it when the fields change.
const indexFormat = 2

// Bleve internal keys: indexMeta, and the end time of the last sync (written by its last,
// durable batch).
var (
	metaKey   = []byte("kale.oculus.meta")
	syncedKey = []byte("kale.oculus.synced")
)

// indexMeta records what an index was built with; an index whose meta differs from the
// running configuration is rebuilt.
type indexMeta struct {
	Format int    `json:"format"`
	Length int    `json:"length"`
	Source string `json:"source"`
	Window string `json:"window"`
	Tokens string `json:"tokens"` // signature of the token functions' output
}

func (s *Service) wantMeta() indexMeta {
	return indexMeta{Format: indexFormat, Length: s.length, Source: s.cfg.Source,
		Window: s.cfg.Window.String(), Tokens: tokenSignature(s.length)}
}

// tokenSignature hashes the tokens of a fixed series, so that an index built by a build whose
// iSAX or fingerprint encoding differs is detected and rebuilt.
func tokenSignature(length int) string {
	x := make([]float64, 97)
	for i := range x {
		x[i] = math.Sin(float64(i)/7) + float64(i%5)/3
	}
	z := algorithms.ZNormalize(nil, algorithms.PAA(nil, x, length))
	h := fnv.New64a()
	for _, w := range algorithms.ISAXWords(z) {
		h.Write([]byte(w))
		h.Write([]byte{0})
	}
	h.Write([]byte(algorithms.OculusFingerprint(x)))
	return fmt.Sprintf("%016x", h.Sum64())
}

// document is what bleve indexes for a metric.
type document struct {
	Name   string   `json:"name"`
	Seg    []string `json:"seg"`
	ISAX   []string `json:"isax"`
	FP     []string `json:"fp"`
	Marker string   `json:"marker"`
}

// newDocument builds the index document of a series from its exact z-normalised window z64
// and its fingerprint (one byte per token).
func newDocument(e *series, z64 []float64, fp []byte) document {
	return document{Name: e.name, Seg: segments(e.name), ISAX: phase1Words(z64), FP: fingerprintTerms(fp), Marker: e.marker}
}

// fingerprintTokens names the fingerprint bytes.
var fingerprintTokens = [...]string{fpSdec: "sdec", fpDec: "dec", fpInc: "inc", fpSinc: "sinc"}

// fingerprintTerms returns the distinct tokens of an encoded fingerprint, in a fixed order.
func fingerprintTerms(fp []byte) []string {
	var has [5]bool
	for _, t := range fp {
		has[t] = true
	}
	var out []string
	for t := fpSdec; t <= fpSinc; t++ {
		if has[t] {
			out = append(out, fingerprintTokens[t])
		}
	}
	return out
}

func newMapping() (mapping.IndexMapping, error) {
	im := bleve.NewIndexMapping()
	field := func(analyzer string, scored bool) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer = analyzer
		f.Store, f.IncludeTermVectors, f.IncludeInAll, f.DocValues = false, false, false, false
		f.SkipFreqNorm = !scored
		return f
	}
	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt(fieldName, field(keyword.Name, false))
	dm.AddFieldMappingsAt(fieldSeg, field(keyword.Name, false))
	dm.AddFieldMappingsAt(fieldISAX, field(keyword.Name, true))
	dm.AddFieldMappingsAt(fieldFP, field(keyword.Name, false))
	marker := bleve.NewKeywordFieldMapping()
	marker.Index, marker.Store, marker.IncludeTermVectors, marker.IncludeInAll, marker.DocValues = false, true, false, false, false
	dm.AddFieldMappingsAt(fieldMarker, marker)
	im.DefaultMapping = dm
	im.DefaultAnalyzer = keyword.Name
	im.StoreDynamic, im.IndexDynamic, im.DocValuesDynamic = false, false, false
	return im, nil
}

// runtimeConfig makes scorch return from a batch once it is searchable (persistence follows
// in the background) and fail instead of waiting forever on a locked index.
var runtimeConfig = map[string]any{"unsafe_batch": true, "bolt_timeout": "10s"}

// openIndex opens the configured index, or creates it. An existing index whose meta does not
// match is dropped and recreated (its documents would not be comparable).
func (s *Service) openIndex() (bleve.Index, error) {
	path := s.cfg.IndexPath
	if path == "" {
		return s.createIndex("")
	}
	if _, err := os.Stat(filepath.Join(path, "index_meta.json")); err != nil {
		if entries, derr := os.ReadDir(path); derr == nil && len(entries) > 0 {
			return nil, fmt.Errorf("cannot use %q as the oculus index: the directory is not empty and is not a bleve index", path)
		}
		_ = os.Remove(path) // an empty directory: bleve wants to create it
		return s.createIndex(path)
	}
	idx, err := bleve.OpenUsing(path, runtimeConfig)
	if err != nil {
		s.log.Warn("cannot open the oculus index; rebuilding it", "path", path, "err", err)
		if err := removeIndexDir(path); err != nil {
			return nil, err
		}
		return s.createIndex(path)
	}
	var got indexMeta
	if b, err := idx.GetInternal(metaKey); err == nil && b != nil {
		_ = json.Unmarshal(b, &got)
	}
	if want := s.wantMeta(); got != want {
		s.log.Info("the oculus index was built with other settings; rebuilding it", "path", path,
			"built", fmt.Sprintf("%+v", got), "want", fmt.Sprintf("%+v", want))
		_ = idx.Close()
		if err := removeIndexDir(path); err != nil {
			return nil, err
		}
		return s.createIndex(path)
	}
	return idx, nil
}

func (s *Service) createIndex(path string) (bleve.Index, error) {
	m, err := newMapping()
	if err != nil {
		return nil, fmt.Errorf("cannot build the index mapping: %w", err)
	}
	if path != "" {
		if err := os.MkdirAll(filepath.Dir(filepath.Clean(path)), 0o755); err != nil {
			return nil, fmt.Errorf("cannot create the index directory: %w", err)
		}
	}
	cfg := map[string]any{}
	for k, v := range runtimeConfig {
		cfg[k] = v
	}
	idx, err := bleve.NewUsing(path, m, scorch.Name, scorch.Name, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot create the oculus index %q: %w", path, err)
	}
	meta, _ := json.Marshal(s.wantMeta())
	b := idx.NewBatch()
	b.SetInternal(metaKey, meta)
	if err := s.durableBatch(context.Background(), idx, b); err != nil {
		_ = idx.Close()
		return nil, fmt.Errorf("cannot write the index meta: %w", err)
	}
	return idx, nil
}

// persistTimeout bounds the wait for a batch to reach the disk.
const persistTimeout = time.Minute

// durableBatch applies b and, for an index on disk, waits until it is persisted: batches are
// "unsafe" (searchable before they are on disk) for speed, and scorch persists them in
// order, so waiting for the last batch of a sync makes the whole sync durable.
func (s *Service) durableBatch(ctx context.Context, idx bleve.Index, b *bleve.Batch) error {
	var persisted chan error
	if s.cfg.IndexPath != "" {
		persisted = make(chan error, 1)
		b.SetPersistedCallback(func(err error) { persisted <- err })
	}
	if err := idx.Batch(b); err != nil {
		return err
	}
	if persisted == nil {
		return nil
	}
	t := time.NewTimer(persistTimeout)
	defer t.Stop()
	select {
	case err := <-persisted:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("the index was not persisted within %v", persistTimeout)
	}
}

// loadMarkers reads the change marker of every document in the index.
func loadMarkers(idx bleve.Index) (map[string]string, error) {
	out := map[string]string{}
	const page = 10_000
	var after []string
	for {
		req := bleve.NewSearchRequestOptions(bleve.NewMatchAllQuery(), page, 0, false)
		req.Fields = []string{fieldMarker}
		req.SortBy([]string{"_id"})
		if after != nil {
			req.SearchAfter = after
		}
		res, err := idx.Search(req)
		if err != nil {
			return nil, fmt.Errorf("cannot list the indexed documents: %w", err)
		}
		for _, h := range res.Hits {
			m, _ := h.Fields[fieldMarker].(string)
			out[h.ID] = m
		}
		if len(res.Hits) < page {
			return out, nil
		}
		after = []string{res.Hits[len(res.Hits)-1].ID}
	}
}

// segments splits a metric name into its distinct dot-separated segments.
func segments(name string) []string {
	parts := strings.Split(name, ".")
	out := parts[:0]
	for _, p := range parts {
		if p == "" {
			continue
		}
		dup := false
		for _, q := range out {
			if q == p {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// hasSegment reports whether name has seg as one of its dot-separated segments, without
// allocating.
func hasSegment(name, seg string) bool {
	for len(name) > 0 {
		i := strings.IndexByte(name, '.')
		part := name
		if i >= 0 {
			part, name = name[:i], name[i+1:]
		} else {
			name = ""
		}
		if part == seg {
			return true
		}
	}
	return false
}

// hitIDs returns the ids of a search's hits.
func hitIDs(hits search.DocumentMatchCollection) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}
