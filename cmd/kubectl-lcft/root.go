package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// Output formats of -o.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// options are the flags every command shares.
type options struct {
	kubeconfig string
	context    string
	namespace  string
	stdout     io.Writer
	stderr     io.Writer
	// now is the clock of ages in tables (time.Now when nil).
	now func() time.Time
}

func (o *options) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}

func newRootCommand(o *options) *cobra.Command {
	root := &cobra.Command{
		Use:         "kubectl-lcft",
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl lcft"},
		Short:       "Reports and diagnosis of the lcft-operator's runs",
		Long: `kubectl lcft reads the results of FineTuneCohorts (Cloud / Local / LCFT with
paired bootstrap intervals, users up / same / down, lift per local-CTR bucket,
the paper's pictures) from the artifact store a cohort's status.reportURI
points at, and explains why a GlobalModel, CorrectionPolicy or FineTuneCohort
waits or failed.

Reports are read with the credentials of your environment: for s3:// URIs
the AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
AWS_ENDPOINT_URL_S3), the ones the trainer pods get from their Secret.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(o.stdout)
	root.SetErr(o.stderr)
	f := root.PersistentFlags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.context, "context", "", "kubeconfig context to use")
	f.StringVarP(&o.namespace, "namespace", "n", "", "namespace of the objects (default: the context's namespace)")
	root.AddCommand(newReportCommand(o), newPlotsCommand(o), newWhyCommand(o), newCompareCommand(o))
	return root
}

// client connects to the cluster the flags name and returns the namespace
// to work in.
func (o *options) client() (client.Client, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.context}
	overrides.Context.Namespace = o.namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading the kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("namespace from the kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, "", fmt.Errorf("scheme: %w", err)
	}
	if err := finetunev1alpha1.AddToScheme(scheme); err != nil {
		return nil, "", fmt.Errorf("scheme: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, ns, nil
}

// printView connects to the cluster, builds a view with build and prints
// it in format (-o): the body of the commands that print one view.
func (o *options) printView(ctx context.Context, format string, build func(ctx context.Context, c client.Client, ns string) (view any, table func(io.Writer) error, err error)) error {
	if err := checkFormat(format); err != nil {
		return err
	}
	c, ns, err := o.client()
	if err != nil {
		return err
	}
	v, table, err := build(ctx, c, ns)
	if err != nil {
		return err
	}
	return write(o.stdout, format, v, table)
}

// addFormatFlag adds -o/--output table|json|yaml to cmd.
func addFormatFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVarP(format, "output", "o", formatTable, "output format: table, json or yaml")
}

func checkFormat(format string) error {
	switch format {
	case formatTable, formatJSON, formatYAML:
		return nil
	}
	return fmt.Errorf("-o %q: want table, json or yaml", format)
}
