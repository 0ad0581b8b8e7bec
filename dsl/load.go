package dsl

import "github.com/flowgen/flowgen/diag"

// LoadJSON reads the JSON form (DecodeJSON) and runs Check on the model.
// It returns every diagnostic unsorted; the caller normalises (sorts, keeps
// one per line, caps) before printing.
//
// Decoding errors stop before Check: the model is then partial, and
// checking it would report consequences as if they were mistakes.
//
// This is the loader of services that run JSON flows (the engine): it
// needs no .flow parser. dsl/flowfile.Load reads .flow files too.
func LoadJSON(filename string, src []byte, opts CheckOptions) (*File, diag.List) {
	f, ds := DecodeJSON(filename, src)
	if len(ds) > 0 || f == nil {
		return f, ds
	}
	return f, Check(f, opts)
}
