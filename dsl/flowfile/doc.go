// Package flowfile reads .flow files into the dsl model: Build turns the
// parser's syntax tree into a dsl.File, and Load parses (or, for a name
// ending in ".json", decodes) and checks one source.
//
// It is the one place where the parser (participle) meets the model: it
// imports parser and dsl, and neither imports it, so a program that runs
// JSON flows only (the engine) links no parser. The command and the tests
// of the generator and the diagrams read .flow files through it.
package flowfile
