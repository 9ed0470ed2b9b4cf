package sources

import "github.com/wallcast/wallcast/ingest"

func normTags(in []string) []string {
	var out []string
	for _, t := range in {
		if t = ingest.Tag(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
