package inbox

import (
	"encoding/json"
	"net/http"
	"slices"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
)

// CheckAttribution refuses a Create or Update whose embedded object is not
// the actor's: attributed to nobody who is the actor, attributed to anyone
// on another host, or living on another host. Receivers credit an object
// to its attributedTo; relaying it under the signature of another actor
// would let one subscriber speak as another.
func CheckAttribution(in *Activity) error {
	if (in.Type != vocab.CreateType && in.Type != vocab.UpdateType) || in.ObjectType == "" {
		return nil
	}
	var env struct {
		Object struct {
			ID           string          `json:"id"`
			AttributedTo json.RawMessage `json:"attributedTo"`
		} `json:"object"`
	}
	if json.Unmarshal(in.Raw, &env) != nil {
		return Refuse(http.StatusBadRequest, "invalid", "object is not a JSON object")
	}
	o := env.Object
	if o.ID != "" && !policy.SameHost(o.ID, in.Actor) {
		return Refuse(http.StatusForbidden, "attribution", "object %s is not on the actor's host", o.ID)
	}
	who := IRIs(o.AttributedTo)
	if len(who) == 0 {
		return nil
	}
	for _, w := range who {
		if !policy.SameHost(w, in.Actor) {
			return Refuse(http.StatusForbidden, "attribution", "object attributed to %s, not to the actor %s", w, in.Actor)
		}
	}
	if !slices.Contains(who, in.Actor) {
		return Refuse(http.StatusForbidden, "attribution", "object attributed to %v, not to the actor %s", who, in.Actor)
	}
	return nil
}
