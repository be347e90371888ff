// Package layout holds no code: its tests guard the repository's structure.
//
// They fail when a package lacks a doc comment, when an import edge points
// against the dependency direction of DESIGN.md (for example ewsp importing
// anything of this module, or a library importing refserver), when a
// production package imports testing, when ewsp's direct imports include
// net/... or os/..., or when the small libraries (ewsp, agentkit) pull SQL
// drivers, NATS or the REST stack into their dependency closure.
//
// A new package needs a line in the allowed-edges table of layout_test.go:
// adding it is the review point for its place in the design.
package layout
