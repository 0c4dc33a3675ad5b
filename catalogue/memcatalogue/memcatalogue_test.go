package memcatalogue_test

import (
	"testing"

	"github.com/onsale/onsale/catalogue"
	"github.com/onsale/onsale/catalogue/catalogtest"
	"github.com/onsale/onsale/catalogue/memcatalogue"
)

func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(*testing.T) catalogue.Index { return memcatalogue.New() })
}
