// Package lua holds the inventory's Redis scripts. Each exported source is common.lua (key layout, clock, reclaim),
// then single.lua (helpers of the scripts that serve one request) except for the batched hold script, then the script
// itself, so every script is self-contained on the server and its SHA is that of the whole text. Every function a
// script defines is made again at each call, so the hold script, called most, carries none it does not use.
package lua

import _ "embed"

var (
	//go:embed common.lua
	common string
	//go:embed single.lua
	single string
)

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
	//go:embed return.lua
	ret string
	//go:embed cancel.lua
	cancel string
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
	Create   = common + single + create
	Hold     = common + hold
	Extend   = common + single + extend
	Release  = common + single + release
	Checkout = common + single + checkout
	Confirm  = common + single + confirm
	Return   = common + single + ret
	Cancel   = common + single + cancel
	Wave     = common + single + wave
	Sweep    = common + single + sweep
	Stats    = common + single + stats
	Audit    = common + single + audit
	Restore  = common + single + restore
)
