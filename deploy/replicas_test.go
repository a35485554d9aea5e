package deploy_test

// Checks of the replica setups (compose/replicas.yaml,
// kubernetes/replicas.yaml, proxy/Caddyfile.replicas): several runrig
// processes sharing one PostgreSQL database and public URL.

import (
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/settings"
)

// replicaServices returns the services of compose/replicas.yaml that run
// the relay on a database, by name, with their resolved environment.
func replicaServices(t *testing.T) (services map[string]any, replicas map[string]map[string]string) {
	t.Helper()
	doc := yamlDocs(t, filepath.Join("compose", "replicas.yaml"))[0]
	services, _ = doc["services"].(map[string]any)
	replicas = map[string]map[string]string{}
	for name, svc := range services {
		if env := composeEnv(t, svc); env["RUNRIG_DATABASE"] != "" {
			replicas[name] = env
		}
	}
	for _, want := range []string{"runrig-1", "runrig-2", "runrig-3"} {
		if replicas[want] == nil {
			t.Errorf("replicas.yaml: no replica %s with RUNRIG_DATABASE", want)
		}
	}
	return services, replicas
}

// The replica compose file: PostgreSQL with a volume and a pg_isready
// healthcheck; replicas built like compose.yaml's relay, on that
// database, with one public URL, waiting for PostgreSQL to be healthy,
// unpublished, with a writable data directory for the admin socket; Caddy
// publishing 80 and 443 with the replicas' Caddyfile.
func TestComposeReplicas(t *testing.T) {
	checkComposeReplicasHeader(t)
	services, replicas := replicaServices(t)
	single := dig(yamlDocs(t, filepath.Join("compose", "compose.yaml"))[0], "services", "runrig")

	pg := services["postgres"]
	pgEnv := composeEnv(t, pg)
	checkComposePostgres(t, pg)

	var publicURL, database string
	for name, env := range replicas {
		svc := services[name]
		checkReplicaService(t, name, svc, single)
		if !checkReplicaDatabase(t, name, env, services, pgEnv) {
			continue
		}
		if publicURL == "" {
			publicURL, database = env["RUNRIG_PUBLIC_URL"], env["RUNRIG_DATABASE"]
		}
		if env["RUNRIG_PUBLIC_URL"] == "" || env["RUNRIG_PUBLIC_URL"] != publicURL || env["RUNRIG_DATABASE"] != database {
			t.Errorf("%s: the replicas must share RUNRIG_PUBLIC_URL and RUNRIG_DATABASE", name)
		}
		checkReplicaDataDir(t, name, svc, env)
		checkReplicaEnvAccepted(t, name, env)
	}

	checkReplicasCaddy(t, services["caddy"])
}

// checkComposeReplicasHeader checks that compose/replicas.yaml's header
// gives the commands to start, inspect and back up the replicas.
func checkComposeReplicasHeader(t *testing.T) {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("compose", "replicas.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"docker compose -f deploy/compose/replicas.yaml up -d",
		"exec runrig-1 runrig admin replicas", "exec -T postgres pg_dump -U runrig -Fc runrig > runrig.dump"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("replicas.yaml's header lacks %q", want)
		}
	}
}

// checkComposePostgres checks the postgres service: the official
// postgres:17 image, a pg_isready healthcheck, an overridable password and
// a named data volume.
func checkComposePostgres(t *testing.T, pg any) {
	t.Helper()
	if img := toString(dig(pg, "image")); !regexp.MustCompile(`^(docker\.io/library/)?postgres:17([.-]|$)`).MatchString(img) {
		t.Errorf("postgres runs %q, want the official postgres:17", img)
	}
	if test := toString(dig(pg, "healthcheck", "test")); !strings.Contains(test, "pg_isready") {
		t.Errorf("postgres healthcheck %v does not run pg_isready", test)
	}
	if pwd := toString(dig(pg, "environment", "POSTGRES_PASSWORD")); !regexp.MustCompile(`^\$\{POSTGRES_PASSWORD:-[^}]+\}$`).MatchString(pwd) {
		t.Errorf("POSTGRES_PASSWORD = %q, want ${POSTGRES_PASSWORD:-a default}", pwd)
	}
	if vol := toString(dig(pg, "volumes", 0)); !strings.HasSuffix(vol, ":/var/lib/postgresql/data") || strings.HasPrefix(vol, ".") {
		t.Errorf("postgres keeps its data in %q, want a named volume at /var/lib/postgresql/data", vol)
	}
}

