package main

// post is the state of a Moderation run: an unexported type works, since
// the generated code lives in the same package.
type post struct {
	ID      string
	URL     string
	Verdict []string // what Classify and Review say, one per visit
}
