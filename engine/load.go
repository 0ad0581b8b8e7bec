package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/internal/atomicfile"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Loading JSON flows. A document is checked whole before anything
// changes: the compiler's checks, the engine's (handlers, names, rpc
// endpoints against every registered flow and within the document, the
// runs in progress of a flow it replaces, the flows directory's files).
// Then the flows that change are saved (one atomic file each, the
// directory synced), then registered all at once. A failure while saving or
// starting the triggers undoes what was done, so that on any error nothing
// has changed, and the flows directory always holds what is registered:
// the next start loads the same flows.

// Diagnostic codes of the engine's checks that say the document conflicts
// with the engine's state, not that it is wrong in itself: the HTTP API
// answers them with 409.
const (
	codeRunsInProgress = "runs-in-progress" // the replacement does not fit a run in progress
	codeRPCTaken       = "rpc-taken"        // an rpc endpoint starts a registered flow
	codeFlowFile       = "flow-file"        // the flow is defined in another file of the flows directory
	codeFlowExists     = "flow-exists"      // a generated flow has the name
)

// loadError is the error of a document with errors: ErrConflict when every
// error is a conflict with the engine's state, else ErrInvalid.
func loadError(ds diag.List) error {
	kind := ErrConflict
	for _, d := range ds {
		if d.Severity == diag.Error && d.Code != codeRunsInProgress && d.Code != codeRPCTaken && d.Code != codeFlowFile && d.Code != codeFlowExists {
			kind = ErrInvalid
		}
	}
	return fmt.Errorf("%w: %s", kind, firstError(ds))
}

// loadPlan is a checked document: what loading it changes.
type loadPlan struct {
	flows []plannedFlow // every flow of the document, in order
	file  *dsl.File     // the document, for its warnings (providerWarnings)
}

type plannedFlow struct {
	name string
	src  []byte     // its JSON document (dsl.EncodeJSON of the flow alone)
	fe   *flowEntry // the new entry; nil when the same definition is registered
}

// LoadFlows validates a flowgen JSON document (or, with Options.FlowFile, a
// .flow source: any name not ending in ".json") with the compiler's checks
// and the engine's own (every Go step and rollback has a registered
// handler; names fit the engine's limits; no rpc endpoint starts two
// flows, in the document or with the registered flows; the new definition
// fits the runs in progress of a flow it replaces; with Options.FlowsDir,
// the flow is not defined by another file of that directory, nor is its
// file named like another flow's but for case), then saves
// the flows that change into Options.FlowsDir (one <flow>.json each,
// written atomically) and registers them, all at once. On any error
// nothing changes, and the diagnostics say what and where (by JSON path for
// JSON input). Warnings are returned with a nil error.
func (e *Engine) LoadFlows(filename string, data []byte) (diag.List, error) {
	_, ds, err := e.loadFlows(filename, data)
	return ds, err
}

// loadFlows is LoadFlows, which also returns the names of the document's
// flows, in order.
func (e *Engine) loadFlows(filename string, data []byte) ([]string, diag.List, error) {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	p, ds, err := e.plan(filename, data, nil, nil)
	if err != nil {
		return nil, ds, err
	}
	names := make([]string, 0, len(p.flows))
	for _, f := range p.flows {
		names = append(names, f.name)
	}
	err = e.commit(p, e.opts.FlowsDir, true)
	return names, append(ds, e.providerWarnings(p)...), err
}

// checkOptions are the compiler's check options for a document the engine
// loads: its calls may run, besides the document's own flows, the JSON
// flows the engine has registered and, while LoadDir reads a directory,
// the flows of every file of it (dir, nil outside LoadDir), so that the
// order of the files does not matter. The checks ask for them only when a
// call names a flow the document does not declare. Calls resolve by name
// when they run (call.go), so a flow that calls another loaded before or
// in another file runs it.
func (e *Engine) checkOptions(dir func() []*dsl.Flow) dsl.CheckOptions {
	return dsl.CheckOptions{
		PackageFlows: func() []*dsl.Flow {
			e.mu.Lock()
			registered := make([]*dsl.Flow, 0, len(e.flows))
			for _, fe := range e.flows {
				if fe.def != nil {
					registered = append(registered, fe.def)
				}
			}
			e.mu.Unlock()
			slices.SortFunc(registered, func(a, b *dsl.Flow) int { return strings.Compare(a.Name, b.Name) })
			if dir == nil {
				return registered
			}
			return append(slices.Clone(dir()), registered...)
		},
		PackageScope: dsl.CallScope{Where: "the engine's flows",
			Hint: "a call runs a flow of the same document or one the engine has loaded: define flow %s in this document, or load it first"},
	}
}

