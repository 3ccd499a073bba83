// Command manager runs the lcft-operator controllers: it reconciles
// GlobalModels, CorrectionPolicies and FineTuneCohorts into Kubernetes Jobs
// that run the lcft-trainer, and writes the AUC results back into status.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"math"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/controllers"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		metricsAddr   string
		metricsSecure bool
		probeAddr     string
		leaderElect   bool
		enableHTTP2   bool
		opts          controllers.Options
		poolMap       string
		poolMapFile   string
		podTemplate   string
		resourcesFile string
		watchNS       string
		metricsCert   string
		tuning        = controllers.DefaultTuning()
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443",
		"Address of the metrics endpoint; \"0\" disables it.")
	flag.BoolVar(&metricsSecure, "metrics-secure", true,
		"Serve metrics over HTTPS with Kubernetes authentication and authorization (TokenReview/SubjectAccessReview). "+
			"Set to false only behind another protection.")
	flag.StringVar(&metricsCert, "metrics-cert-dir", "",
		"Directory with tls.crt and tls.key for the secure metrics endpoint (reloaded when they change); "+
			"empty: a self-signed certificate, which scrapers can only skip verifying.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.BoolVar(&leaderElect, "leader-elect", false,
		"Elect a leader so that only one replica of the manager reconciles at a time.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"Allow HTTP/2 on the metrics server (off by default: HTTP/2 Rapid Reset, CVE-2023-44487).")
	flag.StringVar(&opts.TrainerImage, "trainer-image", controllers.DefaultTrainerImage,
		"Image of the lcft-trainer that the Jobs run.")
	flag.StringVar(&opts.ArtifactURI, "artifact-uri", "",
		"Default artifact store (a directory URI) for objects whose spec.artifacts.uri is unset.")
	flag.StringVar(&poolMap, "pool-map", "",
		"Node selectors of the pools, as pool=key=value pairs separated by commas, "+
			"such as \"arm64=node.example.com/pool=graviton,amd64=node.example.com/pool=x86\". "+
			"Pools not named keep the default kubernetes.io/arch=<pool>.")
	flag.StringVar(&poolMapFile, "pool-map-file", "",
		"A YAML or JSON file mapping each pool to a node selector map; overrides --pool-map.")
	flag.StringVar(&podTemplate, "trainer-pod-template-file", "",
		"A YAML or JSON file with the default pod template of the trainer pods, in the form of spec.podTemplate "+
			"(labels, annotations, serviceAccountName, imagePullSecrets, env, envFrom, volumes, volumeMounts, securityContext); "+
			"an object's spec.podTemplate merges over it.")
	flag.StringVar(&resourcesFile, "trainer-resources-file", "",
		"A YAML or JSON file with the default resources (requests, limits) of the trainer container, "+
			"for objects whose spec.placement.resources is unset.")
	maxJobRestarts := flag.Int("max-job-restarts", int(controllers.DefaultMaxJobRestarts),
		"How many times a run's Job deleted before it finished is made again; past it the run fails (reason JobRestartLimitExceeded).")
	flag.DurationVar(&opts.UnschedulableAfter, "unschedulable-after", controllers.DefaultUnschedulableAfter,
		"How long a run's pods may wait for a node before the cohort's Unschedulable condition says so.")
	flag.DurationVar(&opts.ProgressInterval, "progress-interval", controllers.DefaultProgressInterval,
		"How often a running object's progress is polled from its trainer pods and written to status.progress; "+
			"at least "+controllers.MinProgressInterval.String()+"; 0 turns progress off.")
	progressPort := flag.Int("progress-port", controllers.DefaultProgressPort, "The port of the trainer pods' progress endpoint.")
	flag.StringVar(&watchNS, "watch-namespaces", "",
		"Namespaces to watch, separated by commas; empty: every namespace (a ClusterRole). "+
			"With a list, the manager needs the manager Role in each of them only (the chart's watchNamespaces).")
	flag.IntVar(&tuning.MaxConcurrentReconciles, "max-concurrent-reconciles", tuning.MaxConcurrentReconciles,
		"Workers of each controller: how many objects of a kind are reconciled at once.")
	flag.Float64Var(&tuning.KubeAPIQPS, "kube-api-qps", tuning.KubeAPIQPS,
		"Requests per second to the API server, limited on the client side; negative: no client-side limit "+
			"(the API server's priority and fairness applies).")
	flag.IntVar(&tuning.KubeAPIBurst, "kube-api-burst", tuning.KubeAPIBurst,
		"Requests above --kube-api-qps allowed in a burst (used when --kube-api-qps is positive).")
	flag.StringVar(&tuning.PprofBindAddress, "pprof-bind-address", tuning.PprofBindAddress,
		"Address of the net/http/pprof endpoints, such as 127.0.0.1:8082; empty or \"0\" disables them.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := tuning.Validate(); err != nil {
		return err
	}

	if *maxJobRestarts < 0 || *maxJobRestarts > math.MaxInt32 {
		return fmt.Errorf("--max-job-restarts %d is not in [0, %d]", *maxJobRestarts, math.MaxInt32)
	}
	opts.MaxJobRestarts = ptr.To(int32(*maxJobRestarts))
	if opts.UnschedulableAfter <= 0 {
		return fmt.Errorf("--unschedulable-after %s is not positive", opts.UnschedulableAfter)
	}
	switch {
	case opts.ProgressInterval < 0:
		return fmt.Errorf("--progress-interval %s is negative", opts.ProgressInterval)
	case opts.ProgressInterval == 0:
		opts.ProgressInterval = -1 // off
	case opts.ProgressInterval < controllers.MinProgressInterval:
		return fmt.Errorf("--progress-interval %s is below %s: status would be written too often", opts.ProgressInterval, controllers.MinProgressInterval)
	}
	if *progressPort < 1 || *progressPort > 65535 {
		return fmt.Errorf("--progress-port %d is not a TCP port", *progressPort)
	}
	opts.ProgressPort = int32(*progressPort)
	namespaces, err := controllers.ParseNamespaces(watchNS)
	if err != nil {
		return err
	}
	pools, err := controllers.LoadPoolMap(poolMap, poolMapFile)
	if err != nil {
		return err
	}
	opts.Pools = pools
	if opts.TrainerPodTemplate, err = controllers.LoadTrainerPodTemplate(podTemplate); err != nil {
		return err
	}
	if opts.TrainerResources, err = controllers.LoadTrainerResources(resourcesFile); err != nil {
		return err
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(finetunev1alpha1.AddToScheme(scheme))

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: metricsSecure,
		TLSOpts:       tlsOpts,
		CertDir:       metricsCert,
		CertName:      "tls.crt",
		KeyName:       "tls.key",
	}
	if metricsSecure {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	mgrOpts := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "lcft-operator.finetune.lcft.dev",
		Cache:                  controllers.CacheOptions(namespaces...),
	}
	tuning.Apply(cfg, &mgrOpts)
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	if err := controllers.SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("setting up controllers: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding ready check: %w", err)
	}
	ctrl.Log.WithName("setup").Info("starting manager", "trainerImage", opts.TrainerImage,
		"watchNamespaces", namespaces, "maxConcurrentReconciles", tuning.MaxConcurrentReconciles, "kubeAPIQPS", tuning.KubeAPIQPS)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("running manager: %w", err)
	}
	return nil
}
