package convert

import (
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/wasmbox/wasmbox/internal/envlist"
)

// predefinedArgs are the ARGs Docker defines without a declaration: the
// target platform of every box, the platform building it, and the proxy
// settings (which only --build-arg can set).
func predefinedArgs() map[string]string {
	return map[string]string{
		"TARGETPLATFORM": "wasip1/wasm",
		"TARGETOS":       "wasip1",
		"TARGETARCH":     "wasm",
		"TARGETVARIANT":  "",
		"BUILDPLATFORM":  runtime.GOOS + "/" + runtime.GOARCH,
		"BUILDOS":        runtime.GOOS,
		"BUILDARCH":      runtime.GOARCH,
		"BUILDVARIANT":   "",
	}
}

var proxyArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true, "ALL_PROXY": true, "all_proxy": true,
}

// evalMetaArgs evaluates the ARGs before the first FROM, which FROM lines
// may use (and stages may redeclare to use).
func (b *builder) evalMetaArgs() error {
	b.usedArgs = map[string]bool{}
	for k, v := range predefinedArgs() {
		b.globalArgs = append(b.globalArgs, k+"="+v)
	}
	sort.Strings(b.globalArgs)
	for _, a := range b.metaArgs {
		for _, kv := range a.Args {
			v, err := b.argValue(kv, b.globalArgs, nil)
			if err != nil {
				return atLocation(b.file, a.Location(), fmt.Errorf("ARG %s: %w", kv.Key, err))
			}
			b.globalArgs = envlist.Set(b.globalArgs, kv.Key, v)
		}
	}
	return nil
}

// argValue is the value an ARG declaration takes: the --build-arg, else
// its default expanded with env, else the global value of the same name.
func (b *builder) argValue(kv instructions.KeyValuePairOptional, env []string, global []string) (string, error) {
	if v, ok := b.opts.buildArgs[kv.Key]; ok {
		b.mu.Lock()
		b.usedArgs[kv.Key] = true
		b.mu.Unlock()
		return v, nil
	}
	if kv.Value != nil {
		return b.expander(env)(*kv.Value)
	}
	v, _ := envlist.Lookup(global, kv.Key)
	return v, nil
}

// dispatchArg declares build arguments in the stage: usable in the
// instructions that follow and in RUN's environment, not kept in the box.
func (s *stage) dispatchArg(c *instructions.ArgCommand) error {
	for _, kv := range c.Args {
		v, err := s.b.argValue(kv, s.expandEnv(), s.b.globalArgs)
		if err != nil {
			return fmt.Errorf("ARG %s: %w", kv.Key, err)
		}
		s.args = envlist.Set(s.args, kv.Key, v)
	}
	return nil
}

// expandEnv is what $VAR means in an instruction: the stage's ARGs, then
// its ENV (an ENV of the same name wins, as in Docker).
func (s *stage) expandEnv() []string {
	env := append([]string{}, s.args...)
	for _, kv := range s.image.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = envlist.Set(env, k, v)
	}
	return env
}

// runEnv is RUN's environment: expandEnv, plus proxy build arguments
// given on the command line even if not declared.
func (s *stage) runEnv() []string {
	env := s.expandEnv()
	for k, v := range s.b.opts.buildArgs {
		if proxyArgs[k] {
			if _, ok := envlist.Lookup(env, k); !ok {
				env = append(env, k+"="+v)
			}
		}
	}
	return env
}

// unusedArgWarnings lists --build-arg values no ARG took, as Docker warns.
func (b *builder) unusedArgWarnings() []string {
	var unused []string
	for k := range b.opts.buildArgs {
		if !b.usedArgs[k] && !proxyArgs[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) == 0 {
		return nil
	}
	sort.Strings(unused)
	return []string{fmt.Sprintf("build arguments were not consumed by any ARG: %s", strings.Join(unused, ", "))}
}
