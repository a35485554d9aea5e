package relaytest

import (
	"encoding/json"
	"time"
)

// SurplusIRI is the classification that makes an offer surplus.
const SurplusIRI = "https://w3id.org/runrig/ns#Surplus"

// Listing builds a public Create of a listing by the instance's actor, in
// the shape of the relay's testdata (the instance then serves the Proposal
// at its id): kind is "offer", "request" or
// "surplus"; it ends at end. set, if given, edits the Proposal before it
// is marshalled (to make invalid listings or add audience and regions).
func (in *Instance) Listing(kind string, end time.Time, set func(proposal map[string]any)) []byte {
	actor := in.ActorID
	id := in.NewID("proposals")
	q := func(unit, n string) map[string]any { return map[string]any{"hasUnit": unit, "hasNumericalValue": n} }
	primary := map[string]any{
		"id": id + "#primary", "type": "Intent", "action": "transfer",
		"resourceConformsTo": in.URL() + "/api/dfc/enterprises/1/supplied_products/7",
		"resourceQuantity":   q("kilogram", "10"),
	}
	purpose, party := "offer", "provider"
	switch kind {
	case "request":
		purpose, party = "request", "receiver"
	case "surplus":
		primary["resourceClassifiedAs"] = []string{SurplusIRI}
	default:
		primary["availableQuantity"] = q("kilogram", "400")
		primary["minimumQuantity"] = q("kilogram", "10")
	}
	primary[party] = actor
	proposal := map[string]any{
		"id": id, "type": "Proposal", "purpose": purpose, "attributedTo": actor,
		"name":      "Organic potatoes (" + kind + ")",
		"startTime": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
		"endTime":   end.UTC().Format(time.RFC3339),
		"publishes": primary,
	}
	if kind != "surplus" {
		proposal["reciprocal"] = map[string]any{"id": id + "#reciprocal", "type": "Intent", "action": "transfer",
			"resourceConformsTo": "https://www.wikidata.org/wiki/Q4916", "resourceQuantity": q("one", "12.50")}
	}
	if set != nil {
		set(proposal)
	}
	obj, _ := json.Marshal(proposal)
	in.objects.Store(id, obj) // served at its id, like a real server
	b, _ := json.Marshal(map[string]any{
		"@context": []any{"https://www.w3.org/ns/activitystreams"},
		"id":       in.NewID("activities"), "type": "Create", "actor": actor,
		"to": []string{Public}, "object": proposal,
	})
	return b
}

// Revise builds a public Update of a listing made by Listing, with its
// Proposal changed by set, and serves the new version at its id.
func (in *Instance) Revise(create []byte, set func(proposal map[string]any)) []byte {
	var doc map[string]any
	json.Unmarshal(create, &doc)
	proposal := doc["object"].(map[string]any)
	set(proposal)
	obj, _ := json.Marshal(proposal)
	in.objects.Store(proposal["id"].(string), obj)
	doc["id"], doc["type"] = in.NewID("activities"), "Update"
	b, _ := json.Marshal(doc)
	return b
}

// Withdraw stops serving a listing (its id answers 404) and builds the
// public Delete of it.
func (in *Instance) Withdraw(id string) []byte {
	in.objects.Delete(id)
	return in.Activity("Delete", in.ActorID, id, nil)
}
