// Package restapi serves the REST API of API.md (the /api/v1, /api/client, /api/internal and
// /api/v0 layers) from handlers generated from /openapi.yaml.
//
// oapi-codegen v2 generates api.gen.go from /openapi.yaml with the configuration in
// oapi-codegen.yaml (go generate ./restapi/; never edit api.gen.go by hand, CI regenerates it
// and fails on any difference): the models, the net/http ServeMux routing
// (HandlerWithOptions), the strict server interface (StrictServerInterface,
// NewStrictHandlerWithOptions) and the embedded spec (GetSpec, GetSpecJSON) that backs
// /api/openapi.json. spec_test.go validates the spec with kin-openapi and checks it against
// API.md's endpoint list, error catalog, credentials and conventions.
//
// The implementation (handlers that only translate between the generated types and the
// console service layer, the envelope and error catalog applied in one place, validation and
// middleware) comes in a later step.
package restapi