// checkReplicaService checks that a replica is built like compose.yaml's
// relay (single), publishes no ports and waits for PostgreSQL to be
// healthy.
func checkReplicaService(t *testing.T, name string, svc, single any) {
	t.Helper()
	for _, k := range []string{"build", "image"} {
		if !reflect.DeepEqual(dig(svc, k), dig(single, k)) {
			t.Errorf("%s: %s %v differs from compose.yaml's %v", name, k, dig(svc, k), dig(single, k))
		}
	}
	if dig(svc, "ports") != nil {
		t.Errorf("%s publishes ports: only the proxy should", name)
	}
	if c := dependsOn(svc)["postgres"]; c != "service_healthy" {
		t.Errorf("%s: depends_on postgres condition %q, want service_healthy", name, c)
	}
}

// checkReplicaDatabase checks that a replica's RUNRIG_DATABASE is a
// postgres URL of the postgres service with its user, password and
// database. It reports false if RUNRIG_DATABASE is no postgres URL at all.
func checkReplicaDatabase(t *testing.T, name string, env map[string]string, services map[string]any, pgEnv map[string]string) bool {
	t.Helper()
	u, err := url.Parse(env["RUNRIG_DATABASE"])
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		t.Errorf("%s: RUNRIG_DATABASE %q is not a postgres URL", name, env["RUNRIG_DATABASE"])
		return false
	}
	pass, _ := u.User.Password()
	if services[u.Hostname()] == nil || u.Hostname() != "postgres" || u.Port() != "5432" {
		t.Errorf("%s: RUNRIG_DATABASE names host %q, not the postgres service", name, u.Host)
	}
	if u.User.Username() != pgEnv["POSTGRES_USER"] || pass != pgEnv["POSTGRES_PASSWORD"] || u.Path != "/"+pgEnv["POSTGRES_DB"] {
		t.Errorf("%s: RUNRIG_DATABASE's user, password or database is not postgres' %v", name, pgEnv)
	}
	return true
}

// checkReplicaDataDir checks that a replica's data directory, where the
// admin socket lives, is writable on a read-only root: a tmpfs
// ("/data:options") or a volume ("name:/data").
func checkReplicaDataDir(t *testing.T, name string, svc any, env map[string]string) {
	t.Helper()
	data := env["RUNRIG_DATA"]
	writable := false
	for _, m := range append(anyList(dig(svc, "tmpfs")), anyList(dig(svc, "volumes"))...) {
		target := toString(m)
		if !strings.HasPrefix(target, "/") {
			_, target, _ = strings.Cut(target, ":")
		}
		writable = writable || data != "" && (target == data || strings.HasPrefix(target, data+":"))
	}
	if !writable {
		t.Errorf("%s: data directory %q is neither a tmpfs nor a volume", name, data)
	}
}

// checkReplicaEnvAccepted checks that the relay loads and accepts a
// replica's environment.
func checkReplicaEnvAccepted(t *testing.T, name string, env map[string]string) {
	t.Helper()
	cfg, _, err := settings.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil {
		err = relay.CheckConfig(cfg)
	}
	if err != nil {
		t.Errorf("%s: the relay refuses its environment: %v", name, err)
	}
}

