// k8syaml reads a stream of YAML documents the way kubectl and Helm do (sigs.k8s.io/yaml on
// go-yaml v2, YAML 1.1 scalars) and prints one JSON value per document, one per line
// ("null" for an empty or comment-only document). It is the tests' independent reader:
// skyhelm never checks its own output with its own parser.
//
// Documents are split at lines that start with "---" followed by white space or the end of
// the line, as YAML defines document markers. Exit status 1 with the error on stderr when a
// document does not decode.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"
)

func isMarker(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var docs [][]byte
	var cur []byte
	r := bufio.NewReader(bytes.NewReader(in))
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if isMarker(line) && len(cur) > 0 {
				docs = append(docs, cur)
				cur = nil
			}
			cur = append(cur, line...)
		}
		if err != nil {
			break
		}
	}
	if len(cur) > 0 {
		docs = append(docs, cur)
	}
	out := bufio.NewWriter(os.Stdout)
	for i, d := range docs {
		j, err := yaml.YAMLToJSON(d)
		if err != nil {
			fmt.Fprintf(os.Stderr, "document %d: %v\n", i, err)
			os.Exit(1)
		}
		out.Write(j)
		out.WriteString("\n")
	}
	out.Flush()
}
