package ui

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress shows what each of several items (hosts, profiles) is doing, on
// stderr. On a terminal it keeps one live line per item (stage and elapsed
// time) at the bottom of the screen, with output lines scrolling above it;
// otherwise it prints plain "item: stage" lines. It is safe for concurrent use.
type Progress struct {
	io    *IO
	live  bool
	now   func() time.Time
	mu    sync.Mutex
	items []*progressItem
	byKey map[string]*progressItem
	// writers keep each name's partial line between writes.
	writers map[string]*progressWriter
	drawn   int
	paused  bool
	stop    chan struct{}
	done    chan struct{}
}

type progressItem struct {
	name     string
	stage    string
	start    time.Time
	end      time.Time
	finished bool
	result   string
	failed   bool
}

// NewProgress starts progress for names, in that order.
func NewProgress(o *IO, names []string) *Progress { return newProgress(o, names, time.Now) }

func newProgress(o *IO, names []string, now func() time.Time) *Progress {
	p := &Progress{io: o, live: o.ErrTTY && !o.Quiet, now: now, byKey: map[string]*progressItem{}, writers: map[string]*progressWriter{}}
	for _, n := range names {
		it := &progressItem{name: n, stage: "waiting", start: p.now()}
		p.items = append(p.items, it)
		p.byKey[n] = it
	}
	if p.live {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.tick()
	}
	return p
}

func (p *Progress) tick() {
	defer close(p.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.redraw()
			p.mu.Unlock()
		}
	}
}

// Stage says that name entered stage.
func (p *Progress) Stage(name, stage string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.item(name)
	it.stage = stage
	if p.live {
		p.redraw()
		return
	}
	p.plain(fmt.Sprintf("%s: %s", name, stage))
}

// Done says that name finished with result (failed colours it red).
func (p *Progress) Done(name, result string, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.item(name)
	it.finished, it.result, it.failed, it.end = true, result, failed, p.now()
	if p.live {
		p.redraw()
		return
	}
	p.plain(fmt.Sprintf("%s: %s (%s)", name, result, p.elapsed(it)))
}

// Line prints one output line of name above the live lines.
func (p *Progress) Line(name, line string) {
	if p.io.Quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	text := name + ": " + strings.TrimRight(line, "\n")
	if !p.live {
		p.plain(text)
		return
	}
	p.clear()
	fmt.Fprintln(p.io.Err, text)
	p.redraw()
}

// Writer returns a writer whose lines go to Line(name, …).
func (p *Progress) Writer(name string) io.Writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.writers[name]
	if !ok {
		w = &progressWriter{p: p, name: name}
		p.writers[name] = w
	}
	return w
}

// Pause takes the live lines off the screen while f runs (a question to
// the user, a plan printed before it), then draws them again below.
func (p *Progress) Pause(f func()) {
	p.mu.Lock()
	if p.live {
		p.clear()
	}
	p.paused = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.paused = false
		if p.live {
			p.redraw()
		}
		p.mu.Unlock()
	}()
	f()
}

// Close stops the live display, leaving the final lines on screen.
func (p *Progress) Close() {
	if !p.live {
		return
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redraw()
	p.drawn = 0
}

func (p *Progress) item(name string) *progressItem {
	it, ok := p.byKey[name]
	if !ok {
		it = &progressItem{name: name, start: p.now()}
		p.items = append(p.items, it)
		p.byKey[name] = it
	}
	return it
}

func (p *Progress) plain(line string) {
	if p.io.Quiet {
		return
	}
	fmt.Fprintln(p.io.Err, line)
}

func (p *Progress) elapsed(it *progressItem) string {
	end := it.end
	if !it.finished {
		end = p.now()
	}
	return end.Sub(it.start).Round(100 * time.Millisecond).String()
}

// clear moves the cursor to the first live line and erases to the end.
func (p *Progress) clear() {
	if p.drawn > 0 {
		fmt.Fprintf(p.io.Err, "\x1b[%dA\r\x1b[J", p.drawn)
		p.drawn = 0
	}
}

// stateWidth aligns the elapsed times of the live lines.
const stateWidth = 14

func (p *Progress) redraw() {
	if p.paused {
		return
	}
	p.clear()
	width := 0
	for _, it := range p.items {
		width = max(width, len(it.name))
	}
	var b bytes.Buffer
	for _, it := range p.items {
		state := it.stage
		if it.finished {
			state = p.io.Mark(!it.failed) + " " + it.result
		}
		fmt.Fprintf(&b, "%-*s  %-*s  %s\n", width, it.name, stateWidth, state, p.io.Paint(Dim, p.elapsed(it)))
	}
	_, _ = p.io.Err.Write(b.Bytes())
	p.drawn = len(p.items)
}

type progressWriter struct {
	p    *Progress
	name string
	mu   sync.Mutex
	buf  []byte
}

func (w *progressWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.p.Line(w.name, string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}
