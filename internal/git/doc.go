// Package git writes Git objects and packs natively and runs the git program
// safely for everything that talks to other repositories.
//
// Objects: HashObject, EncodeTree and EncodeCommit produce the bytes Git and
// dulwich (hence hg-git) produce, so commit hashes computed here equal
// hg-git's; an ObjectType names an object's type. ApplyDelta reads a Git
// delta as dulwich does. PackWriter streams objects into a new pack with its
// index (pack_index_writer.go, beside the reader in pack_index_reader.go) and
// installs both atomically; ObjectSet and ObjectExists tell which objects a
// repository already holds (loose or packed), so incremental runs write only
// what is new. EnsureBare creates a local destination repository and
// Runner.FixHead points its HEAD at a branch it has.
//
// Runner runs git for push, fetch, ls-remote, ref updates and ancestry
// checks: no shell, "--" before positional arguments, remotes checked
// against an allowlist before git runs, credentials in the environment only,
// a timeout, and failures classified (ErrNonFastForward, ErrAuth,
// ErrNotFound, ErrNetwork, ...) so callers can decide between a bad request,
// giving up and retrying.
package git
