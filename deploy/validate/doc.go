// Package validate checks natsfan's deployment files against the natsfan
// binary they deploy, without a container engine or a cluster:
//
//   - deploy/Dockerfile: the build stage's commands are run as they are
//     written, on a build context filtered by .dockerignore, and what they
//     produce must be a static, stripped, version-stamped binary; the final
//     stage must hold nothing but that binary (and CA certificates) and run
//     as a non-root user.
//   - deploy/kubernetes: every kustomization renders; every rendered object
//     and every file it is made from decodes strictly into its Kubernetes
//     API type, so an unknown or misspelt field is an error; and the pods
//     that run natsfan agree with the binary: every NATSFAN_ variable they
//     set exists and holds a value natsfan accepts, the probes ask the right
//     paths on the port natsfan listens on, the socket is on a volume shared
//     with the application, shutdown fits in the grace period, the memory
//     request covers the configured buffers, and the pod is locked down.
//
// The binary is the authority on its configuration: the list of variables
// comes from natsfan -h, and values are checked by running natsfan itself
// with the pod's environment plus one variable it cannot know, which makes
// it stop at configuration time (exit status 2) and list every problem.
// Nothing here imports natsfan's packages, so the Kubernetes libraries stay
// out of natsfan's own module.
package validate
