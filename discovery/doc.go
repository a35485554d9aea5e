// Package discovery holds how servers find each other: the well-known
// documents a relay publishes so that fediverse software can resolve its
// actor (WebFinger, RFC 7033), learn what it runs (NodeInfo 2.1) and find
// its WebFinger template (host-meta, RFC 6415).
package discovery
