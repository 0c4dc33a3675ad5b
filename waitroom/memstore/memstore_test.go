package memstore_test

import (
	"testing"

	"github.com/onsale/onsale/waitroom"
	"github.com/onsale/onsale/waitroom/memstore"
	"github.com/onsale/onsale/waitroom/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) waitroom.Store { return memstore.New() })
}
