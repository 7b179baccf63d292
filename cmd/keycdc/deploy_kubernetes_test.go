package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// deploy/examples

func TestDeployExampleConfigs(t *testing.T) {
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "deploy", "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("want the minimal, SASL/SCRAM and registry basic-auth examples, found %d files", len(files))
	}
	// The examples keep secrets out of the file; these stand in for the environment.
	env := map[string]string{
		"KEYCDC_KEYCLOAK_CLIENT_SECRET":   "from-env",
		"KEYCDC_KAFKA_SASL_PASSWORD":      "from-env",
		"KEYCDC_SCHEMA_REGISTRY_PASSWORD": "from-env",
	}
	var sasl, basic bool
	for _, f := range files {
		c := loadDeployConfig(t, f, env, needKeycloak|needKafka|needRegistry)
		if c == nil {
			continue
		}
		sasl = sasl || (strings.HasPrefix(c.Kafka.SASL.Mechanism, "SCRAM-") && c.Kafka.TLS.Enabled)
		basic = basic || c.SchemaRegistry.Username != ""
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkEnvNames(t, f, keycdcVarRef.FindAllString(string(raw), -1))
	}
	if !sasl || !basic {
		t.Errorf("examples: SASL_SSL with SCRAM present: %v; registry basic auth present: %v", sasl, basic)
	}
}

// deploy/kubernetes