// dirFlow is a flow LoadDir read from a file of the directory.
type dirFlow struct {
	file string
	src  []byte
}

// plan checks the document and returns what loading it changes. For
// LoadDir, seen holds the flows earlier files of the directory define and
// dir the flows of all its files. The caller holds e.loadMu.
func (e *Engine) plan(filename string, data []byte, seen map[string]dirFlow, dir func() []*dsl.Flow) (*loadPlan, diag.List, error) {
	f, ds := e.read(filename, data, e.checkOptions(dir))
	if f == nil || ds.HasErrors() {
		return nil, ds, fmt.Errorf("%w: %s", ErrInvalid, firstError(ds))
	}
	if e.remote == nil { // with remote providers, providerWarnings once registered
		ds = append(ds, checkHandlers(f, e.reg, nil, e.opts.NoGoHandlers)...)
	}
	ds = append(ds, e.checkCaller(f)...)
	e.mu.Lock()
	registered := make(map[string]*flowEntry, len(e.flows))
	for name, fe := range e.flows {
		registered[name] = fe
	}
	e.mu.Unlock()
	p := &loadPlan{file: f}
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		old := registered[fl.Name]
		if old != nil && old.def == nil {
			ds = append(ds, diag.Errorf(fl.NameRange, codeFlowExists, "flow %q is a generated flow registered in this engine", fl.Name).
				WithHint("rename the JSON flow"))
			continue
		}
		src, err := dsl.EncodeJSON(&dsl.File{Flows: []*dsl.Flow{fl}})
		if err != nil {
			return nil, ds, err
		}
		if prev, ok := seen[fl.Name]; ok && !bytes.Equal(prev.src, src) {
			ds = append(ds, diag.Errorf(fl.NameRange, "flow-defined-twice", "flow %q is also defined in %s, differently", fl.Name, prev.file).
				WithHint("the flows directory defines each flow once: remove one of the two definitions"))
			continue
		}
		pf := plannedFlow{name: fl.Name, src: src}
		if old == nil || !bytes.Equal(old.source, src) {
			rf, err := e.compile(fl)
			if err != nil {
				ds = append(ds, diag.Errorf(fl.NameRange, "compile", "%v", err))
				continue
			}
			fe := &flowEntry{name: fl.Name, ops: &typed[State]{f: rf}, triggers: triggersOf(fl), def: fl, source: src}
			for _, s := range fl.Steps {
				if s != nil && s.Spec().Needs.Has(dsl.NeedSubscriber) { // an await: its events go to the inbox
					fe.awaits = append(fe.awaits, [2]string{s.Action.Topic, s.Action.Event})
				}
			}
			if old != nil {
				if d, ok := e.fits(fe, fl); !ok {
					ds = append(ds, d)
					continue
				}
			}
			pf.fe = fe
		}
		p.flows = append(p.flows, pf)
	}
	ds = append(ds, rpcConflicts(f, registered)...)
	if seen == nil && e.opts.FlowsDir != "" {
		ds = append(ds, e.fileConflicts(f, p, registered)...)
	}
	if ds.HasErrors() {
		return nil, append(ds, e.providerWarnings(p)...), loadError(ds)
	}
	return p, ds, nil
}

