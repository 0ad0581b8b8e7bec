package cli

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// synopsisLine is one command line of a document's synopsis of the verbs
// (flowgen check [-json] ...), with the lines that continue it.
type synopsisLine struct {
	verb, text string
}

// synopses reads the synopsis lines of a block: each line that starts
// with "flowgen VERB" (or "flowgen [gen]"), joined with the indented lines
// that follow it. "flowgen version | help [verb] | <verb> -h" and
// "flowgen help [verb]" name no flags of their own.
func synopses(block string) []synopsisLine {
	var out []synopsisLine
	for _, line := range strings.Split(block, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "flowgen "):
			word := strings.Fields(trimmed)[1]
			if word == "[gen]" {
				word = "gen"
			}
			if strings.HasPrefix(word, "-") || strings.ToUpper(word) == word {
				word = "gen" // flowgen FILE...: the default verb
			}
			out = append(out, synopsisLine{verb: word, text: trimmed})
		case trimmed != "" && line != trimmed && len(out) > 0:
			out[len(out)-1].text += " " + trimmed
		default:
			if trimmed == "" && len(out) > 0 {
				out = append(out, synopsisLine{}) // a blank line ends the last one
			}
		}
	}
	return out
}

// The command lines of the README's "Commands" and of the manual
// (cmd/flowgen/doc.go, which go doc prints) name each verb's flags: every
// flag they name is a flag of that verb, a default they write in a
// bracket ([-addr 127.0.0.1:8080], [-write-timeout 60s]) is the flag's,
// and together a document's lines of a verb name all of its flags, so
// that a flag added, renamed or given another default without the
// synopses fails here. (TestServeFlagsDocumented checks serve's flag
// table in docs/engine.md; flowgen help prints the flags themselves.)
func TestCommandSynopsesMatchFlags(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", path))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// blockAfter is the first fenced block after heading in the file.
	blockAfter := func(file, heading string) string {
		_, rest, ok := strings.Cut(read(file), "\n"+heading+"\n")
		if !ok {
			t.Fatalf("%s has no section %q", file, heading)
		}
		_, rest, _ = strings.Cut(rest, "```\n")
		block, _, _ := strings.Cut(rest, "```")
		return block
	}

	// The manual's synopses are its tab-indented code lines.
	var manual strings.Builder
	for _, line := range strings.Split(read("cmd/flowgen/doc.go"), "\n") {
		if code, ok := strings.CutPrefix(line, "//\t"); ok {
			manual.WriteString(code + "\n")
		} else {
			manual.WriteString("\n")
		}
	}

	byName := map[string]*verb{}
	for _, v := range verbs {
		byName[v.name] = v
	}
	flagRef := regexp.MustCompile(`(?:^|[\s\[(|])-([a-z][a-z0-9-]*)`)
	bracket := regexp.MustCompile(`\[-([a-z][a-z0-9-]*) ([^\]\s|]+)\]`)
	placeholder := regexp.MustCompile(`^(?:[A-Z][A-Z0-9_=:.-]*|\.\.\.)$`) // DURATION, HOST:PORT, NAME=URL, ...
	for _, doc := range []struct {
		name, block string
		all         bool // the document has lines of every verb
	}{
		{"README.md's Commands", blockAfter("README.md", "## Commands"), true},
		{"cmd/flowgen/doc.go", manual.String(), true},
		{"docs/store.md's Command line", blockAfter("docs/store.md", "## Command line"), false},
	} {
		named := map[string]map[string]bool{}
		n := 0
		for _, s := range synopses(doc.block) {
			if s.verb == "" || s.verb == "help" || s.verb == "version" && strings.Contains(s.text, "help") {
				continue
			}
			v := byName[s.verb]
			if v == nil {
				if s.verb != "go" {
					t.Errorf("%s: %q: no verb %q", doc.name, s.text, s.verb)
				}
				continue
			}
			n++
			fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
			v.flags(fs)
			if named[v.name] == nil {
				named[v.name] = map[string]bool{}
			}
			for _, m := range flagRef.FindAllStringSubmatch(s.text, -1) {
				if fs.Lookup(m[1]) == nil {
					t.Errorf("%s: flowgen %s has no flag -%s: %s", doc.name, v.name, m[1], s.text)
				}
				named[v.name][m[1]] = true
			}
			for _, m := range bracket.FindAllStringSubmatch(s.text, -1) {
				f, value := fs.Lookup(m[1]), m[2]
				if f == nil || placeholder.MatchString(value) {
					continue // no such flag (said above), or a placeholder: [-retain DURATION]
				}
				fresh := flag.NewFlagSet(v.name, flag.ContinueOnError)
				v.flags(fresh)
				if err := fresh.Set(m[1], value); err != nil {
					t.Errorf("%s: [-%s %s] of flowgen %s is no value of the flag: %v", doc.name, m[1], value, v.name, err)
					continue
				}
				if got := fresh.Lookup(m[1]).Value.String(); got != f.DefValue {
					t.Errorf("%s: [-%s %s] of flowgen %s reads as %s, but the flag's default is %s", doc.name, m[1], value, v.name, got, f.DefValue)
				}
			}
		}
		if n == 0 || doc.all && n < len(verbs)-1 {
			t.Fatalf("%s: %d synopsis lines of verbs read: the block was not found", doc.name, n)
		}
		for _, v := range verbs {
			if !doc.all && named[v.name] == nil {
				continue
			}
			fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
			v.flags(fs)
			fs.VisitAll(func(f *flag.Flag) {
				if !named[v.name][f.Name] {
					t.Errorf("%s: no synopsis line of flowgen %s names its flag -%s", doc.name, v.name, f.Name)
				}
			})
		}
	}
}
