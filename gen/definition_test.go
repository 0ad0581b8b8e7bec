package gen

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/dsl"
)

// FlowJSON's document (compactJSON) is each flow of the golden inputs,
// whole: decoded, it encodes to the bytes of the flow's own JSON form.
func TestFlowJSONIsTheFlowsJSONForm(t *testing.T) {
	for _, c := range goldenCases(t) {
		for _, fl := range c.load(t).Flows {
			doc, err := compactJSON(fl)
			if err != nil {
				t.Fatalf("%s/%s: %v", c.name, fl.Name, err)
			}
			back, ds := dsl.DecodeJSON(fl.Name+".json", []byte(doc))
			if ds.HasErrors() || len(back.Flows) != 1 {
				t.Fatalf("%s/%s: FlowJSON does not decode to one flow: %v", c.name, fl.Name, ds)
			}
			got, err1 := dsl.EncodeJSON(back)
			orig, err2 := dsl.EncodeJSON(&dsl.File{Flows: []*dsl.Flow{fl}})
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if diff := cmp.Diff(string(orig), string(got)); diff != "" {
				t.Errorf("%s/%s: FlowJSON differs from the flow's JSON form (-want +got):\n%s", c.name, fl.Name, diff)
			}
		}
	}
}
