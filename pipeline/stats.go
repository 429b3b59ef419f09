package pipeline

import "time"

// Stats summarises a run.
type Stats struct {
	// Wall is the duration of Run, from start until every goroutine had
	// exited.
	Wall time.Duration

	// In counts the items pulled from the source. Each ends in exactly
	// one of OK, Failed or Canceled, so In == OK + Failed + Canceled.
	In, OK, Failed, Canceled int

	Decode, Infer, Encode StageStats
}

// StageStats describes one stage's worker pool. Durations are summed over
// all workers of the stage, so for each stage
//
//	Busy + AdmitWait + Idle + Blocked <= Workers * Wall
//
// with the difference being the pipeline's own overhead.
type StageStats struct {
	Workers int

	// Items is the number of items the stage took on (admission tried or
	// stage function called), not counting items dropped because of
	// cancellation. Failed is how many of them failed here, Admit
	// failures and panics included; Items-Failed were passed on, or for
	// encode, succeeded or were cancelled in Encode.
	Items, Failed int

	// Busy is the total time spent inside the stage function.
	Busy time.Duration

	// AdmitWait and MaxAdmitWait are the total and longest time spent in
	// Stages.Admit. Only the infer stage has admission; they are zero
	// elsewhere.
	AdmitWait, MaxAdmitWait time.Duration

	// QueueWait and MaxQueueWait are the total and longest time items
	// waited for a worker of this stage (see Timings.DecodeWait).
	QueueWait, MaxQueueWait time.Duration

	// Idle is the total time workers waited for input: a large value
	// means the stage is starved by the stages before it.
	Idle time.Duration

	// Blocked is the total time workers waited to hand a finished item
	// on, because the next stage's queue (or, for encode, done) was
	// full: a large value means something downstream is slower.
	Blocked time.Duration
}

// Stage returns the statistics of one stage, or the zero value for an
// unknown stage.
func (s Stats) Stage(st Stage) StageStats {
	switch st {
	case StageDecode:
		return s.Decode
	case StageInfer:
		return s.Infer
	case StageEncode:
		return s.Encode
	}
	return StageStats{}
}

// Utilization is the fraction of its workers' time a stage spent working on
// items: (Busy + AdmitWait) / (Workers × Wall), between 0 and 1.
//
// Admission wait counts as occupied, because a worker waiting to be admitted
// holds an item and cannot take another — the stage is limited by its own
// resource (memory), not by its neighbours. Idle and Blocked time do not
// count: they are caused by the neighbours.
func (s Stats) Utilization(st Stage) float64 {
	ss := s.Stage(st)
	if ss.Workers == 0 || s.Wall <= 0 {
		return 0
	}
	return float64(ss.Busy+ss.AdmitWait) / (float64(ss.Workers) * float64(s.Wall))
}

// Bottleneck names the stage that limits throughput: the one with the
// highest Utilization, since adding workers there (or making it faster) is
// what would speed the run up. Ties go to the earlier stage. It returns ""
// if no stage did any work.
func (s Stats) Bottleneck() Stage {
	var (
		best Stage
		top  float64
	)
	for _, st := range stages {
		if u := s.Utilization(st); u > top {
			best, top = st, u
		}
	}
	return best
}

// merge sums the statistics of a pool's workers.
func merge(workers []StageStats) StageStats {
	var t StageStats
	for _, w := range workers {
		t.Workers += w.Workers
		t.Items += w.Items
		t.Failed += w.Failed
		t.Busy += w.Busy
		t.AdmitWait += w.AdmitWait
		t.MaxAdmitWait = max(t.MaxAdmitWait, w.MaxAdmitWait)
		t.QueueWait += w.QueueWait
		t.MaxQueueWait = max(t.MaxQueueWait, w.MaxQueueWait)
		t.Idle += w.Idle
		t.Blocked += w.Blocked
	}
	return t
}
