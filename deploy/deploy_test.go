// Package deploy_test checks the deployment artifacts in deploy/: each is
// parsed the way its tool would read it, and everything that names a
// metric names one the relay exports.
package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/settings"
)

// builtin are series Prometheus itself provides.
var builtin = map[string]bool{"up": true}

// exported are the relay's metric names, histograms with their series.
func exported(t *testing.T) map[string]bool {
	names := map[string]bool{}
	for _, n := range relay.MetricNames() {
		names[n] = true
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			names[n+suffix] = true
		}
	}
	if !names["runrig_delivery_queue"] || !names["go_goroutines"] {
		t.Fatalf("relay.MetricNames is incomplete: %v", names)
	}
	return names
}

// checkExpr parses a PromQL expression and checks every metric it names.
func checkExpr(t *testing.T, where, expr string, names map[string]bool) {
	t.Helper()
	e, err := parser.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && !names[vs.Name] && !builtin[vs.Name] {
			t.Errorf("%s: no metric %q", where, vs.Name)
		}
		return nil
	})
}

// Alerting rules load with Prometheus' own rule parser, cover the alerts
// operators need, and reference only exported metrics.
func TestAlertingRules(t *testing.T) {
	names := exported(t)
	groups, errs := rulefmt.ParseFile(filepath.Join("prometheus", "alerts.yml"), false, model.UTF8Validation)
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	alerts := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			checkExpr(t, r.Alert, r.Expr, names)
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s lacks a summary or description", r.Alert)
			}
		}
	}
	for _, want := range []string{"RunrigDeliveryBacklogGrowing", "RunrigDeadLetters", "RunrigSubscriberFailing",
		"RunrigSignatureFailureSpike", "RunrigDiscoveryIsolated"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// The Grafana dashboard is valid JSON whose every query parses and names
// exported metrics.
func TestGrafanaDashboard(t *testing.T) {
	names := exported(t)
	b, err := os.ReadFile(filepath.Join("grafana", "runrig-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || len(d.Panels) < 10 {
		t.Fatalf("dashboard %q has %d panels", d.Title, len(d.Panels))
	}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			checkExpr(t, p.Title, q.Expr, names)
		}
	}
}

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, doc)
	}
}

// dig follows keys (and list indexes as ints) through decoded YAML.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// The single-node manifest (TestKubernetesReferences checks its
// references) holds a StatefulSet with a volume, probes on
// /readyz and /healthz and a non-root user, a Service and a
// ServiceMonitor that scrapes /metrics.
func TestKubernetesManifests(t *testing.T) {
	kinds := map[string]map[string]any{}
	for _, doc := range k8sDocs(t, "runrig.yaml") {
		kinds[toString(doc["kind"])] = doc
	}
	sts := kinds["StatefulSet"]
	c := dig(sts, "spec", "template", "spec", "containers", 0)
	for path, want := range map[string]any{
		"readiness": dig(c, "readinessProbe", "httpGet", "path"), "liveness": dig(c, "livenessProbe", "httpGet", "path"),
		"nonroot": dig(sts, "spec", "template", "spec", "securityContext", "runAsNonRoot"),
		"volume":  dig(sts, "spec", "volumeClaimTemplates", 0, "metadata", "name"),
		"mount":   dig(c, "volumeMounts", 0, "mountPath"),
	} {
		if want == nil {
			t.Errorf("StatefulSet lacks %s", path)
		}
	}
	if dig(c, "readinessProbe", "httpGet", "path") != "/readyz" || dig(c, "livenessProbe", "httpGet", "path") != "/healthz" {
		t.Error("probes must use /readyz and /healthz")
	}
	if dig(kinds["Service"], "spec", "selector") == nil || dig(kinds["ServiceMonitor"], "spec", "endpoints", 0, "path") != "/metrics" {
		t.Error("Service or ServiceMonitor incomplete")
	}
	if kinds["ConfigMap"] == nil {
		t.Fatal("no ConfigMap")
	}
	toml := dig(kinds["ConfigMap"], "data", "runrig.toml").(string)
	checkConfig(t, toml)
}

// checkConfig checks a configuration file's text with the relay's own
// settings loader.
func checkConfig(t *testing.T, text string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runrig.toml")
	os.WriteFile(path, []byte(text), 0o600)
	if _, err := settings.Check(path); err != nil {
		t.Errorf("embedded configuration: %v", err)
	}
}

