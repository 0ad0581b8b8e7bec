package engine

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// The topics of the engine's provider waits (runtime.ReservedTopic) are no
// flow's and no client's: a JSON flow that awaits on one is refused at its
// topic (its await would end when a provider registers, not on its event),
// and so is an event posted there, which changes nothing. Both were
// accepted.
func TestReservedTopicsRefused(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	doc := `{"version": 1, "flows": [{"name": "Hijack", "triggers": [{"kind": "rpc", "endpoint": "Hijack.Start"}], "steps": [` +
		`{"name": "W", "action": {"kind": "await", "topic": "flowgen/provider", "event": "W", "timeout": "1m"}}]}]}`
	status, out := c.do("PUT", "/flows", doc)
	if b, _ := json.Marshal(out); status != 400 || !strings.Contains(string(b), `"reserved-topic"`) || !strings.Contains(string(b), `topic \"flowgen/provider\" is reserved`) {
		t.Errorf("PUT a flow awaiting on flowgen/provider: %d %v, want 400 with a reserved-topic diagnostic", status, out)
	}
	for _, topic := range []string{ProviderTopic, ProviderRollbackTopic} {
		status, out := c.doH("POST", "/events/"+url.PathEscape(topic)+"/Charge?id=m-1", `{}`)
		msg, _ := out["error"].(string)
		if status != 400 || !strings.Contains(msg, "is reserved for the engine's waits for a remote provider") {
			t.Errorf("POST /events/%s/Charge: %d %v, want 400 saying the topic is reserved", topic, status, out)
		}
		m := Message{Topic: topic, Event: "Charge", ID: "m-1"}
		if _, known, err := e.in.st.GetMessage(m.key()); known || err != nil {
			t.Errorf("event on %s refused, yet in the inbox (%v, %v)", topic, known, err)
		}
	}
}
