package cli

import (
	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// jsonFlowForm is fmt's output for a file in the JSON form: the .flow form
// of its flows (flowfile.Format), or why there is none. Like fmt of a .flow
// file, it does not check the flows: a flow with mistakes in it prints,
// and check reports them in either form.
func jsonFlowForm(in *input) ([]byte, diag.List) {
	f, diags := dsl.DecodeJSON(in.name, in.src)
	if diags.HasErrors() || f == nil {
		return nil, in.own(diags)
	}
	src, diags := flowfile.Format(f)
	return src, in.own(diags)
}