// checkReplicasCaddy checks that the caddy service publishes 80 and 443
// and mounts proxy/Caddyfile.replicas as its Caddyfile.
func checkReplicasCaddy(t *testing.T, caddy any) {
	t.Helper()
	ports := anyList(dig(caddy, "ports"))
	for _, p := range []string{"80:80", "443:443"} {
		if !slices.ContainsFunc(ports, func(v any) bool { return strings.HasSuffix(toString(v), p) }) {
			t.Errorf("caddy does not publish %s: %v", p, ports)
		}
	}
	if !slices.ContainsFunc(anyList(dig(caddy, "volumes")), func(v any) bool {
		return toString(v) == "../proxy/Caddyfile.replicas:/etc/caddy/Caddyfile:ro"
	}) {
		t.Error("caddy does not mount proxy/Caddyfile.replicas as its Caddyfile")
	}
}

// caddyDirective is a Caddyfile directive (or site) with its block.
type caddyDirective struct {
	name  string
	args  []string
	block []caddyDirective
}

// parseCaddyfile parses the Caddyfile's structure: one directive a line,
// blocks opened by a trailing { and closed by a lone }. It returns the
// lines after the } that closed the block, nil at the end of the file.
func parseCaddyfile(t *testing.T, lines []string) (ds []caddyDirective, rest []string) {
	t.Helper()
	for len(lines) > 0 {
		line := strings.TrimSpace(lines[0])
		lines = lines[1:]
		if i := strings.Index(line, " #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case line == "}":
			return ds, lines
		default:
			f := strings.Fields(line)
			d := caddyDirective{name: f[0], args: f[1:]}
			if f[len(f)-1] == "{" {
				d.args = f[1 : len(f)-1]
				if len(f) == 1 {
					d.name, d.args = "{", nil
				}
				d.block, lines = parseCaddyfile(t, lines)
				if lines == nil {
					t.Fatalf("Caddyfile: block of %s is not closed", d.name)
				}
			}
			ds = append(ds, d)
		}
	}
	return ds, nil
}

func findDirective(ds []caddyDirective, name string) *caddyDirective {
	for i := range ds {
		if ds[i].name == name {
			return &ds[i]
		}
		if d := findDirective(ds[i].block, name); d != nil {
			return d
		}
	}
	return nil
}

// The replicas' Caddyfile balances across exactly the compose file's
// replicas on their listening port, checks their health on a health
// endpoint of the relay, and hides /metrics.
func TestCaddyfileReplicas(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("proxy", "Caddyfile.replicas"))
	if err != nil {
		t.Fatal(err)
	}
	ds, rest := parseCaddyfile(t, strings.Split(string(b), "\n"))
	if rest != nil {
		t.Fatalf("Caddyfile.replicas: unbalanced }: %q", rest)
	}
	rp := findDirective(ds, "reverse_proxy")
	if rp == nil {
		t.Fatal("Caddyfile.replicas has no reverse_proxy")
	}
	_, replicas := replicaServices(t)
	var want []string
	for name, env := range replicas {
		_, port, _ := strings.Cut(env["RUNRIG_LISTEN"], ":")
		want = append(want, name+":"+port)
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(rp.args))
	if !slices.Equal(got, want) || len(got) < 3 {
		t.Errorf("reverse_proxy upstreams %v, want the replicas %v", got, want)
	}
	sub := map[string][]string{}
	for _, d := range rp.block {
		sub[d.name] = d.args
	}
	if p := sub["lb_policy"]; len(p) != 1 || p[0] != "round_robin" && p[0] != "least_conn" {
		t.Errorf("lb_policy %v, want round_robin or least_conn", p)
	}
	if h := sub["health_uri"]; len(h) != 1 || h[0] != "/readyz" && h[0] != "/healthz" {
		t.Errorf("health_uri %v, want /readyz or /healthz", h)
	}
	if m := findDirective(ds, "@metrics"); m == nil || strings.Join(m.args, " ") != "path /metrics" || findDirective(ds, "respond") == nil {
		t.Error("Caddyfile.replicas must hide /metrics")
	}
	if findDirective(ds, "header_up") != nil {
		t.Error("Caddy sets Host and X-Forwarded-* itself, as in the single-relay Caddyfile: no header_up")
	}
}

