package ui_test

// A diagram's boxes are reached by Tab (TestBrowserDiagramByKeyboard): to
// a screen reader each must say what it is and which box it is, not be an
// unnamed group.

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"
)

// focusables answers "ROLE NAME" of each element of the page the keyboard
// can reach, as the browser's accessibility tree has it.
func focusables(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var tree accessibility.GetFullAXTreeResult
	run(t, ctx, "the accessibility tree", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		var err error
		tree, err = chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		return err
	}))
	var out []string
	for _, n := range tree.Nodes {
		focusable := false
		for _, p := range n.Properties {
			focusable = focusable || p.Name == accessibility.PropertyNameFocusable
		}
		if n.Ignored || !focusable || n.Role == nil {
			continue
		}
		role, name := strings.Trim(string(n.Role.Value), `"`), ""
		if n.Name != nil {
			name = strings.Trim(string(n.Name.Value), `"`)
		}
		if role != "RootWebArea" {
			out = append(out, role+" "+name)
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
