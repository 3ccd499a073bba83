package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// UserModelsFile is the name of a PerUser shard's file of user deltas
// inside the run's OutputURI.
func UserModelsFile(shard int) string { return fmt.Sprintf("user-models-shard-%d.lcftu", shard) }

// User-models file format, integers little-endian:
//
//	magic         8 bytes  "LCFTUSR\x00"
//	version       uint32   1
//	header length uint32   n
//	header        n bytes  JSON UserModelsHeader
//	deltas                 each user's model.Delta encoding (AppendBinary),
//	                       in user order, back to back
//	index                  JSON UserModelsIndex: each user's offset and length
//	index length  uint64
//	magic         8 bytes  "LCFTUSR\x00"
//
// A user is found through the index at the end (read the last 16 bytes,
// then the index, then one range); the deltas decode against the global
// model named by the header's digest.
const (
	userModelsMagic   = "LCFTUSR\x00"
	userModelsVersion = 1
	maxUserModelsMeta = 64 << 20 // bytes of header or index
)

// UserModelsHeader describes the deltas of a file.
type UserModelsHeader struct {
	ModelURI     string `json:"modelURI"`
	ModelDigest  string `json:"modelDigest"` // the global model the deltas apply to
	Architecture string `json:"architecture"`
	Strategy     string `json:"strategy"` // the LCFT labels the users were fine-tuned with
	Scope        string `json:"scope"`    // All, Sparse or Patch
	Shard        int    `json:"shard"`
	Shards       int    `json:"shards"`
}

// UserModelsIndex lists a file's users.
type UserModelsIndex struct {
	Users []UserModelEntry `json:"users"`
}

// UserModelEntry locates one user's delta. RolledBack users (whose
// fine-tuning diverged) have an empty delta: they keep the global model.
type UserModelEntry struct {
	User       string `json:"user"`
	Offset     int64  `json:"offset"`
	Length     int64  `json:"length"`
	RolledBack bool   `json:"rolledBack,omitempty"`
}

// userModelsWriter writes the deltas of a shard's users in user order as
// they complete (out of order, from several workers): a completed user
// waits in pending until every earlier user is written, so the file's
// bytes do not depend on the worker count.
type userModelsWriter struct {
	mu      sync.Mutex
	w       *storage.Writer
	bw      *bufio.Writer
	uri     string
	header  UserModelsHeader
	users   []string // raw ids, in task order
	pending map[int]pendingDelta
	next    int
	offset  int64
	index   UserModelsIndex
	bytes   int64
	err     error
}

type pendingDelta struct {
	delta      []byte
	rolledBack bool
}

func newUserModelsWriter(ctx context.Context, uri string, h UserModelsHeader, users []string) (*userModelsWriter, error) {
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encoding the user models header: %w", err)
	}
	w, err := storage.Create(ctx, uri)
	if err != nil {
		return nil, storageError(err, "creating %s", uri)
	}
	u := &userModelsWriter{w: w, bw: bufio.NewWriterSize(w, 1<<16), uri: uri, header: h, users: users, pending: map[int]pendingDelta{}}
	var pre [16]byte
	copy(pre[:8], userModelsMagic)
	binary.LittleEndian.PutUint32(pre[8:], userModelsVersion)
	binary.LittleEndian.PutUint32(pre[12:], uint32(len(hb)))
	u.write(pre[:])
	u.write(hb)
	return u, nil
}

func (u *userModelsWriter) write(p []byte) {
	if u.err != nil {
		return
	}
	n, err := u.bw.Write(p)
	u.offset += int64(n)
	if err != nil {
		u.err = storageError(err, "writing %s", u.uri)
	}
}

// put records task i's delta (nil and rolledBack when its fine-tuning
// diverged) and writes every delta that is now in order.
func (u *userModelsWriter) put(i int, delta []byte, rolledBack bool) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.pending[i] = pendingDelta{delta: delta, rolledBack: rolledBack}
	for {
		p, ok := u.pending[u.next]
		if !ok {
			break
		}
		delete(u.pending, u.next)
		u.index.Users = append(u.index.Users, UserModelEntry{User: u.users[u.next], Offset: u.offset, Length: int64(len(p.delta)), RolledBack: p.rolledBack})
		u.bytes += int64(len(p.delta))
		u.write(p.delta)
		u.next++
	}
	return u.err
}

// close writes the index and trailer and closes the file; abort drops it.
func (u *userModelsWriter) close() error {
	if u.next != len(u.users) && u.err == nil {
		u.err = fmt.Errorf("user models: %d of %d users written", u.next, len(u.users))
	}
	ib, err := json.Marshal(u.index)
	if err != nil && u.err == nil {
		u.err = fmt.Errorf("encoding the user models index: %w", err)
	}
	u.write(ib)
	var tail [16]byte
	binary.LittleEndian.PutUint64(tail[:8], uint64(len(ib)))
	copy(tail[8:], userModelsMagic)
	u.write(tail[:])
	if u.err == nil {
		if err := u.bw.Flush(); err != nil {
			u.err = storageError(err, "writing %s", u.uri)
		}
	}
	if u.err != nil {
		u.w.Abort()
		return u.err
	}
	if err := u.w.Close(); err != nil {
		return storageError(err, "closing %s", u.uri)
	}
	return nil
}

