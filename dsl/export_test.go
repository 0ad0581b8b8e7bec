package dsl

// Hand-built models of the package's tests, for its external tests
// (flowfile_test.go).
var (
	SignupModel   = signupModel
	GeneratedFile = generatedFile
)
