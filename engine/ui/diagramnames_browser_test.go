package ui_test

// A diagram's boxes are reached by Tab (TestBrowserDiagramByKeyboard): to
// a screen reader each must say what it is and which box it is, not be an
// unnamed group.

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"
)

// axNode is an element as the browser's accessibility tree has it.
type axNode struct {
	role, name, description string
	focusable               bool
}

// axNodes answers the page's accessibility tree, the nodes it ignores
// left out.
func axNodes(t *testing.T, ctx context.Context) []axNode {
	t.Helper()
	var tree accessibility.GetFullAXTreeResult
	run(t, ctx, "the accessibility tree", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		var err error
		tree, err = chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		return err
	}))
	value := func(v *accessibility.Value) string {
		if v == nil {
			return ""
		}
		var s string
		if json.Unmarshal(v.Value, &s) != nil {
			return string(v.Value)
		}
		return s
	}
	var out []axNode
	for _, n := range tree.Nodes {
		if n.Ignored {
			continue
		}
		a := axNode{role: value(n.Role), name: value(n.Name), description: value(n.Description)}
		for _, p := range n.Properties {
			a.focusable = a.focusable || p.Name == accessibility.PropertyNameFocusable
		}
		out = append(out, a)
	}
	return out
}

// focusables answers "ROLE NAME" of each element of the page the keyboard
// can reach, as the browser's accessibility tree has it.
func focusables(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var out []string
	for _, n := range axNodes(t, ctx) {
		if n.focusable && n.role != "RootWebArea" {
			out = append(out, n.role+" "+n.name)
		}
	}
	return out
}

func TestBrowserDiagramBoxesNamed(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/flows/Split", clientToken, false)
	run(t, ctx, "the flow", chromedp.WaitReady(chromedp.CSS(`section[data-flow="Split"] svg .fg-node[data-step="Pack"]`)))
	check := func(page string, want ...string) {
		t.Helper()
		got := focusables(t, ctx)
		bad := 0
		for _, f := range got {
			if strings.HasPrefix(f, "group ") || strings.HasSuffix(f, " ") {
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s: the keyboard reaches %d unnamed groups or controls", page, bad)
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: no %q among what the keyboard reaches: %q", page, w, got)
			}
		}
	}
	check("the web view", "button Pack", "button fork of parallel block Prepare", "button join of parallel block Prepare", "button start")
	// The details of a bar name it so too, not by its ID.
	heading := get(t, ctx, "the fork's details", chromedp.Evaluate[string](`(() => {
		document.querySelector('section[data-flow="Split"] svg .fg-fork rect, section[data-flow="Split"] svg .fg-fork path').dispatchEvent(new MouseEvent("click", {bubbles: true}));
		return document.querySelector('section[data-flow="Split"] h3').textContent;
	})()`))
	if heading != "fork of parallel block Prepare" {
		t.Errorf("the details of the fork bar are headed %q", heading)
	}
	run(t, ctx, "the graph page", chromedp.Navigate(graphPage(t, shopFile(t), "")),
		chromedp.WaitReady(chromedp.CSS(`.fg-flow[data-flow="Split"]`)))
	check("the graph page", "button Pack", "button fork of parallel block Prepare", "button Charge")
}