// The compose file wires the relay, Prometheus (with the alerting rules)
// and Grafana (with the dashboard); TestComposeReferences checks that
// every file it mounts exists.
func TestCompose(t *testing.T) {
	docs := yamlDocs(t, filepath.Join("compose", "compose.yaml"))
	services, _ := dig(docs[0], "services").(map[string]any)
	for _, s := range []string{"runrig", "prometheus", "grafana"} {
		if services[s] == nil {
			t.Errorf("compose lacks service %s", s)
		}
	}
	if df := dig(services, "runrig", "build", "dockerfile"); df != "deploy/container/Containerfile" {
		t.Errorf("runrig builds from %v", df)
	}
	prom := yamlDocs(t, filepath.Join("compose", "prometheus.yml"))[0]
	if dig(prom, "scrape_configs", 0, "static_configs", 0, "targets", 0) != "runrig:8080" {
		t.Error("Prometheus does not scrape the relay")
	}
	for _, f := range []string{"grafana-datasource.yaml", "grafana-dashboards.yaml"} {
		if dig(yamlDocs(t, filepath.Join("compose", f))[0], "apiVersion") == nil {
			t.Errorf("%s is not a Grafana provisioning file", f)
		}
	}
}

// instruction is one Containerfile instruction, continuation lines joined.
type instruction struct{ cmd, args string }

func parseContainerfile(t *testing.T, path string) []instruction {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cur += line
		if strings.HasSuffix(cur, "\\") {
			cur = strings.TrimSuffix(cur, "\\") + " "
			continue
		}
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

var knownInstructions = regexp.MustCompile(`^(FROM|RUN|CMD|LABEL|EXPOSE|ENV|ADD|COPY|ENTRYPOINT|VOLUME|USER|WORKDIR|ARG|ONBUILD|STOPSIGNAL|HEALTHCHECK|SHELL)$`)

// The container build makes a cgo binary that signs with OpenSSL (and
// checks that it does), and runs it as a non-root user on distroless'
// base image, which has glibc and libssl3.
func TestContainerfile(t *testing.T) {
	ins := parseContainerfile(t, filepath.Join("container", "Containerfile"))
	var from []string
	var user, entry string
	cgo := false
	for _, in := range ins {
		if !knownInstructions.MatchString(in.cmd) {
			t.Errorf("unknown instruction %s", in.cmd)
		}
		switch in.cmd {
		case "FROM":
			from = append(from, in.args)
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "RUN":
			cgo = cgo || strings.Contains(in.args, "CGO_ENABLED=1") && strings.Contains(in.args, "RSA signing: openssl")
		}
	}
	if len(from) != 2 || !strings.Contains(from[1], "distroless/base") {
		t.Errorf("want a build stage and a distroless base stage (with libssl3), got %v", from)
	}
	if !cgo || user == "" || strings.HasPrefix(user, "0") || user == "root" {
		t.Errorf("cgo build checked to sign with OpenSSL %v, user %q", cgo, user)
	}
	var argv []string
	if err := json.Unmarshal([]byte(entry), &argv); err != nil || argv[0] != "/usr/local/bin/runrig" {
		t.Errorf("ENTRYPOINT %s", entry)
	}
}

// The systemd unit parses as a unit file, runs runrig serve and keeps its
// hardening.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("systemd", "runrig.service"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]map[string][]string{}
	var cur string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			cur = line[1 : len(line)-1]
			sections[cur] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || cur == "" {
				t.Fatalf("line %d: %q is not key=value in a section", i+1, line)
			}
			sections[cur][k] = append(sections[cur][k], v)
		}
	}
	svc := sections["Service"]
	if exec := svc["ExecStart"]; len(exec) != 1 || !strings.Contains(exec[0], "runrig serve") {
		t.Errorf("ExecStart = %v", exec)
	}
	for _, k := range []string{"DynamicUser", "NoNewPrivileges", "ProtectSystem", "PrivateTmp", "CapabilityBoundingSet", "SystemCallFilter", "StateDirectory"} {
		if svc[k] == nil {
			t.Errorf("unit lacks %s", k)
		}
	}
	if sections["Install"]["WantedBy"] == nil {
		t.Error("unit has no [Install] WantedBy")
	}
}

// The reverse-proxy examples pass the Host header through (signatures
// cover it), proxy to the relay, and keep /metrics private.
func TestReverseProxies(t *testing.T) {
	nginx, err := os.ReadFile(filepath.Join("proxy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	depth := 0
	for _, c := range string(nginx) {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
		}
		if depth < 0 {
			t.Fatal("nginx.conf: unbalanced braces")
		}
	}
	if depth != 0 {
		t.Fatal("nginx.conf: unbalanced braces")
	}
	for _, want := range []string{"proxy_pass http://127.0.0.1:8080;", "proxy_set_header Host $host;", "location = /metrics", "ssl_certificate "} {
		if !bytes.Contains(nginx, []byte(want)) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	caddy, err := os.ReadFile(filepath.Join("proxy", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(caddy, []byte("reverse_proxy 127.0.0.1:8080")) || !bytes.Contains(caddy, []byte("path /metrics")) {
		t.Error("Caddyfile must proxy to the relay and hide /metrics")
	}
}
