package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"animegan/model"
)

// Options is everything one convert run needs. The command fills it from
// flags; ApplyDefaults explains each default.
type Options struct {
	Inputs []string // photos and folders to walk
	// List are files named one by one (--files-from), taken as given
	// (CollectList); FromList says a list was given, even an empty one.
	// Their outputs mirror their paths below ListRoot ("" = the working
	// directory).
	List     []string
	FromList bool
	ListRoot string

	OutDir    string
	ModelName string // shown to the user: a path or "built-in"
	ModelData []byte
	Overrides model.Overrides
	ORTLib    string // --ort-lib; "" searches the usual places

	MaxSide   int          // longest side fed to the model; 0 = original
	KeepSize  bool         // scale the result back to the input's size
	Format    OutputFormat // FormatKeep: by input
	Quality   int          // JPEG and WebP quality
	Metadata  MetadataMode // copy EXIF, XMP and IPTC into outputs, or not
	Colour    ColourMode   // the colour space of outputs of photos with a profile
	MaxPixels int64        // reject larger images from their header
	Timeout   time.Duration

	MemBudget int64 // bytes for inferences in flight; 0 = DefaultBudget, <0 = none
	// Tile says which images run as tiles: --tile auto (the zero value:
	// those the budget cannot hold whole), off, or a tile side.
	Tile TileOptions

	Jobs     Jobs
	JobsFrom string // why Jobs: reported in the summary ("" = the core-count default)
	Threads  int    // intra-op threads per inference worker; 0 = cores / workers
	Cores    int    // 0 = runtime.GOMAXPROCS(0): the CPUs this process may use, a container's CPU limit included

	Overwrite bool
	FailFast  bool
	Shard     Shard // the part of the inputs this process converts
	// DryRun plans without writing anything: Summary.Plan says what a run
	// would do with each input.
	DryRun bool
}

// Defaults the command and the docs share.
const (
	// DefaultOutDir is where results go without -o: a new folder in the
	// working directory, never the input folder, so a run cannot touch
	// its own inputs.
	DefaultOutDir = "animegan-out"
	// DefaultMaxSide keeps CPU inference practical: an AnimeGANv2-sized
	// model takes ~3.5 s and 0.8 GB at 512x512 on two cores but ~16 s and
	// 3.6 GB at 1024x1024. 1024 keeps detail for typical 1-8 MP photos;
	// AnimeGAN's own tools cap at 1280.
	DefaultMaxSide = 1024
	// DefaultQuality matches common photo tools.
	DefaultQuality = 92
	// DefaultMaxPixels (100 MP) admits any camera photo and rejects
	// decompression bombs before their pixels are allocated.
	DefaultMaxPixels = 100_000_000
)

// ApplyDefaults fills what the caller left zero.
func (o *Options) ApplyDefaults() {
	if o.Cores <= 0 {
		o.Cores = runtime.GOMAXPROCS(0)
	}
	if o.Jobs == (Jobs{}) {
		o.Jobs = DefaultJobs(o.Cores)
		o.JobsFrom = "core-count default " + o.Jobs.String()
	}
	if o.OutDir == "" {
		o.OutDir = DefaultOutDir
	}
	if o.Quality == 0 {
		o.Quality = DefaultQuality
	}
	if o.MaxPixels == 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.Metadata == "" {
		o.Metadata = MetadataKeep
	}
	if o.Colour == "" {
		o.Colour = ColourSRGB
	}
	if o.FromList && o.ListRoot == "" {
		o.ListRoot = "."
	}
}

// MetadataMode says what of a photo's metadata its output gets.
type MetadataMode string

const (
	// MetadataKeep copies EXIF (Orientation reset to 1, dimensions made
	// the output's, thumbnail dropped), XMP and IPTC: the date, the camera
	// and the GPS position stay with the photo.
	MetadataKeep MetadataMode = "keep"
	// MetadataStrip writes none of it, GPS included.
	MetadataStrip MetadataMode = "strip"
)

// ParseMetadataMode reads a --metadata value.
func ParseMetadataMode(s string) (MetadataMode, error) {
	switch m := MetadataMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return MetadataKeep, nil
	case MetadataKeep, MetadataStrip:
		return m, nil
	}
	return "", fmt.Errorf("--metadata %q: want keep or strip", s)
}

