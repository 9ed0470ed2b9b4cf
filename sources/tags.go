package sources

import "github.com/wallcast/wallcast/match"

func normTags(in []string) []string {
	var out []string
	for _, t := range in {
		if t = match.Tag(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
