package relaytest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// NewID returns a fresh activity or object IRI on this instance.
func (in *Instance) NewID(kind string) string {
	return fmt.Sprintf("%s/%s/%d-%d", in.Server.URL, kind, time.Now().UnixNano(), in.seq.Add(1))
}

// Activity builds an activity of typ by actor with object, addressed to
// `to` (as:Public when nil).
func (in *Instance) Activity(typ, actor string, object any, to []string) []byte {
	if to == nil {
		to = []string{Public}
	}
	b, _ := json.Marshal(map[string]any{
		"@context": "https://www.w3.org/ns/activitystreams",
		"id":       in.NewID("activities"), "type": typ, "actor": actor, "object": object, "to": to,
	})
	return b
}

// Note builds a public Create of a Note by actor ("" for the subscribing
// actor), as the instance's software sends it. extra properties are merged
// into the activity: Mastodon's LD signature is left out (as Mastodon sends
// it in authorized-fetch mode) unless extra gives a "signature", which
// makes it an LD-signed body.
func (in *Instance) Note(actor, content string, extra map[string]any) []byte {
	if actor == "" {
		actor = in.ActorID
	}
	object := in.NewID("notes") // Misskey's note ids
	switch in.Kind {
	case GoToSocial, Mastodon:
		object = actor + "/statuses/" + in.freshID()
	case Pleroma:
		object = in.NewID("objects")
	}
	act := decode(mustDocument(in.Kind, "create", in.vars(Vars{"ACTOR": actor, "OBJECT_ID": object,
		"CONTENT": content, "SIGNATURE": "", "USER": "alice"})))
	delete(act, "signature")
	for k, v := range extra {
		act[k] = v
	}
	if obj, ok := act["object"].(map[string]any); ok {
		in.Serve(object, mustJSON(obj)) // served at its id, like a real server
	}
	return mustJSON(act)
}

// Serve makes the instance serve doc at id (an IRI on the instance).
func (in *Instance) Serve(id string, doc []byte) { in.objects.Store(id, doc) }

// fakeLDSignature stands for an RsaSignature2017 value: the relay never
// verifies LD signatures, it forwards bodies that carry one byte for byte.
const fakeLDSignature = "bm90IGEgcmVhbCBzaWduYXR1cmUsIGEgc3RhbmQtaW4="

// Delete builds the Delete of objectID by actor ("" for the subscribing
// actor) as the instance's software sends it: Mastodon's and Misskey's
// carry their author's LD signature (Mastodon signs every Delete),
// GoToSocial's names the bare object IRI, Mastodon's and Misskey's a
// Tombstone.
func (in *Instance) Delete(actor, objectID string) []byte {
	if actor == "" {
		actor = in.ActorID
	}
	return mustDocument(in.Kind, "delete", in.vars(Vars{"ACTOR": actor, "OBJECT_ID": objectID, "SIGNATURE": fakeLDSignature}))
}

// Announce builds the Announce of objectID as the instance's software
// sends it to a relay: Pleroma's /relay actor announces every public post
// to its followers; the others announce a boost by actor ("" for the
// subscribing actor), Mastodon's and Misskey's with an LD signature.
func (in *Instance) Announce(actor, objectID string) []byte {
	if actor == "" {
		actor = in.ActorID
	}
	return mustDocument(in.Kind, "announce", in.vars(Vars{"ACTOR": actor, "OBJECT_ID": objectID, "SIGNATURE": fakeLDSignature}))
}

// Accept builds the instance's Accept of a Follow its actor received (the
// relay's follow-back), as its software sends it.
func (in *Instance) Accept(follow Received) []byte {
	actor, _ := follow.Doc["actor"].(string)
	return mustDocument(in.Kind, "accept", in.vars(Vars{"FOLLOW_ID": follow.ID(), "FOLLOW_ACTOR": actor}))
}

// Follow subscribes the instance to the relay with the Follow its software
// sends and returns the Follow's id and the relay's answer status.
func (in *Instance) Follow(ctx context.Context, relayActor, relayInbox string) (string, int, error) {
	body := mustDocument(in.Kind, "follow", in.vars(Vars{"RELAY_ACTOR": relayActor}))
	var doc struct{ ID string }
	json.Unmarshal(body, &doc)
	status, _, err := in.Post(ctx, relayInbox, body)
	return doc.ID, status, err
}

// Unfollow sends its software's Undo{Follow} for followID.
func (in *Instance) Unfollow(ctx context.Context, relayActor, relayInbox, followID string) (int, error) {
	body := mustDocument(in.Kind, "undo", in.vars(Vars{"RELAY_ACTOR": relayActor, "FOLLOW_ID": followID}))
	status, _, err := in.Post(ctx, relayInbox, body)
	return status, err
}
