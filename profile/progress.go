package profile

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress is an Observer that shows the sweep on w (the command's
// stderr): on a terminal one line redrawn with the level, its elapsed time
// and the last window's img/s; otherwise a line per finished level.
type Progress struct {
	w      io.Writer
	tty    bool
	levels int

	mu      sync.Mutex
	i, jobs int
	started time.Time
	last    string
	done    chan struct{}
	once    sync.Once
}

// NewProgress starts a Progress for a sweep of levels levels; tty says
// whether w is a terminal.
func NewProgress(w io.Writer, tty bool, levels int) *Progress {
	p := &Progress{w: w, tty: tty, levels: levels, done: make(chan struct{})}
	if tty {
		go func() {
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-p.done:
					return
				case <-t.C:
					p.mu.Lock()
					p.draw()
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

// Stop ends the terminal redraw; call it before printing the report.
func (p *Progress) Stop() {
	p.once.Do(func() { close(p.done) })
}

func (p *Progress) draw() {
	if p.jobs == 0 {
		return
	}
	fmt.Fprintf(p.w, "\r\033[K-j %d (level %d/%d)  %5.1fs  %s", p.jobs, p.i+1, p.levels, time.Since(p.started).Seconds(), p.last)
}

func (p *Progress) LevelStart(i, n, jobs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.i, p.jobs, p.started, p.last = i, jobs, time.Now(), "starting"
	if p.tty {
		p.draw()
	}
}

func (p *Progress) LevelEvent(jobs int, e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Type {
	case "warm":
		p.last = "warmed up, measuring"
	case "window":
		p.last = fmt.Sprintf("window: %.2f img/s", e.Window.IPS)
	}
	if p.tty {
		p.draw()
	}
}

func (p *Progress) LevelDone(l *Level) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	p.jobs = 0
	fmt.Fprintf(p.w, "-j %d: %.2f ± %.2f img/s, peak RSS %s, %s (%.1fs)\n",
		l.Jobs, l.IPS, l.Spread, Bytes(l.RSSPeak), l.Status, l.Seconds)
}
