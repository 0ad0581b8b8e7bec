// Package kinds has no code: its test (kinds_test.go) keeps the step
// action kinds in one piece. The kinds are a table, dsl/kinds.go; what a
// stage still does per kind it does in a switch over dsl.ActionKind. The
// test type-checks the module's packages (tests excluded) and fails when
//
//   - such a switch has no case for a kind of the table and no default
//     that is clearly an error (a panic, or a return of a non-nil error):
//     adding a kind then names every switch that must learn it;
//   - a constant of type dsl.ActionKind has no entry in the table, or an
//     entry has no constant.
//
// CONTRIBUTING.md lists the rest of what adding a kind takes.
package kinds
