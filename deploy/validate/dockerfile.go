package validate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Instruction is one Dockerfile instruction with its continuation lines joined.
type Instruction struct {
	Line int
	Cmd  string // upper case: FROM, RUN, COPY, ...
	Args string
}

// ParseDockerfile splits a Dockerfile into instructions (comments and parser directives dropped).
func ParseDockerfile(r io.Reader) ([]Instruction, error) {
	var (
		out  []Instruction
		cur  strings.Builder
		from int
	)
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // a comment inside a continued instruction
		}
		if cur.Len() == 0 {
			from = n
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, Instruction{Line: from, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if cur.Len() > 0 {
		return nil, errors.New("dockerfile ends inside a continued line")
	}
	return out, nil
}

var fromRe = regexp.MustCompile(`^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$`)

// CheckDockerfile holds the image to its promises: pinned bases, a static trimmed build, a final stage
// on distroless static (or scratch) that runs as a numeric non-root user.
func CheckDockerfile(ins []Instruction) error {
	var (
		errs      []error
		stages    []string
		final     string
		finalUser string
		builds    []Instruction
		cgoOff    bool
	)
	bad := func(in Instruction, format string, args ...any) {
		errs = append(errs, fmt.Errorf("line %d: %s", in.Line, fmt.Sprintf(format, args...)))
	}
	for _, in := range ins {
		switch in.Cmd {
		case "FROM":
			m := fromRe.FindStringSubmatch(strings.Join(strings.Fields(strings.ReplaceAll(in.Args, " as ", " AS ")), " "))
			if m == nil {
				bad(in, "unreadable FROM %q", in.Args)
				continue
			}
			image := m[1]
			if !slices.Contains(stages, image) && image != "scratch" {
				_, tag, ok := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
				if (!ok || tag == "latest") && !strings.Contains(image, "@sha256:") {
					bad(in, "base image %s needs a fixed tag", image)
				}
			}
			stages = append(stages, m[2])
			final, finalUser = image, ""
		case "USER":
			finalUser = in.Args
		case "ENV", "ARG":
			if strings.Contains(in.Args, "CGO_ENABLED=0") {
				cgoOff = true
			}
		case "RUN":
			if strings.Contains(in.Args, "go build") {
				builds = append(builds, in)
				if strings.Contains(in.Args, "CGO_ENABLED=0") {
					cgoOff = true
				}
			}
		case "COPY":
			for f := range strings.FieldsSeq(in.Args) {
				if src, ok := strings.CutPrefix(f, "--from="); ok && !slices.Contains(stages, src) {
					bad(in, "COPY --from=%s names no earlier stage", src)
				}
			}
		}
	}
	if len(builds) == 0 {
		errs = append(errs, errors.New("no RUN go build"))
	}
	for _, b := range builds {
		if !strings.Contains(b.Args, "-trimpath") {
			bad(b, "go build needs -trimpath")
		}
		if !regexp.MustCompile(`-ldflags=?["']?[^"']*-s -w`).MatchString(b.Args) {
			bad(b, `go build needs -ldflags "-s -w"`)
		}
	}
	if !cgoOff {
		errs = append(errs, errors.New("the build must set CGO_ENABLED=0 (the final image has no libc)"))
	}
	if final != "scratch" && !strings.HasPrefix(final, "gcr.io/distroless/static") {
		errs = append(errs, fmt.Errorf("final stage %s is neither distroless static nor scratch", final))
	}
	uid, _, _ := strings.Cut(finalUser, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		errs = append(errs, fmt.Errorf("final stage must set USER to a numeric non-root uid, has %q", finalUser))
	}
	return errors.Join(errs...)
}
