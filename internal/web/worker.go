package web

import "context"

// MirrorWorkers is implemented by a Queue that knows which worker syncs
// each mirror (the mirror's home worker, or the one syncing it now).
type MirrorWorkers interface {
	// MirrorWorker returns the worker syncing mirror now (syncing true) or
	// its home worker ("" when no worker is up).
	MirrorWorker(ctx context.Context, mirror string) (worker string, syncing bool, err error)
}

// addWorker fills in mi's worker when the queue can tell.
func (s *Server) addWorker(ctx context.Context, mi *MirrorInfo) {
	mw, ok := s.queue.(MirrorWorkers)
	if !ok {
		return
	}
	w, syncing, err := mw.MirrorWorker(ctx, mi.Name)
	if err != nil {
		s.log.Warn("mirror worker", "mirror", mi.Name, "err", err)
		return
	}
	mi.Worker, mi.WorkerSyncing = w, syncing
}