// abort drops the file; nil-safe.
func (u *userModelsWriter) abort() {
	if u != nil {
		u.w.Abort()
	}
}

// UserModels is a read user-models file.
type UserModels struct {
	Header UserModelsHeader
	Index  UserModelsIndex
	data   []byte
	byUser map[string]int
}

// ReadUserModels reads and checks a user-models file.
func ReadUserModels(ctx context.Context, uri string) (*UserModels, error) {
	b, err := storage.ReadAll(ctx, uri)
	if err != nil {
		return nil, storageError(err, "reading the user models %s", uri)
	}
	um, err := parseUserModels(b)
	if err != nil {
		return nil, badInput("user models %s: %w", uri, err)
	}
	return um, nil
}

func parseUserModels(b []byte) (*UserModels, error) {
	if len(b) < 32 || string(b[:8]) != userModelsMagic || string(b[len(b)-8:]) != userModelsMagic {
		return nil, fmt.Errorf("not a user-models file (magic)")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != userModelsVersion {
		return nil, fmt.Errorf("unsupported version %d", v)
	}
	hl := uint64(binary.LittleEndian.Uint32(b[12:]))
	il := binary.LittleEndian.Uint64(b[len(b)-16:])
	if hl > maxUserModelsMeta || il > maxUserModelsMeta || 16+hl+il+16 > uint64(len(b)) {
		return nil, fmt.Errorf("header (%d bytes) or index (%d bytes) does not fit the file (%d bytes)", hl, il, len(b))
	}
	um := &UserModels{data: b, byUser: map[string]int{}}
	if err := strictJSON(b[16:16+hl], &um.Header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	start, end := int64(16+hl), int64(uint64(len(b))-16-il)
	if err := strictJSON(b[end:int64(len(b))-16], &um.Index); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	for i, e := range um.Index.Users {
		if e.Offset < start || e.Length < 0 || e.Offset+e.Length > end || e.Offset+e.Length < e.Offset {
			return nil, fmt.Errorf("user %q: bytes [%d, %d) outside the deltas [%d, %d)", e.User, e.Offset, e.Offset+e.Length, start, end)
		}
		if _, dup := um.byUser[e.User]; dup {
			return nil, fmt.Errorf("user %q listed twice", e.User)
		}
		um.byUser[e.User] = i
	}
	return um, nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON")
	}
	return nil
}

// Delta decodes user's delta against m (the global model of the header's
// digest); ok is false when the file does not hold the user. A nil delta
// with ok true is a rolled-back user, who keeps the global model.
func (um *UserModels) Delta(user string, m *model.Model) (d *model.Delta, ok bool, err error) {
	i, ok := um.byUser[user]
	if !ok {
		return nil, false, nil
	}
	e := um.Index.Users[i]
	if e.RolledBack {
		return nil, true, nil
	}
	d, err = model.DecodeDelta(um.data[e.Offset:e.Offset+e.Length], m)
	if err != nil {
		return nil, true, badInput("user %q: %w", user, err)
	}
	return d, true, nil
}

// UserModelsSummary describes the user-models file a shard saved.
type UserModelsSummary struct {
	URI        string `json:"uri"`
	Users      int    `json:"users"`      // users in the index
	RolledBack int    `json:"rolledBack"` // of them, kept the global model (empty delta)
	Bytes      int64  `json:"bytes"`      // of the deltas
	Scope      string `json:"scope"`
}

// startUserModels opens the shard's user-models file for tasks, whose keep
// arm is the LCFT arm of the spec's strategy.
func startUserModels(ctx context.Context, spec *runspec.Spec, shard int, m *model.Model, digest string, tasks []userTask) (*userModelsWriter, error) {
	users := make([]string, len(tasks))
	for i := range tasks {
		users[i] = tasks[i].raw
	}
	h := UserModelsHeader{ModelURI: spec.GlobalModel.URI, ModelDigest: digest, Architecture: m.Config().Arch, Strategy: spec.Correction.Strategy,
		Scope: orDefault(spec.Optimization.Scope, runspec.ScopeAll), Shard: shard, Shards: spec.Shards}
	return newUserModelsWriter(ctx, storage.Join(spec.OutputURI, UserModelsFile(shard)), h, users)
}

// sink is put as runPerUser takes it; nil for a nil writer.
func (u *userModelsWriter) sink() func(int, []byte, bool) error {
	if u == nil {
		return nil
	}
	return u.put
}

// finish closes the file and summarises it; nil for a nil writer.
func (u *userModelsWriter) finish(lg *logger) (*UserModelsSummary, error) {
	if u == nil {
		return nil, nil
	}
	if err := u.close(); err != nil {
		return nil, err
	}
	s := &UserModelsSummary{URI: u.uri, Users: len(u.index.Users), Bytes: u.bytes, Scope: u.header.Scope}
	for _, e := range u.index.Users {
		if e.RolledBack {
			s.RolledBack++
		}
	}
	lg.printf("saved %d user models (%d rolled back to the global model), %d bytes of deltas (%.0f per user), to %s",
		s.Users, s.RolledBack, s.Bytes, float64(s.Bytes)/float64(max(s.Users, 1)), s.URI)
	return s, nil
}
