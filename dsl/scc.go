package dsl

// components returns the strongly connected components of the graph of
// nodes 0..n-1 whose edges lead from a node v to each of succ(v), among
// the nodes reached from roots: Tarjan's algorithm, iterative so that a
// long chain of nodes cannot deepen the stack. The components come in
// reverse topological order (a component before those that lead to it);
// time is linear in the nodes and edges reached, as each node's succ is
// called once.
func components(n int, roots []int, succ func(int) []int) [][]int {
	order := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range order {
		order[i] = -1
	}
	var stack []int
	var groups [][]int
	counter := 0
	type frame struct {
		v    int
		next []int
	}
	for _, root := range roots {
		if order[root] >= 0 {
			continue
		}
		order[root], low[root] = counter, counter
		counter++
		stack = append(stack, root)
		on[root] = true
		call := []frame{{root, succ(root)}}
		for len(call) > 0 {
			top := &call[len(call)-1]
			if len(top.next) > 0 {
				w := top.next[0]
				top.next = top.next[1:]
				switch {
				case order[w] < 0:
					order[w], low[w] = counter, counter
					counter++
					stack = append(stack, w)
					on[w] = true
					call = append(call, frame{w, succ(w)})
				case on[w]:
					low[top.v] = min(low[top.v], order[w])
				}
				continue
			}
			v := top.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] != order[v] {
				continue
			}
			var g []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				g = append(g, w)
				if w == v {
					break
				}
			}
			groups = append(groups, g)
		}
	}
	return groups
}

// cyclic reports whether component g of a graph whose edges are succ
// holds a cycle: it has more than one node, or its node leads to itself.
func cyclic(g []int, succ func(int) []int) bool {
	if len(g) > 1 {
		return true
	}
	for _, w := range succ(g[0]) {
		if w == g[0] {
			return true
		}
	}
	return false
}
