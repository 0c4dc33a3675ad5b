package tickets_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/onsale/onsale/tickets"
)

// The service signs a ticket's code when the order is read and publishes the event's JWKS; a scanner that fetched
// the JWKS beforehand verifies codes offline with any JOSE library.
func Example() {
	key, err := tickets.NewKey("tour-paris", time.Now())
	if err != nil {
		panic(err)
	}
	code, err := tickets.Sign(key, tickets.Claims{TicketID: "tkt_1", Event: "tour-paris", Section: "A", Seat: "12"})
	if err != nil {
		panic(err)
	}
	jwks, err := tickets.JWKS([]tickets.Key{key}) // GET /v1/events/tour-paris/checkin/keys
	if err != nil {
		panic(err)
	}

	// At the gate, offline.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		panic(err)
	}
	jws, err := jose.ParseSignedCompact(code, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		panic(err)
	}
	payload, err := jws.Verify(set) // the key named by the code's kid
	if err != nil {
		panic(err)
	}
	fmt.Println(string(payload))

	// The service itself, with the event's keys.
	c, verdict := tickets.Check(code, "tour-paris", func(string) []tickets.Key { return []tickets.Key{key} })
	fmt.Println(verdict, c.TicketID, c.Seat)
	// Output:
	// {"tid":"tkt_1","ev":"tour-paris","sec":"A","seat":"12"}
	// ok tkt_1 12
}

// An order token opens one order, in a link or a Bearer header.
func ExampleOrderTokens() {
	tokens, err := tickets.NewOrderTokens([]byte("a secret of at least thirty-two bytes"))
	if err != nil {
		panic(err)
	}
	tok := tokens.Issue("ord_mfrgg2lbmvzgk3tsmfzgk3tsmf")
	order, err := tokens.Verify(tok)
	fmt.Println(order, err)
	_, err = tokens.Verify(tok[:len(tok)-1])
	fmt.Println(err)
	// Output:
	// ord_mfrgg2lbmvzgk3tsmfzgk3tsmf <nil>
	// order token does not verify
}

// A private key is stored sealed under the master key and opened when the service starts.
func ExampleSealer() {
	master, err := tickets.GenerateMasterKey() // dev mode: logged, so the keys open after a restart
	if err != nil {
		panic(err)
	}
	raw, err := tickets.ParseMasterKey(master)
	if err != nil {
		panic(err)
	}
	sealer, err := tickets.NewSealer(raw)
	if err != nil {
		panic(err)
	}
	key, err := tickets.NewKey("tour-paris", time.Now())
	if err != nil {
		panic(err)
	}
	sealed, err := sealer.Seal(key)
	if err != nil {
		panic(err)
	}
	priv, err := sealer.Open("tour-paris", key.ID, sealed)
	fmt.Println(len(sealed), priv.Equal(key.Private), err)
	_, err = sealer.Open("tour-lyon", key.ID, sealed) // copied onto another event's row
	fmt.Println(errors.Is(err, tickets.ErrSealed))
	// Output:
	// 61 true <nil>
	// true
}
