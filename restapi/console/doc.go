// Package console is the console service layer of the reference server: one
// method per use case of API.md §3, called by the REST handlers and by /mcp
// alike, checking ownership and roles and running the write order of API.md
// §1.9 (validate, one transaction, relay/broker, SSE, respond).
//
// It declares the small interfaces it needs from server-only features and
// lets refserver pass their implementations, so that restapi never imports
// refserver: Events (events.go: the server-sent-events hub, implemented by
// refserver/events), together with the SSE frame encoder the REST layer
// writes frames with.
package console
