// Package lua holds the inventory's Redis scripts. Each exported source is common.lua (key layout, clock, reclaim)
// followed by one script, so every script is self-contained on the server and its SHA is that of the whole text.
package lua

import _ "embed"

//go:embed common.lua
var common string

var (
	//go:embed create.lua
	create string
	//go:embed hold.lua
	hold string
	//go:embed extend.lua
	extend string
	//go:embed release.lua
	release string
	//go:embed checkout.lua
	checkout string
	//go:embed confirm.lua
	confirm string
	//go:embed wave.lua
	wave string
	//go:embed sweep.lua
	sweep string
	//go:embed stats.lua
	stats string
	//go:embed audit.lua
	audit string
	//go:embed restore.lua
	restore string
)

// The scripts' full sources.
var (
	Create   = common + create
	Hold     = common + hold
	Extend   = common + extend
	Release  = common + release
	Checkout = common + checkout
	Confirm  = common + confirm
	Wave     = common + wave
	Sweep    = common + sweep
	Stats    = common + stats
	Audit    = common + audit
	Restore  = common + restore
)