// Validate reports option values no run can use (exit status 2).
func (o *Options) Validate() error {
	switch {
	case len(o.Inputs) == 0 && !o.FromList:
		return fmt.Errorf("no inputs: name at least one photo or folder")
	case len(o.ModelData) == 0:
		return fmt.Errorf("no model data")
	case o.MaxSide < 0:
		return fmt.Errorf("--max-size %d: must be 0 (original size) or positive", o.MaxSide)
	case o.Quality < 1 || o.Quality > 100:
		return fmt.Errorf("--quality %d: must be 1..100", o.Quality)
	case o.Colour != ColourSRGB && o.Colour != ColourInput:
		return fmt.Errorf("--color %q: want srgb or input", string(o.Colour))
	case o.Metadata != MetadataKeep && o.Metadata != MetadataStrip:
		return fmt.Errorf("--metadata %q: want keep or strip", string(o.Metadata))
	case o.Threads < 0:
		return fmt.Errorf("--threads %d: must be positive", o.Threads)
	case o.Timeout < 0:
		return fmt.Errorf("--timeout %s: must be positive", o.Timeout)
	case o.Jobs.Decode < 1 || o.Jobs.Infer < 1 || o.Jobs.Encode < 1:
		return fmt.Errorf("-j %s: every pool needs at least one worker", o.Jobs)
	}
	return nil
}

// SessionOptions are the ONNX Runtime settings each inference worker gets.
func (o *Options) SessionOptions() model.SessionOptions {
	so := model.DefaultSessionOptions(o.Jobs.Infer, o.Cores)
	if o.Threads > 0 {
		so.IntraOpThreads = o.Threads
	}
	return so
}

// EngineOptions are the engine settings a run with o uses: the one place
// the flags turn into them, for convert and for each level of a profile.
func (o *Options) EngineOptions() EngineOptions {
	return EngineOptions{
		MaxSide: o.MaxSide, KeepSize: o.KeepSize, MaxPixels: o.MaxPixels, Quality: o.Quality,
		Timeout: o.Timeout, Workers: o.Jobs.Infer, Session: o.SessionOptions(), MemBudget: o.MemBudget,
		AutoThreads: o.Threads == 0, Cores: o.Cores, KeepMetadata: o.Metadata != MetadataStrip,
		ColourInput: o.Colour == ColourInput, Tile: o.Tile,
	}
}

// fingerprint identifies everything that changes an output's pixels or
// bytes: the model and the size, format and range choices. Worker counts
// and threads do not change results, so they are left out and a re-run with
// another -j still resumes.
func fingerprint(o *Options, spec *model.Spec, format OutputFormat) string {
	quality := 0 // PNG outputs do not depend on --quality
	if format == FormatJPEG || format == FormatWebP {
		quality = o.Quality
	}
	h := sha256.New()
	h.Write(o.ModelData)
	fmt.Fprintf(h, "|max=%d|keep=%t|fmt=%s|q=%d|range=%s|mult=%d|meta=%s",
		o.MaxSide, o.KeepSize, format, quality, spec.Range, spec.Multiple, o.Metadata)
	fmt.Fprintf(h, "|color=%s", o.Colour)
	// Tiles change pixels too (a little for models that tile exactly,
	// more with thumbnail statistics), but not every output of a run with
	// --tile flags is made as tiles, nor every output of --tile auto made
	// whole: each record says how its output was made (Record.Tiling) and
	// tilingCurrent compares that, not the fingerprint.
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// tileSettings is what a record made as tiles keeps of --tile and
// --tile-overlap: a re-run with other values makes other tiles.
func tileSettings(t TileOptions) string {
	return fmt.Sprintf("tile=%s|overlap=%s", t, t.OverlapString())
}

// parseTileSettings reads tileSettings back.
func parseTileSettings(s string) (TileOptions, error) {
	tile, overlap, ok := strings.Cut(s, "|")
	tile, ok1 := strings.CutPrefix(tile, "tile=")
	overlap, ok2 := strings.CutPrefix(overlap, "overlap=")
	if !ok || !ok1 || !ok2 {
		return TileOptions{}, fmt.Errorf("tile settings %q: want tile=...|overlap=...", s)
	}
	t, err := ParseTile(tile)
	if err != nil {
		return TileOptions{}, err
	}
	if overlap != "model" {
		if t.Overlap, err = strconv.Atoi(overlap); err != nil {
			return TileOptions{}, fmt.Errorf("tile settings %q: %w", s, err)
		}
		t.OverlapSet = true
	}
	return t, nil
}

func modelHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
