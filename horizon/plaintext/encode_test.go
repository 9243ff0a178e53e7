package plaintext

import (
	"testing"

	"github.com/kale-project/kale/horizon/ingest/ingesttest"
)

func TestAppendRoundTrip(t *testing.T) { ingesttest.RoundTrips(t, Append, Decode) }

func FuzzAppend(f *testing.F) { ingesttest.FuzzRoundTrip(f, Append, Decode) }
