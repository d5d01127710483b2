package git

import (
	"context"
	"fmt"
)

// ReadObject returns the body of object h of type t in the repository
// gitDir, as stored (`git cat-file TYPE SHA`: a tree's entries with their
// modes as written, unlike ls-tree, which shows them made canonical).
func (r *Runner) ReadObject(ctx context.Context, gitDir string, t ObjectType, h Hash) ([]byte, error) {
	switch t {
	case CommitObject, TreeObject, BlobObject, TagObject:
	default:
		return nil, fmt.Errorf("git cat-file: invalid object type %d", t)
	}
	return r.run(ctx, "cat-file", "", gitDir, nil, []string{"--git-dir=" + gitDir, "cat-file", t.String(), h.String()})
}
