package model

// A PRIVATE STAND-IN for i15-graph's model-side tiling (Exact mode only),
// with the contract's API; removed when that branch is merged.

import (
	"context"
	"image"
)

type TileMode int

const (
	TileRefused TileMode = iota
	TileExact
	TileThumbnail
)

type Tiler struct {
	spec *Spec
	data []byte
}

func NewTiler(spec *Spec, data []byte) (*Tiler, error) { return &Tiler{spec: spec, data: data}, nil }
func (t *Tiler) Mode() TileMode                        { return TileExact }
func (t *Tiler) NeedsStats() bool                      { return false }
func (t *Tiler) Overlap() int                          { return 16 }

type Stats struct{}

type StatsSession struct{ s *Session }

func (t *Tiler) NewStatsSession(opts SessionOptions) (*StatsSession, error) {
	s, err := NewSession(t.spec, t.data, opts)
	return &StatsSession{s}, err
}
func (s *StatsSession) Run(ctx context.Context, thumb *image.NRGBA) (*Stats, error) {
	return &Stats{}, nil
}
func (s *StatsSession) Close() error            { return s.s.Close() }
func (s *StatsSession) Options() SessionOptions { return s.s.Options() }

type TileSession struct{ s *Session }

func (t *Tiler) NewTileSession(opts SessionOptions) (*TileSession, error) {
	s, err := NewSession(t.spec, t.data, opts)
	if err != nil {
		return nil, err
	}
	return &TileSession{s}, nil
}
func (s *TileSession) Run(ctx context.Context, tile *image.NRGBA, st *Stats) (*image.NRGBA, error) {
	return s.s.Run(ctx, tile)
}
func (s *TileSession) Close() error            { return s.s.Close() }
func (s *TileSession) Options() SessionOptions { return s.s.Options() }
