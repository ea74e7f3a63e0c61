package ui

import (
	"bytes"
	"io"
	"sync"
)

// PrefixWriter writes each line to W with Prefix in front. Lines from several
// writers sharing one W stay whole because writes go through one mutex.
type PrefixWriter struct {
	W      io.Writer
	Prefix string
	Mu     *sync.Mutex
	buf    []byte
}

// NewPrefixWriter returns a writer prefixing lines; mu may be shared.
func NewPrefixWriter(w io.Writer, prefix string, mu *sync.Mutex) *PrefixWriter {
	if mu == nil {
		mu = &sync.Mutex{}
	}
	return &PrefixWriter{W: w, Prefix: prefix, Mu: mu}
}

func (p *PrefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		if err := p.emit(p.buf[:i+1]); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// Flush writes a last unterminated line.
func (p *PrefixWriter) Flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	line := append(p.buf, '\n')
	p.buf = nil
	return p.emit(line)
}

func (p *PrefixWriter) emit(line []byte) error {
	p.Mu.Lock()
	defer p.Mu.Unlock()
	_, err := p.W.Write(append([]byte(p.Prefix), line...))
	return err
}