// The replica manifest: a Deployment runrig of at least two replicas,
// hardened like runrig.yaml's StatefulSet, probed on /readyz and /healthz,
// spread across nodes, with RUNRIG_DATABASE from a Secret that names the
// PostgreSQL Service and is marked to change; a PodDisruptionBudget that
// leaves a replica to evict; PostgreSQL 17 as one StatefulSet pod with a
// volume; and the comments operators need.
func TestKubernetesReplicas(t *testing.T) {
	checkK8sReplicasComments(t)
	docs := k8sDocs(t, "replicas.yaml")
	single := ofKind(k8sDocs(t, "runrig.yaml"), "StatefulSet")[0]
	deps := ofKind(docs, "Deployment")
	if len(deps) != 1 || dig(deps[0], "metadata", "name") != "runrig" {
		t.Fatalf("want one Deployment named runrig (kubectl exec deploy/runrig), got %d", len(deps))
	}
	dep := deps[0]
	n, _ := dig(dep, "spec", "replicas").(int)
	if n < 2 {
		t.Errorf("Deployment replicas %v, want at least 2", dig(dep, "spec", "replicas"))
	}
	pod := dig(dep, "spec", "template", "spec")
	c := dig(pod, "containers", 0)
	checkReplicaPod(t, pod, c, single)
	cm := ofKind(docs, "ConfigMap")
	if len(cm) != 1 {
		t.Fatalf("want one ConfigMap, got %d", len(cm))
	}
	checkConfig(t, toString(dig(cm[0], "data", "runrig.toml")))

	u := replicaDatabaseURL(t, docs, c)
	pgSts := postgresStatefulSet(t, docs)
	checkPostgresService(t, docs, pgSts, u)
	checkReplicaDisruptionBudget(t, docs, dep, n)
}

// checkK8sReplicasComments checks that kubernetes/replicas.yaml's comments
// say how to inspect, back up and upgrade the replicas.
func checkK8sReplicasComments(t *testing.T) {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("kubernetes", "replicas.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubectl exec deploy/runrig -- runrig admin replicas", "pg_dump", "forward only", "same runrig version"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("replicas.yaml's comments lack %q", want)
		}
	}
}

// checkReplicaPod checks the Deployment's pod spec and its runrig
// container c: hardened like runrig.yaml's StatefulSet (single), probed on
// /readyz and /healthz, with resource requests, spread across nodes and
// sharing no volume.
func checkReplicaPod(t *testing.T, pod, c any, single map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(dig(pod, "securityContext"), dig(single, "spec", "template", "spec", "securityContext")) ||
		!reflect.DeepEqual(dig(c, "securityContext"), dig(single, "spec", "template", "spec", "containers", 0, "securityContext")) {
		t.Error("Deployment's securityContexts differ from runrig.yaml's")
	}
	if dig(c, "readinessProbe", "httpGet", "path") != "/readyz" || dig(c, "livenessProbe", "httpGet", "path") != "/healthz" {
		t.Error("probes must use /readyz and /healthz")
	}
	if dig(c, "resources", "requests", "cpu") == nil || dig(c, "resources", "requests", "memory") == nil {
		t.Error("runrig container lacks resource requests")
	}
	spread := slices.ContainsFunc(anyList(dig(pod, "topologySpreadConstraints")), func(s any) bool {
		return dig(s, "topologyKey") == "kubernetes.io/hostname"
	})
	if !spread && dig(pod, "affinity", "podAntiAffinity") == nil {
		t.Error("replicas are not spread across nodes")
	}
	for _, v := range anyList(dig(pod, "volumes")) {
		if dig(v, "persistentVolumeClaim") != nil {
			t.Error("replicas share no volume: the store is in PostgreSQL")
		}
	}
}