type k8sEnvVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
		ConfigMapKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"configMapKeyRef"`
	} `yaml:"valueFrom"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainer struct {
	Name    string      `yaml:"name"`
	Image   string      `yaml:"image"`
	Args    []string    `yaml:"args"`
	Env     []k8sEnvVar `yaml:"env"`
	EnvFrom []any       `yaml:"envFrom"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sObject struct {
	file       string
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Selector yaml.Node `yaml:"selector"`
		Ports    []struct {
			Port       int `yaml:"port"`
			TargetPort any `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
					RunAsUser    *int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func TestDeployKubernetesManifests(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(root, "deploy", "kubernetes")
	kust := readYAMLDocs[struct {
		Kind      string   `yaml:"kind"`
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}](t, filepath.Join(dir, "kustomization.yaml"))
	if len(kust) != 1 || kust[0].Kind != "Kustomization" {
		t.Fatalf("kustomization.yaml: want one Kustomization, got %+v", kust)
	}
	if kust[0].Namespace != "" {
		t.Errorf("kustomization.yaml sets namespace %q; the manifests are namespace-agnostic", kust[0].Namespace)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust[0].Resources, base) {
			t.Errorf("%s is not listed in kustomization.yaml", base)
		}
	}

	var objs []k8sObject
	for _, res := range kust[0].Resources {
		for _, o := range readYAMLDocs[k8sObject](t, filepath.Join(dir, res)) {
			o.file = res
			if o.Metadata.Namespace != "" {
				t.Errorf("%s: %s %s sets a namespace", res, o.Kind, o.Metadata.Name)
			}
			objs = append(objs, o)
		}
	}
	byKind := map[string][]*k8sObject{}
	for i := range objs {
		byKind[objs[i].Kind] = append(byKind[objs[i].Kind], &objs[i])
	}
	if len(byKind["Deployment"]) != 2 || len(byKind["Secret"]) != 1 || len(byKind["ConfigMap"]) != 1 || len(byKind["Service"]) < 1 {
		t.Fatalf("want 2 Deployments, a Secret, a ConfigMap and Services; got %v", kindsOf(objs))
	}
	secret, cm := byKind["Secret"][0], byKind["ConfigMap"][0]
	secretKeys := slices.Sorted(maps.Keys(secret.StringData))
	checkEnvNames(t, "Secret "+secret.Metadata.Name, secretKeys)

	// The ConfigMap's file, with the Secret's values in the environment.
	cfgFiles := map[string]string{}
	for k, v := range cm.Data {
		p := filepath.Join(t.TempDir(), k)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		cfgFiles[k] = p
	}

	for _, d := range byKind["Deployment"] {
		where := d.file + ": Deployment " + d.Metadata.Name
		spec := d.Spec.Template.Spec
		if len(spec.Containers) != 1 {
			t.Errorf("%s: want one container", where)
			continue
		}
		ctr := spec.Containers[0]
		need := needsOf(t, ctr.Args)
		if need&needKeycloak != 0 && (d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != "Recreate") {
			t.Errorf("%s: keycdc run must have replicas: 1 and strategy Recreate (a second instance is fenced)", where)
		}
		if sc := spec.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
			t.Errorf("%s: pod must run as a numeric non-root user", where)
		}
		if sc := ctr.SecurityContext; sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: container must have a read-only root filesystem", where)
		}
		if ctr.Resources.Requests["memory"] == "" || ctr.Resources.Limits["memory"] == "" {
			t.Errorf("%s: memory request and limit are required", where)
		}
		if len(ctr.EnvFrom) > 0 {
			t.Errorf("%s: envFrom hides which variables are set; list them in env", where)
		}
		env := map[string]string{}
		var names []string
		for _, e := range ctr.Env {
			names = append(names, e.Name)
			switch {
			case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
				ref := e.ValueFrom.SecretKeyRef
				v, ok := secret.StringData[ref.Key]
				if ref.Name != secret.Metadata.Name || !ok {
					t.Errorf("%s: %s refers to secret %s key %s, which does not exist", where, e.Name, ref.Name, ref.Key)
				}
				env[e.Name] = v
			case e.ValueFrom != nil:
				t.Errorf("%s: %s: only secretKeyRef is expected", where, e.Name)
			default:
				env[e.Name] = e.Value
			}
		}
		checkEnvNames(t, where, names)

		// --config names a file of the mounted ConfigMap.
		cfg := configFlag(ctr.Args)
		var file string
		for _, vm := range ctr.VolumeMounts {
			for _, v := range spec.Volumes {
				if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name {
					if rel, ok := strings.CutPrefix(cfg, strings.TrimSuffix(vm.MountPath, "/")+"/"); ok {
						file = cfgFiles[rel]
					}
				}
			}
		}
		if file == "" {
			t.Errorf("%s: --config %s is not a file of ConfigMap %s", where, cfg, cm.Metadata.Name)
			continue
		}
		c := loadDeployConfig(t, file, env, need)
		if c == nil {
			continue
		}
		// Secrets passed in the environment are the ones the configuration uses.
		for k := range env {
			if strings.Contains(k, "PASSWORD") || strings.Contains(k, "SECRET") || strings.Contains(k, "DSN") {
				continue
			}
			t.Errorf("%s: %s is set in the Deployment; keep non-secret settings in the ConfigMap", where, k)
		}
		if need&needPostgres == 0 && env["KEYCDC_POSTGRES_DSN"] != "" {
			t.Errorf("%s: gets the PostgreSQL DSN it does not use", where)
		}

		// Probes ask /healthz on the port metrics.listen names.
		port := portOf(t, c.Metrics.Listen)
		portNames := map[string]int{}
		for _, p := range ctr.Ports {
			portNames[p.Name] = p.ContainerPort
		}
		if portNames["metrics"] != port {
			t.Errorf("%s: container port 'metrics' is %d, metrics.listen is %s", where, portNames["metrics"], c.Metrics.Listen)
		}
		probes := map[string]*k8sProbe{"readiness": ctr.ReadinessProbe, "liveness": ctr.LivenessProbe}
		if ctr.StartupProbe != nil {
			probes["startup"] = ctr.StartupProbe
		}
		for kind, pr := range probes {
			if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != "/healthz" {
				t.Errorf("%s: %s probe must GET /healthz", where, kind)
				continue
			}
			if p := fmt.Sprint(pr.HTTPGet.Port); p != "metrics" && p != strconv.Itoa(port) {
				t.Errorf("%s: %s probe asks port %s, metrics listen on %d", where, kind, p, port)
			}
		}
	}

	// Every Service selects the pods of a Deployment and targets a port they have.
	for _, s := range byKind["Service"] {
		var sel map[string]string
		if err := s.Spec.Selector.Decode(&sel); err != nil || len(sel) == 0 {
			t.Errorf("Service %s: no selector", s.Metadata.Name)
			continue
		}
		matched := false
		for _, d := range byKind["Deployment"] {
			if labelsMatch(sel, d.Spec.Template.Metadata.Labels) {
				matched = true
				for _, p := range s.Spec.Ports {
					ok := false
					for _, cp := range d.Spec.Template.Spec.Containers[0].Ports {
						ok = ok || fmt.Sprint(p.TargetPort) == cp.Name || fmt.Sprint(p.TargetPort) == strconv.Itoa(cp.ContainerPort)
					}
					if !ok {
						t.Errorf("Service %s: target port %v is not a port of Deployment %s", s.Metadata.Name, p.TargetPort, d.Metadata.Name)
					}
				}
			}
		}
		if !matched {
			t.Errorf("Service %s selects no Deployment's pods", s.Metadata.Name)
		}
	}
	for _, d := range byKind["Deployment"] {
		var sel struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		}
		if err := d.Spec.Selector.Decode(&sel); err != nil || !labelsMatch(sel.MatchLabels, d.Spec.Template.Metadata.Labels) {
			t.Errorf("Deployment %s: selector does not match its pod labels", d.Metadata.Name)
		}
	}
}

func labelsMatch(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

func kindsOf(objs []k8sObject) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Kind+"/"+o.Metadata.Name)
	}
	return out
}
