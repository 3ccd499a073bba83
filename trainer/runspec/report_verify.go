package runspec

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrReportDigestMismatch is wrapped by VerifyShardReport's error when the
// report's bytes are not the ones whose digest the shard's pod reported.
var ErrReportDigestMismatch = errors.New("report digest mismatch")

// MaxReportBytes bounds what is read of one shard report.
const MaxReportBytes = 64 << 20

// ReportDigest is the digest a summary's ReportDigest holds for b:
// "sha256:<hex>".
func ReportDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// VerifyShardReport checks the bytes b of the report at uri against the
// digest recorded for shard (the one its pod reported) and returns the
// summary the pod would have written. The controller (file:// stores) and
// the trainer's collect command (stores only the trainer pods can read)
// check reports with it.
func VerifyShardReport(b []byte, uri string, shard int, digest string) (*Summary, error) {
	if got := ReportDigest(b); got != digest {
		return nil, fmt.Errorf("shard %d: the report %s has digest %s, its pod reported %s: not used: %w", shard, uri, got, digest, ErrReportDigestMismatch)
	}
	rep, err := DecodeShardReport(b)
	if err != nil {
		return nil, fmt.Errorf("shard %d: %s: %w", shard, uri, err)
	}
	if rep.Shard != shard {
		return nil, fmt.Errorf("shard %d: the report %s is of shard %d", shard, uri, rep.Shard)
	}
	return rep.AsSummary(uri, digest), nil
}
