package deploy_test

// Checks of references within and between the deployment artifacts, for
// every compose file and Kubernetes manifest: names used are defined, and
// every RUNRIG_* variable is a setting of the relay.

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/runrig/runrig/relay/settings"
)

var (
	composeFiles    = []string{"compose.yaml", "replicas.yaml"}
	kubernetesFiles = []string{"runrig.yaml", "replicas.yaml"}
	// notSettings are files whose RUNRIG_* variables are not the relay's:
	// they configure the file itself.
	notSettings = map[string]bool{"postgres/test-cluster.sh": true}
	envRef      = regexp.MustCompile(`\bRUNRIG_[A-Z0-9_]+`)
	composeVar  = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}`)
)

// settingEnv returns the relay's environment variables: one per setting
// (as the settings table lists them) and RUNRIG_CONFIG.
func settingEnv(t *testing.T) map[string]bool {
	t.Helper()
	var b strings.Builder
	if err := settings.Table(&b); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"RUNRIG_CONFIG": true}
	for _, n := range envRef.FindAllString(b.String(), -1) {
		names[n] = true
	}
	if !names["RUNRIG_DATABASE"] || !names["RUNRIG_PUBLIC_URL"] {
		t.Fatalf("settings table is incomplete: %v", names)
	}
	return names
}

// Every RUNRIG_* variable a deployment artifact names (set, or mentioned
// in a comment) is one the relay reads.
func TestEnvNames(t *testing.T) {
	names := settingEnv(t)
	seen := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") || notSettings[filepath.ToSlash(path)] {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, n := range envRef.FindAllString(line, -1) {
				seen++
				if !names[n] {
					t.Errorf("%s:%d: %s is not a setting of the relay", path, i+1, n)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 10 {
		t.Errorf("only %d RUNRIG_* names found", seen)
	}
}

// interpolated resolves compose's ${VAR:-default} and ${VAR-default} to
// the default and ${VAR} to "", as compose does with VAR unset.
func interpolated(t *testing.T, s string) string {
	t.Helper()
	out := composeVar.ReplaceAllString(s, "$1")
	if strings.Contains(strings.ReplaceAll(out, "$$", ""), "${") {
		t.Errorf("malformed interpolation in %q", s)
	}
	return out
}

// composeEnv returns a service's environment, in map or list form.
func composeEnv(t *testing.T, svc any) map[string]string {
	env := map[string]string{}
	switch e := dig(svc, "environment").(type) {
	case map[string]any:
		for k, v := range e {
			env[k] = interpolated(t, toString(v))
		}
	case []any:
		for _, kv := range e {
			k, v, _ := strings.Cut(toString(kv), "=")
			env[k] = interpolated(t, v)
		}
	}
	return env
}

// toString returns a decoded YAML scalar as text, a list as its items
// separated by spaces.
func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = toString(e)
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprint(v)
}

func anyList(v any) []any { l, _ := v.([]any); return l }

// dependsOn returns a service's dependencies and their conditions, in
// list or map form.
func dependsOn(svc any) map[string]string {
	deps := map[string]string{}
	switch d := dig(svc, "depends_on").(type) {
	case []any:
		for _, n := range d {
			deps[toString(n)] = "service_started"
		}
	case map[string]any:
		for n, c := range d {
			deps[n] = "service_started"
			if cond, ok := dig(c, "condition").(string); ok {
				deps[n] = cond
			}
		}
	}
	return deps
}

// In every compose file, depends_on names services of the file, mounted
// files exist, and named volumes are declared.
func TestComposeReferences(t *testing.T) {
	for _, f := range composeFiles {
		doc := yamlDocs(t, filepath.Join("compose", f))[0]
		services, _ := doc["services"].(map[string]any)
		declared, _ := doc["volumes"].(map[string]any)
		if len(services) == 0 {
			t.Errorf("%s: no services", f)
		}
		for name, svc := range services {
			for dep := range dependsOn(svc) {
				if services[dep] == nil {
					t.Errorf("%s: %s depends on a missing service %q", f, name, dep)
				}
			}
			vols, _ := dig(svc, "volumes").([]any)
			for _, v := range vols {
				src := strings.SplitN(toString(v), ":", 2)[0]
				switch {
				case strings.HasPrefix(src, "."):
					if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
						t.Errorf("%s: %s mounts a missing file: %v", f, name, err)
					}
				case !strings.HasPrefix(src, "/"):
					if _, ok := declared[src]; !ok {
						t.Errorf("%s: %s mounts volume %q, not declared under volumes", f, name, src)
					}
				}
			}
		}
	}
}

// k8sDocs decodes a manifest and checks that every document has an
// apiVersion, a kind and a name.
func k8sDocs(t *testing.T, name string) []map[string]any {
	t.Helper()
	docs := yamlDocs(t, filepath.Join("kubernetes", name))
	for i, doc := range docs {
		if toString(doc["apiVersion"]) == "" || toString(doc["kind"]) == "" || toString(dig(doc, "metadata", "name")) == "" {
			t.Errorf("%s: document %d lacks apiVersion, kind or metadata.name", name, i+1)
		}
	}
	return docs
}

// matches reports whether a non-empty label selector selects labels.
func matches(selector, labels any) bool {
	sel, _ := selector.(map[string]any)
	lab, _ := labels.(map[string]any)
	for k, v := range sel {
		if lab[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// podTemplate returns a workload's pod template, or nil.
func podTemplate(doc map[string]any) any {
	switch doc["kind"] {
	case "Deployment", "StatefulSet", "DaemonSet", "Job":
		return dig(doc, "spec", "template")
	case "CronJob":
		return dig(doc, "spec", "jobTemplate", "spec", "template")
	}
	return nil
}

// In every manifest: workloads select their own pods; Services,
// PodDisruptionBudgets and spread constraints select the pods of exactly
// one workload, on a port it names; ServiceMonitors select a Service; and
// every ConfigMap, Secret (and key), claim and volume a pod uses exists.
func TestKubernetesReferences(t *testing.T) {
	for _, f := range kubernetesFiles {
		docs := k8sDocs(t, f)
		has := manifestHas(docs)
		for _, d := range docs {
			if tpl := podTemplate(d); tpl != nil {
				checkWorkloadReferences(t, f, d, tpl, has)
			}
		}
		for _, d := range docs {
			checkSelectorReferences(t, f, d, docs)
		}
	}
}

// manifestHas returns a function reporting whether the manifest's docs
// define a kind of the name and, unless key is "", that key in its data
// or stringData.
func manifestHas(docs []map[string]any) func(kind, name, key string) bool {
	named := map[string]map[string]any{}
	for _, d := range docs {
		named[toString(d["kind"])+"/"+toString(dig(d, "metadata", "name"))] = d
	}
	return func(kind, name, key string) bool {
		d := named[kind+"/"+name]
		return d != nil && (key == "" || dig(d, "data", key) != nil || dig(d, "stringData", key) != nil)
	}
}

// checkWorkloadReferences checks a workload d of manifest f with pod
// template tpl: its selector and spread constraints match its pods, its
// serviceName is a Service, and what its pods use exists.
func checkWorkloadReferences(t *testing.T, f string, d map[string]any, tpl any, has func(kind, name, key string) bool) {
	t.Helper()
	where := f + ": " + toString(d["kind"]) + " " + toString(dig(d, "metadata", "name"))
	labels := dig(tpl, "metadata", "labels")
	if sel := dig(d, "spec", "selector", "matchLabels"); sel != nil && !matches(sel, labels) {
		t.Errorf("%s: selector %v does not match its pods' labels %v", where, sel, labels)
	}
	if sn := toString(dig(d, "spec", "serviceName")); sn != "" && !has("Service", sn, "") {
		t.Errorf("%s: serviceName %q is no Service", where, sn)
	}
	spec := dig(tpl, "spec")
	for _, c := range anyList(dig(spec, "topologySpreadConstraints")) {
		if !matches(dig(c, "labelSelector", "matchLabels"), labels) {
			t.Errorf("%s: topology spread selector does not match its pods", where)
		}
	}
	volumes := checkPodVolumes(t, where, d, spec, has)
	for _, c := range anyList(dig(spec, "containers")) {
		checkContainerReferences(t, where, c, volumes, has)
	}
}

// checkPodVolumes checks that the ConfigMaps, Secrets and claims of the
// volumes of workload d with pod spec spec exist, and returns the names of
// its volumes and volume claim templates.
func checkPodVolumes(t *testing.T, where string, d map[string]any, spec any, has func(kind, name, key string) bool) map[string]bool {
	t.Helper()
	volumes := map[string]bool{}
	for _, v := range append(anyList(dig(spec, "volumes")), anyList(dig(d, "spec", "volumeClaimTemplates"))...) {
		volumes[toString(dig(v, "name"))+toString(dig(v, "metadata", "name"))] = true
		for kind, name := range map[string]any{"ConfigMap": dig(v, "configMap", "name"), "Secret": dig(v, "secret", "secretName"),
			"PersistentVolumeClaim": dig(v, "persistentVolumeClaim", "claimName")} {
			if name != nil && !has(kind, toString(name), "") {
				t.Errorf("%s: volume refers to a missing %s %v", where, kind, name)
			}
		}
	}
	return volumes
}

// checkContainerReferences checks that a container c mounts only the
// pod's volumes and takes env and envFrom from existing Secrets and
// ConfigMaps (and keys).
func checkContainerReferences(t *testing.T, where string, c any, volumes map[string]bool, has func(kind, name, key string) bool) {
	t.Helper()
	for _, m := range anyList(dig(c, "volumeMounts")) {
		if !volumes[toString(dig(m, "name"))] {
			t.Errorf("%s: mounts a missing volume %v", where, dig(m, "name"))
		}
	}
	for _, e := range anyList(dig(c, "env")) {
		for kind, ref := range map[string]any{"Secret": dig(e, "valueFrom", "secretKeyRef"), "ConfigMap": dig(e, "valueFrom", "configMapKeyRef")} {
			if ref != nil && !has(kind, toString(dig(ref, "name")), toString(dig(ref, "key"))) {
				t.Errorf("%s: env %v refers to a missing %s key %v", where, dig(e, "name"), kind, ref)
			}
		}
	}
	for _, e := range anyList(dig(c, "envFrom")) {
		for kind, ref := range map[string]any{"Secret": dig(e, "secretRef", "name"), "ConfigMap": dig(e, "configMapRef", "name")} {
			if ref != nil && !has(kind, toString(ref), "") {
				t.Errorf("%s: envFrom refers to a missing %s %v", where, kind, ref)
			}
		}
	}
}

// checkSelectorReferences checks a document d of manifest f that selects
// pods or Services: a ServiceMonitor selects a Service; a Service or
// PodDisruptionBudget selects the pods of exactly one workload, on ports
// those pods name. Other documents are left alone.
func checkSelectorReferences(t *testing.T, f string, d map[string]any, docs []map[string]any) {
	t.Helper()
	var sel any
	switch d["kind"] {
	case "Service":
		sel = dig(d, "spec", "selector")
	case "PodDisruptionBudget":
		sel = dig(d, "spec", "selector", "matchLabels")
	case "ServiceMonitor":
		if !slices.ContainsFunc(docs, func(s map[string]any) bool {
			return s["kind"] == "Service" && matches(dig(d, "spec", "selector", "matchLabels"), dig(s, "metadata", "labels"))
		}) {
			t.Errorf("%s: ServiceMonitor %v selects no Service", f, dig(d, "metadata", "name"))
		}
		return
	default:
		return
	}
	where := f + ": " + toString(d["kind"]) + " " + toString(dig(d, "metadata", "name"))
	var selected []map[string]any
	for _, w := range docs {
		if tpl := podTemplate(w); tpl != nil && matches(sel, dig(tpl, "metadata", "labels")) {
			selected = append(selected, w)
		}
	}
	if len(selected) != 1 {
		t.Errorf("%s: selector %v selects the pods of %d workloads, want 1", where, sel, len(selected))
		return
	}
	portNames := map[string]bool{}
	for _, c := range anyList(dig(podTemplate(selected[0]), "spec", "containers")) {
		for _, p := range anyList(dig(c, "ports")) {
			portNames[toString(dig(p, "name"))] = true
		}
	}
	for _, p := range anyList(dig(d, "spec", "ports")) {
		if tp, ok := dig(p, "targetPort").(string); ok && !portNames[tp] {
			t.Errorf("%s: targetPort %q is not a port of the selected pods", where, tp)
		}
	}
}

// ofKind returns the documents of a kind.
func ofKind(docs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, d := range docs {
		if d["kind"] == kind {
			out = append(out, d)
		}
	}
	return out
}