// replicaDatabaseURL checks that the runrig container c takes
// RUNRIG_DATABASE from a Secret holding a postgres URL with a CHANGE-ME
// placeholder, and returns that URL as parsed (nil if it does not parse).
func replicaDatabaseURL(t *testing.T, docs []map[string]any, c any) *url.URL {
	t.Helper()
	var dbRef any
	for _, e := range anyList(dig(c, "env")) {
		if dig(e, "name") == "RUNRIG_DATABASE" {
			dbRef = dig(e, "valueFrom", "secretKeyRef")
		}
	}
	if dbRef == nil || dig(dbRef, "key") != "RUNRIG_DATABASE" {
		t.Fatal("RUNRIG_DATABASE does not come from a Secret's key RUNRIG_DATABASE")
	}
	var dbURL string
	for _, s := range ofKind(docs, "Secret") {
		if dig(s, "metadata", "name") == dig(dbRef, "name") {
			dbURL = toString(dig(s, "stringData", "RUNRIG_DATABASE"))
		}
	}
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme != "postgres" || !strings.Contains(dbURL, "CHANGE-ME") {
		t.Errorf("Secret's RUNRIG_DATABASE %q: want a postgres URL with a CHANGE-ME placeholder", dbURL)
	}
	return u
}

// postgresStatefulSet returns the StatefulSet running PostgreSQL 17 and
// checks that it is one replica with a volume claim template.
func postgresStatefulSet(t *testing.T, docs []map[string]any) map[string]any {
	t.Helper()
	var pgSts map[string]any
	for _, s := range ofKind(docs, "StatefulSet") {
		if strings.HasPrefix(toString(dig(s, "spec", "template", "spec", "containers", 0, "image")), "docker.io/library/postgres:17") {
			pgSts = s
		}
	}
	if pgSts == nil {
		t.Fatal("no StatefulSet runs docker.io/library/postgres:17")
	}
	if dig(pgSts, "spec", "replicas") != 1 || dig(pgSts, "spec", "volumeClaimTemplates", 0) == nil {
		t.Error("PostgreSQL: want 1 replica with a volume claim template")
	}
	return pgSts
}

// checkPostgresService checks that the host of RUNRIG_DATABASE's URL u is
// a Service selecting PostgreSQL's pods on u's port.
func checkPostgresService(t *testing.T, docs []map[string]any, pgSts map[string]any, u *url.URL) {
	t.Helper()
	host := strings.SplitN(u.Hostname(), ".", 2)[0]
	svcOK := false
	for _, s := range ofKind(docs, "Service") {
		svcOK = svcOK || dig(s, "metadata", "name") == host &&
			matches(dig(s, "spec", "selector"), dig(pgSts, "spec", "template", "metadata", "labels")) &&
			slices.ContainsFunc(anyList(dig(s, "spec", "ports")), func(p any) bool { return toString(dig(p, "port")) == u.Port() })
	}
	if !svcOK {
		t.Errorf("RUNRIG_DATABASE's host %q is not a Service of PostgreSQL on port %s", u.Host, u.Port())
	}
}

// checkReplicaDisruptionBudget checks that one PodDisruptionBudget
// selects the Deployment's pods and leaves one of its n replicas to evict.
func checkReplicaDisruptionBudget(t *testing.T, docs []map[string]any, dep map[string]any, n int) {
	t.Helper()
	pdbs := ofKind(docs, "PodDisruptionBudget")
	if len(pdbs) != 1 || !matches(dig(pdbs[0], "spec", "selector", "matchLabels"), dig(dep, "spec", "template", "metadata", "labels")) {
		t.Fatal("want a PodDisruptionBudget selecting the Deployment's pods")
	}
	minAvail, hasMin := dig(pdbs[0], "spec", "minAvailable").(int)
	maxUnavail, hasMax := dig(pdbs[0], "spec", "maxUnavailable").(int)
	if hasMin == hasMax || hasMin && (minAvail < 1 || minAvail >= n) || hasMax && maxUnavail < 1 {
		t.Errorf("PodDisruptionBudget minAvailable %v maxUnavailable %v: want one, leaving 1 to %d-1 available",
			dig(pdbs[0], "spec", "minAvailable"), dig(pdbs[0], "spec", "maxUnavailable"), n)
	}
}
