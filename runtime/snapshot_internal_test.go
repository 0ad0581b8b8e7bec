package runtime

import (
	"reflect"
	"testing"
	"time"
)

type jsonNamed int

func (jsonNamed) MarshalJSON() ([]byte, error) { return []byte(`"x"`), nil }

type textNamed struct{ A int }

func (*textNamed) MarshalText() ([]byte, error) { return []byte("x"), nil }

func TestIsValueType(t *testing.T) {
	type inner struct {
		A [3]int
		B string
	}
	cases := map[reflect.Type]bool{
		reflect.TypeFor[int]():    true,
		reflect.TypeFor[string](): true,
		reflect.TypeFor[struct {
			X inner
			Y float64
		}](): true,
		reflect.TypeFor[struct{}]():              true,
		reflect.TypeFor[[]int]():                 false,
		reflect.TypeFor[*int]():                  false,
		reflect.TypeFor[map[string]int]():        false,
		reflect.TypeFor[any]():                   false,
		reflect.TypeFor[struct{ F func() }]():    false,
		reflect.TypeFor[time.Time]():             false, // marshals itself, holds a pointer
		reflect.TypeFor[struct{ J jsonNamed }](): false,
		reflect.TypeFor[textNamed]():             false,
		reflect.TypeFor[[2]struct{ S []byte }](): false,
	}
	for typ, want := range cases {
		if got := isValueType(typ); got != want {
			t.Errorf("isValueType(%v) = %v, want %v", typ, got, want)
		}
	}
}

func TestRetryPolicyBackoff(t *testing.T) {
	p := RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 3}
	want := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond, time.Second, time.Second}
	for i, w := range want {
		if got := p.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	huge := RetryPolicy{Initial: time.Hour, Multiplier: 1e9}
	if got := huge.backoff(50); got <= 0 {
		t.Errorf("uncapped backoff overflowed to %v", got)
	}
	if got := (RetryPolicy{}).backoff(3); got != 0 {
		t.Errorf("no Initial: backoff %v, want 0", got)
	}
}
