package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README shows what `flowgen check signup.flow` prints for a signup
// flow with a misspelt step name and an await without a timeout, at lines
// 11 and 18: each diagnostic's position, message, source line, caret and
// hint. This flow has those two mistakes there, and check must print the
// README's block, byte for byte, and exit 1. -nopkg stands for the Go
// package that declares SignupState in the README's setting, where the
// package check has nothing to say.
func TestReadmeCheckOutput(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const prompt = "$ flowgen check signup.flow\n"
	_, rest, ok := strings.Cut(string(b), "```\n"+prompt)
	want, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatalf("README.md has no block starting %q", prompt)
	}
	const flow = `// Signup creates a customer and a subscription, then waits for the payment.
flow Signup {
    state SignupState
    trigger rpc "Signup.Start"
    retry 3 backoff 100ms..5s
    timeout 10s

    step CreateCustomer {
        rpc customers "Customer.Create" (Customer) -> CustomerID
        rollback rpc customers "Customer.Delete" (CustomerID)
        on ok -> CreateSubscriptoin
    }
    step CreateSubscription {
        rpc subscriptions "Subscription.Create" (Plan) -> SubscriptionID
        rollback rpc subscriptions "Subscription.Cancel" (SubscriptionID)
    }
    step AwaitPayment {
        await payments "payment.succeeded" -> Payment
    }
}
`
	t.Chdir(t.TempDir())
	if err := os.WriteFile("signup.flow", []byte(flow), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := Main([]string{"check", "-nopkg", "signup.flow"}, nil, &out, &errb)
	if code != 1 {
		t.Errorf("flowgen check exits %d; want 1 (errors)", code)
	}
	if got := out.String() + errb.String(); got != want {
		t.Errorf("flowgen check signup.flow prints:\n%s\nthe README shows:\n%s", got, want)
	}
}