// providerWarnings are the warnings about the Go steps and rollbacks of
// p's document that no provider serves as the flow declares them
// (remote.missing), taken after the load registered its flows (or
// refused them): a registration checks the registered flows and is
// granted in one step under rm.mu, so that it either sees a flow loaded
// beside it (and is refused if its outcomes do not fit) or is seen here
// (TestProviderRegistrationOrderedWithLoads). Taken in the plan, before
// the flows are registered, a registration between the two saw neither.
func (e *Engine) providerWarnings(p *loadPlan) diag.List {
	if e.remote == nil {
		return nil
	}
	return checkHandlers(p.file, e.reg, e.remote, e.opts.NoGoHandlers)
}

func triggersOf(fl *dsl.Flow) []runtime.Trigger {
	triggers := make([]runtime.Trigger, 0, len(fl.Triggers))
	for _, t := range fl.Triggers {
		if t != nil {
			triggers = append(triggers, t.Trigger)
		}
	}
	return triggers
}

// rpcConflicts reports the rpc endpoints of f's flows that a registered
// flow that f does not replace already has (two flows of f on one endpoint
// are the checks' rpc-conflict).
func rpcConflicts(f *dsl.File, registered map[string]*flowEntry) diag.List {
	inDoc := map[string]bool{}
	for _, fl := range f.Flows {
		if fl != nil {
			inDoc[fl.Name] = true
		}
	}
	taken := map[string]string{} // endpoint -> registered flow that keeps it
	for name, fe := range registered {
		if inDoc[name] {
			continue
		}
		for _, t := range fe.triggers {
			if t.Kind == runtime.TriggerRPC {
				taken[t.Endpoint] = name
			}
		}
	}
	var ds diag.List
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		for _, t := range fl.Triggers {
			if t == nil || t.Kind != runtime.TriggerRPC {
				continue
			}
			at := pick(t.At("endpoint"), fl.NameRange)
			if other, ok := taken[t.Endpoint]; ok {
				ds = append(ds, diag.Errorf(at, codeRPCTaken, "%s", rpcTaken(fl.Name, t.Endpoint, other)).
					WithHint("choose another endpoint, or take it off flow %q in the same document", other))
			}
		}
	}
	return ds
}

// rpcTaken says that flow cannot have the rpc endpoint another flow, owner,
// has: what conflicts with what, for PUT /flows and Register alike.
func rpcTaken(flow, endpoint, owner string) string {
	return fmt.Sprintf("flow %q cannot take rpc endpoint %q: it starts flow %q", flow, endpoint, owner)
}

// fileConflicts reports the flows of f that p changes and that a file of
// the flows directory other than <flow>.json defines: saving <flow>.json
// would leave two definitions, and the next start could not choose.
func (e *Engine) fileConflicts(f *dsl.File, p *loadPlan, registered map[string]*flowEntry) diag.List {
	var ds diag.List
	dir := filepath.Clean(e.opts.FlowsDir)
	for _, pf := range p.flows {
		old := registered[pf.name]
		if pf.fe == nil || old == nil {
			continue
		}
		target := e.flowFile(pf.name)
		for _, file := range old.files {
			if file != target && filepath.Dir(file) == dir {
				ds = append(ds, diag.Errorf(flowNameRange(f, pf.name), codeFlowFile, "flow %q is defined in %s of the flows directory", pf.name, filepath.Base(file)).
					WithHint("change the flow in that file and restart, or remove the file (and restart) to define the flow through the API"))
				break
			}
		}
	}
	return append(ds, e.caseConflicts(f, p, registered, dir)...)
}

// flowNameRange is where f names flow name, or the zero range.
func flowNameRange(f *dsl.File, name string) diag.Range {
	for _, fl := range f.Flows {
		if fl != nil && fl.Name == name {
			return fl.NameRange
		}
	}
	return diag.Range{}
}

