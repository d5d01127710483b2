package mirror

import (
	"bytes"
	"encoding/json"
	"testing"
)

// loggedCommand is a command the runners logged (git's and hg's "command"
// debug lines).
type loggedCommand struct {
	Program string   `json:"program"`
	Op      string   `json:"op"`
	Args    []string `json:"args"`
	Remote  string   `json:"remote"`
}

// loggedCommands decodes the commands in a JSON log (slog.NewJSONHandler
// at debug level), in the order they ran.
func loggedCommands(t *testing.T, log []byte) []loggedCommand {
	t.Helper()
	var out []loggedCommand
	for _, line := range bytes.Split(log, []byte("\n")) {
		var rec struct {
			Msg string `json:"msg"`
			loggedCommand
		}
		if len(line) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Msg == "command" {
			out = append(out, rec.loggedCommand)
		}
	}
	return out
}

// pushed returns the refspecs of a logged git push (the arguments after
// the remote, which follows "--").
func (c loggedCommand) pushed() []string {
	for i, a := range c.Args {
		if a == "--" && i+1 < len(c.Args) {
			return c.Args[i+2:]
		}
	}
	return nil
}
