package testutil

// K0sAdminKubeconfig is what `k0s kubeconfig admin` prints on a controller:
// a server on localhost and the client key given (base64).
func K0sAdminKubeconfig(clientKey string) string {
	return `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EK
    server: https://localhost:6443
  name: local
contexts:
- context:
    cluster: local
    namespace: default
    user: user
  name: Default
current-context: Default
kind: Config
preferences: {}
users:
- name: user
  user:
    client-certificate-data: Q0VSVAo=
    client-key-data: ` + clientKey + `
`
}