// caseConflicts reports the flows of f that p saves whose file,
// <flow>.json, differs only in case from another file of dir: a registered
// flow's, or another flow's of the same document ("Order" and "ORDER"). On
// a file system that ignores case (macOS's and Windows' by default)
// ORDER.json is Order.json, so saving one replaced the other's definition
// under a 200, and the next start did not find it, nor could it resume its
// runs. Refused on every system, so that a flows directory means the same
// wherever it is copied (409, flow-file, as for a flow another file of dir
// defines; within one document too).
func (e *Engine) caseConflicts(f *dsl.File, p *loadPlan, registered map[string]*flowEntry, dir string) diag.List {
	var ds diag.List
	type owner struct{ file, flow string }
	taken := map[string]owner{} // folded file name -> its file and flow
	for name, fe := range registered {
		for _, file := range fe.files {
			if filepath.Dir(file) == dir {
				taken[strings.ToLower(filepath.Base(file))] = owner{filepath.Base(file), name}
			}
		}
	}
	for _, pf := range p.flows {
		if pf.fe == nil {
			continue
		}
		file := filepath.Base(e.flowFile(pf.name))
		key := strings.ToLower(file)
		if o, ok := taken[key]; ok && o.file != file {
			ds = append(ds, diag.Errorf(flowNameRange(f, pf.name), codeFlowFile, "flow %q would be saved as %s, which is %s, of flow %q, where file names ignore case (macOS, Windows)", pf.name, file, o.file, o.flow).
				WithHint("give the flow a name that differs from %q in more than case", o.flow))
			continue
		}
		taken[key] = owner{file, pf.name}
	}
	return ds
}

// flowFile is where the API saves flow name.
func (e *Engine) flowFile(name string) string {
	return filepath.Join(filepath.Clean(e.opts.FlowsDir), name+flowFileExt)
}

