package listing

// Context is the JSON-LD context document each relay serves at /ns. It maps
// the short terms listings use to ValueFlows, OM 2 and DFC IRIs, and adds
// this project's own terms under [Namespace]: Surplus (the classification
// of surplus) and region (region codes a listing is for).
const Context = `{
  "@context": {
    "runrig": "https://w3id.org/runrig/ns#",
    "vf": "https://w3id.org/valueflows/ont/vf#",
    "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
    "dfc-b": "https://github.com/datafoodconsortium/ontology/releases/latest/download/DFC_BusinessOntology.owl#",
    "Proposal": "vf:Proposal",
    "Intent": "vf:Intent",
    "purpose": "vf:purpose",
    "unitBased": "vf:unitBased",
    "publishes": "vf:publishes",
    "reciprocal": "vf:reciprocal",
    "eligibleLocation": {"@id": "vf:eligibleLocation", "@type": "@id"},
    "action": "vf:action",
    "provider": {"@id": "vf:provider", "@type": "@id"},
    "receiver": {"@id": "vf:receiver", "@type": "@id"},
    "resourceConformsTo": {"@id": "vf:resourceConformsTo", "@type": "@id"},
    "resourceClassifiedAs": {"@id": "vf:resourceClassifiedAs", "@type": "@id"},
    "resourceQuantity": "vf:resourceQuantity",
    "availableQuantity": "vf:availableQuantity",
    "minimumQuantity": "vf:minimumQuantity",
    "hasEnd": {"@id": "vf:hasEnd", "@type": "http://www.w3.org/2001/XMLSchema#dateTime"},
    "due": {"@id": "vf:due", "@type": "http://www.w3.org/2001/XMLSchema#dateTime"},
    "hasUnit": "om2:hasUnit",
    "hasNumericalValue": "om2:hasNumericalValue",
    "Surplus": "runrig:Surplus",
    "region": "runrig:region"
  }
}
`
