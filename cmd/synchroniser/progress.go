package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows conversion progress: a bar on a terminal, a line every 10%
// or 2 seconds otherwise.
type progress struct {
	w        io.Writer
	tty      bool
	bar      *progressbar.ProgressBar
	lastPct  int
	lastTime time.Time
	done     int
	total    int
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, lastPct: -1}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) update(done, total int) {
	p.done, p.total = done, total
	if total <= 0 {
		return
	}
	if p.tty {
		if p.bar == nil {
			p.bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription("converting"),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("changesets"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		p.bar.Set(done)
		return
	}
	pct := done * 100 / total
	now := time.Now()
	if pct/10 > p.lastPct/10 || now.Sub(p.lastTime) >= 2*time.Second || done == total {
		if done == total && p.lastPct == 100 {
			return
		}
		p.lastPct, p.lastTime = pct, now
		fmt.Fprintf(p.w, "converted %d/%d changesets (%d%%)\n", done, total, pct)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
