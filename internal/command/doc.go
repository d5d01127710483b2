// Package command runs the external programs Synchroniser drives (hg, git)
// one way: never through a shell, with a deadline, in a process group that
// is killed as a whole when the deadline passes or the context ends, with
// stdout bounded, only the end of stderr kept, secrets and URL credentials
// redacted from whatever is shown, and one debug log line per command.
//
// It owns the redaction rules of the tree: Redact for a URL given by a
// user, RedactText for a program's message.
package command