// commit saves the flows p changes into dir (if not "") and registers them
// all at once; on an error it undoes what it did. An operator's change
// (LoadFlows, not LoadDir) then drops the old definitions' triggers
// outside the process that the new ones lack (TriggerKeeper.Replaced). The
// caller holds e.loadMu.
func (e *Engine) commit(p *loadPlan, dir string, operator bool) (err error) {
	var changed []*flowEntry
	for _, pf := range p.flows {
		if pf.fe != nil {
			changed = append(changed, pf.fe)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	var undoFiles func()
	if dir != "" {
		if undoFiles, err = e.saveFlows(changed); err != nil {
			return err
		}
	}
	defer func() {
		if err != nil && undoFiles != nil {
			undoFiles()
		}
	}()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	olds := make([]*flowEntry, len(changed))
	for i, fe := range changed {
		olds[i] = e.flows[fe.name]
	}
	started := e.started
	if !started {
		var stops []func()
		for i, fe := range changed { // Start attaches them
			if olds[i] != nil {
				stops = append(stops, e.detach(olds[i])...)
			}
			e.flows[fe.name] = fe
			e.setRPC(fe)
		}
		e.mu.Unlock()
		stopAll(stops)
	} else {
		e.attaching.Add(1)
		defer e.attaching.Done()
		e.mu.Unlock()
		if err := e.attachChanged(changed, olds); err != nil {
			return err
		}
	}
	keeper, _ := e.opts.Executor.(TriggerKeeper)
	for i, fe := range changed {
		if olds[i] == nil {
			continue
		}
		if started {
			e.forgetTriggers(olds[i], fe)
		}
		if operator && keeper != nil {
			// The change is saved and in effect: a failure here leaves
			// an old trigger running, which the log says, and which
			// does not make the change undone; the keeper keeps trying
			// (TriggerKeeper).
			if rerr := keeper.Replaced(e.baseCtx, olds[i].execFlow(), fe.execFlow()); rerr != nil {
				e.log.Error("removing the triggers of a flow's replaced definition", "flow", fe.name, "error", rerr)
			}
		}
	}
	e.inEffect(changed...)
	if e.flowsPublished != nil {
		e.flowsPublished()
	}
	return nil
}

// attachChanged attaches the flows a change defines, changed, on a
// started engine, in place of olds (nil: none), and registers them; on
// an error nothing changed. The old definitions' triggers stop first, as
// their replacements' start under the same consumer names; the old
// definitions stay reachable otherwise (rpc, StartRun, calls) until the
// change is registered. The new ones are reachable only then: a run
// started on one would outlive a refusal. The caller holds e.loadMu and
// is counted in e.attaching.
func (e *Engine) attachChanged(changed, olds []*flowEntry) error {
	var stops []func()
	e.mu.Lock()
	for _, old := range olds {
		if old != nil {
			stops = append(stops, e.takeStops(old)...)
		}
	}
	e.mu.Unlock()
	stopAll(stops)
	for i, fe := range changed {
		err := e.attach(fe)
		if err == nil {
			continue
		}
		// fe's attach undid its part; the flows attached before it are
		// undone, before the old definitions take their triggers back.
		e.unattach(changed[:i]...)
		for _, old := range olds {
			if old == nil {
				continue
			}
			if aerr := e.attach(old); aerr != nil {
				if !errors.Is(aerr, ErrClosed) {
					e.log.Error("restarting the triggers of a flow whose replacement failed", "flow", old.name, "error", aerr)
				}
				continue
			}
			if e.opts.Executor == nil {
				e.schedule(old)
			}
		}
		return err
	}
	e.mu.Lock()
	if e.closed {
		// Close came while they attached: it stopped the old
		// definitions, not these, which were not registered.
		e.mu.Unlock()
		e.unattach(changed...)
		return ErrClosed
	}
	for _, old := range olds {
		if old != nil {
			e.dropRPC(old)
		}
	}
	for _, fe := range changed {
		e.flows[fe.name] = fe
		e.setRPC(fe)
		fe.live.Store(true)
	}
	e.mu.Unlock()
	// Every flow attached and registered: their schedules start and their
	// runs resume now, none of a flow a failure above would have undone.
	e.activate(changed...)
	return nil
}

// setRPC points fe's rpc endpoints at it. e.mu is held.
func (e *Engine) setRPC(fe *flowEntry) {
	for _, t := range fe.triggers {
		if t.Kind == runtime.TriggerRPC {
			e.rpc[t.Endpoint] = fe
		}
	}
}

// saveFlows writes each flow to <FlowsDir>/<flow>.json, all of them or
// none, across crashes too (writeDirChange: a journal, then each file
// replaced atomically, the directory synced), and records the file in its
// entry. On an error it restores the files; otherwise it returns what
// restores them.
func (e *Engine) saveFlows(fes []*flowEntry) (undo func(), err error) {
	dir := filepath.Clean(e.opts.FlowsDir)
	if err := recoverDir(dir); err != nil {
		return nil, fmt.Errorf("finishing the change of %s a crash interrupted: %w", dir, err)
	}
	before, after := dirChange{}, dirChange{}
	for _, fe := range fes {
		name := filepath.Base(e.flowFile(fe.name))
		old, err := readDirFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("saving flow %q: %w", fe.name, err)
		}
		before[name], after[name] = old, fe.source
	}
	restore := func() {
		if err := undoDirChange(dir, before); err != nil {
			// Its journal holds the change, which the next start makes.
			e.log.Error("restoring the flows directory failed: the next start finishes the refused change its journal holds, unless the directory is mended first", "dir", dir, "journal", FlowsJournal, "error", err)
		}
	}
	if err := writeDirChange(dir, after); err != nil {
		restore()
		return nil, fmt.Errorf("saving flows into %s: %w", dir, err)
	}
	for _, fe := range fes {
		fe.files = []string{e.flowFile(fe.name)}
	}
	return restore, nil
}

// read decodes and checks a JSON document, or hands any other source to
// Options.FlowFile.
func (e *Engine) read(filename string, data []byte, opts dsl.CheckOptions) (*dsl.File, diag.List) {
	if dsl.IsJSONFile(filename) {
		return dsl.LoadJSON(filename, data, opts)
	}
	if e.opts.FlowFile == nil {
		return JSONOnly(filename, data, opts)
	}
	return e.opts.FlowFile(filename, data, opts)
}

// JSONOnly refuses a source that is not JSON (code json, at its first
// line): what an engine without Options.FlowFile answers a LoadFlows of
// one. As Options.FlowFile it also makes LoadDir read the *.flow files of
// the directory, and so refuse them, rather than skip them: a service
// that serves its flows directory on an engine that loads the JSON form
// only (flowgen-temporal serve) then stops on a .flow file there, which
// it would otherwise leave unserved without a word.
func JSONOnly(filename string, _ []byte, _ dsl.CheckOptions) (*dsl.File, diag.List) {
	return nil, diag.List{diag.Errorf(diag.Range{Start: diag.Pos{File: filename, Line: 1, Column: 1}}, "json",
		"not a JSON flow (the name does not end in .json): this engine loads the JSON form only").
		WithHint("`flowgen json FILE.flow` prints the JSON form of a .flow file")}
}

// fits reports whether the replacement fe can continue every unfinished
// run of the flow it replaces.
func (e *Engine) fits(fe *flowEntry, fl *dsl.Flow) (diag.Diagnostic, bool) {
	runs, err := e.store.List(store.Filter{Flow: fe.name, NonTerminal: true})
	if err != nil {
		return diag.Errorf(fl.NameRange, "store", "listing runs of flow %q: %v", fe.name, err), false
	}
	for _, r := range runs {
		h, err := e.store.Load(r.RunID)
		if err == nil {
			err = fe.ops.checkHistory(h)
		}
		if err != nil {
			return diag.Errorf(fl.NameRange, codeRunsInProgress, "the new definition of flow %q does not fit run %q in progress: %v", fe.name, r.RunID, err).
				WithHint("keep the steps that runs in progress are on, or wait for them to finish (or abort them)"), false
		}
	}
	return diag.Diagnostic{}, true
}

// firstError is the error that a list printed for people shows first
// (diag.Report: in the order of the files, one a line), not the first the
// checks found, which a diagnostic earlier on its line can hide there.
func firstError(ds diag.List) string {
	for _, d := range ds.Sorted() {
		if d.Severity == diag.Error {
			return d.String()
		}
	}
	return "invalid input"
}

// LoadDir loads every *.json file of dir (and every *.flow file, with
// Options.FlowFile) in name order, but hidden ones (isHidden), each checked as LoadFlows checks a
// document. It writes nothing, except to finish a change of the directory
// by LoadFlows that a crash interrupted (FlowsJournal) and to remove the
// temporary files of file writes a crash cut short (atomicfile.RemoveTemp). Each flow is defined once: a flow that two
// files define differently is an error (the same definition twice is
// not). The first file that fails stops the load: the files after it are
// still checked, so that the diagnostics name every file to fix at once,
// but none of them is loaded, and the error is the first file's.
func (e *Engine) LoadDir(dir string) (diag.List, error) {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	if err := recoverDir(dir); err != nil {
		return nil, fmt.Errorf("finishing the change of %s a crash interrupted: %w", dir, err)
	}
	// A file write a crash cut short left its temporary file (the file
	// itself is the old one or the new one).
	if gone, err := atomicfile.RemoveTemp(dir); err != nil {
		return nil, fmt.Errorf("removing the temporary files a crash left in %s: %w", dir, err)
	} else if len(gone) > 0 {
		e.log.Info("removed the temporary files a crash left in the flows directory", "dir", dir, "files", gone)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type dirFile struct {
		name, path string
		data       []byte
	}
	var files []dirFile
	for _, ent := range ents {
		name := ent.Name()
		if ent.IsDir() || isHidden(name) || !(strings.HasSuffix(name, ".json") || e.opts.FlowFile != nil && strings.HasSuffix(name, ".flow")) {
			continue
		}
		path := filepath.Join(filepath.Clean(dir), name)
		data, err := readDirFile(path)
		if err != nil {
			return nil, err
		}
		files = append(files, dirFile{name, path, data})
	}
	// What every file declares, for the calls of each (checkOptions): read
	// once, and only if a file calls a flow it does not declare; the
	// files' diagnostics come with their plans below.
	flows := sync.OnceValue(func() []*dsl.Flow {
		var out []*dsl.Flow
		for _, df := range files {
			if f, _ := e.read(df.path, df.data, dsl.CheckOptions{CallsByName: true}); f != nil {
				for _, fl := range f.Flows {
					if fl != nil {
						out = append(out, fl)
					}
				}
			}
		}
		return out
	})
	var all diag.List
	var failed error // the first file's that failed: the rest are only checked
	seen := map[string]dirFlow{}
	see := func(p *loadPlan, name string) { // the files after it check their flows against its
		for _, pf := range p.flows {
			if _, ok := seen[pf.name]; !ok {
				seen[pf.name] = dirFlow{file: name, src: pf.src}
			}
		}
	}
	for _, df := range files {
		name, path := df.name, df.path
		p, ds, err := e.plan(path, df.data, seen, flows)
		all = append(all, ds...)
		if failed == nil {
			failed = err
		}
		if failed != nil {
			if err == nil {
				all = append(all, e.providerWarnings(p)...)
				see(p, name)
			}
			continue
		}
		err = e.commit(p, "", false)
		all = append(all, e.providerWarnings(p)...)
		if err != nil {
			return all, err
		}
		e.mu.Lock()
		for _, pf := range p.flows {
			if fe := e.flows[pf.name]; fe != nil && !slices.Contains(fe.files, path) {
				fe.files = append(fe.files, path)
			}
		}
		e.mu.Unlock()
		see(p, name)
	}
	return all, failed
}

// isHidden reports whether a file of a flows directory is hidden: its name
// starts with ".", as editors name their lock and backup files beside the
// file they edit (Emacs's lock of Slow.json is .#Slow.json, a symbolic
// link to no file) and a copy from a Mac names resource forks
// (._Slow.json). The go command ignores such files too. A flow's own file
// is never one: its name is the flow's, an exported Go identifier.
func isHidden(name string) bool { return strings.HasPrefix(name, ".") }

// LoadFlowsDir makes Options.FlowsDir if it does not exist and loads it
// (LoadDir): what a service does at start so that it always comes back up
// on the flows it saved. Without FlowsDir it does nothing.
func (e *Engine) LoadFlowsDir() (diag.List, error) {
	dir := e.opts.FlowsDir
	if dir == "" {
		return nil, nil
	}
	if err := makeFlowsDir(dir); err != nil {
		return nil, fmt.Errorf("flows directory %s: %w", dir, err)
	}
	ds, err := e.LoadDir(dir)
	if err != nil {
		return ds, fmt.Errorf("loading flows from %s: %w", dir, err)
	}
	return ds, nil
}

// checkCaller reports the flows of f that call services when the engine
// has no Caller: they would fail at their first call, after the steps
// before it ran (a charged card, then "not configured").
func (e *Engine) checkCaller(f *dsl.File) diag.List {
	if e.caller != nil {
		return e.checkServices(f)
	}
	var ds diag.List
	for _, fl := range f.Flows {
		if fl != nil && fl.Needs().Has(dsl.NeedCaller) {
			ds = append(ds, diag.Errorf(fl.NameRange, "no-caller", "flow %q calls services (rpc), but the engine has no Caller", fl.Name).
				WithHint("give the engine a Caller (engine.Options.Caller, such as httpcall.New); flowgen serve makes one from -service NAME=URL"))
		}
	}
	return ds
}

// checkServices warns about the services f calls that the engine's Caller
// says it cannot reach (httpcall with a Static resolver: serve's -service
// list): accepted, since the service may be configured later, but every
// run would fail at that step until then.
func (e *Engine) checkServices(f *dsl.File) diag.List {
	k, ok := e.caller.(interface{ Knows(string) bool })
	if !ok {
		return nil
	}
	var ds diag.List
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		for _, p := range fl.Ports() {
			if !k.Knows(p.Service) {
				ds = append(ds, diag.Warnf(p.Range, "unknown-service", "flow %q calls service %q, which the engine's Caller has no address for: its runs will fail at that step until it has one", fl.Name, p.Service).
					WithHint("give the service an address (flowgen serve: -service %s=URL)", p.Service))
			}
		}
	}
	return ds
}

// pick returns r, or else when r is not set.
func pick(r, or diag.Range) diag.Range {
	if r.Start.IsValid() {
		return r
	}
	return or
}
