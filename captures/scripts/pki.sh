#!/bin/bash
# pki.sh: (re)create the kubeadm-style PKI and node tree used by the sample captures.
#
#   captures/node/       a copy of a kubeadm control-plane node's files (node name "node1",
#                        node IP 127.0.0.1 and ::1): /etc/kubernetes/{pki,*.conf,manifests},
#                        /var/lib/kubelet/{config.yaml,pki}
#   captures/pki-extra/  certificates that are not part of the node tree: a rogue CA with the
#                        same subject as the real one, and the broken certs users hit; at the
#                        end scripts/pki-k8s.sh adds the certificates of capture-k8s.sh there.
#
# Tools: cfssl / cfssljson (Debian golang-cfssl 1.2) for every certificate, openssl for sa.key
# and for the checks at the end. Idempotent: wipes node/ and pki-extra/ and recreates them, so
# every run makes new keys and serials (regenerate the captures and expected values with it:
# captures/regenerate.sh does both).
#
# Validity: fixed dates, so the files tell one consistent story (serials and keys still change
# on every run). Today, for the captures, is 2026-11-28.
#   CAs (ca, etcd-ca, front-proxy-ca)  2025-10-30T08:00:00Z .. 2035-10-28T08:00:00Z (kubeadm init)
#   kubeadm leaf certs, kubeconfig certs, kubelet serving cert
#                                      2026-10-25T08:00:00Z .. 2027-10-25T08:00:00Z (after
#                                      `kubeadm certs renew all`)
#   kubelet rotated client certs: the controller-manager signs kubelet CSRs for 240h
#   (--cluster-signing-duration=240h) and backdates 5 minutes; the kubelet rotated at ~70%:
#     kubelet-client-2026-11-20-10-00-00.pem  2026-11-20T09:55:00Z .. 2026-11-30T09:55:00Z
#     kubelet-client-2026-11-27-09-30-00.pem  2026-11-27T09:25:00Z .. 2026-12-07T09:25:00Z
#   pki-extra/expired-client.crt       2025-11-01T00:00:00Z .. 2026-11-01T00:00:00Z (expired)
#   pki-extra/rogue-ca.crt, rogue-client.crt
#                                      2026-11-25T12:00:00Z .. (someone re-ran a CA tool)
# cfssl can only set dates through a signing profile, so each CA is made with
# `cfssl gencert -initca` and then re-signed by itself (`cfssl sign`, profile "ca").
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)          # captures/
NODE=$HERE/node
EXTRA=$HERE/pki-extra
PKI=$NODE/etc/kubernetes/pki
KUBELET=$NODE/var/lib/kubelet

WORK=$(mktemp -d /tmp/certwire-pki.XXXXXX)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

rm -rf "$NODE" "$EXTRA"
mkdir -p "$PKI/etcd" "$NODE/etc/kubernetes/manifests" "$KUBELET/pki" "$EXTRA"

# ---------------------------------------------------------------- cfssl signing config
cat > "$WORK/config.json" <<'EOF'
{
  "signing": {
    "default": { "expiry": "8760h" },
    "profiles": {
      "ca":     { "expiry": "87600h", "ca_constraint": { "is_ca": true },
                  "usages": ["digital signature", "key encipherment", "cert sign", "crl sign"],
                  "not_before": "2025-10-30T08:00:00Z", "not_after": "2035-10-28T08:00:00Z" },
      "server": { "expiry": "8760h",
                  "usages": ["digital signature", "key encipherment", "server auth"],
                  "not_before": "2026-10-25T08:00:00Z", "not_after": "2027-10-25T08:00:00Z" },
      "client": { "expiry": "8760h",
                  "usages": ["digital signature", "key encipherment", "client auth"],
                  "not_before": "2026-10-25T08:00:00Z", "not_after": "2027-10-25T08:00:00Z" },
      "peer":   { "expiry": "8760h",
                  "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
                  "not_before": "2026-10-25T08:00:00Z", "not_after": "2027-10-25T08:00:00Z" },
      "kubelet-client-old": { "expiry": "240h", "usages": ["digital signature", "client auth"],
                  "not_before": "2026-11-20T09:55:00Z", "not_after": "2026-11-30T09:55:00Z" },
      "kubelet-client-new": { "expiry": "240h", "usages": ["digital signature", "client auth"],
                  "not_before": "2026-11-27T09:25:00Z", "not_after": "2026-12-07T09:25:00Z" },
      "expired-client": { "expiry": "8760h",
                  "usages": ["digital signature", "key encipherment", "client auth"],
                  "not_before": "2025-11-01T00:00:00Z", "not_after": "2026-11-01T00:00:00Z" },
      "rogue-ca": { "expiry": "87600h", "ca_constraint": { "is_ca": true },
                  "usages": ["digital signature", "key encipherment", "cert sign", "crl sign"],
                  "not_before": "2026-11-25T12:00:00Z", "not_after": "2036-11-23T12:00:00Z" },
      "rogue-client": { "expiry": "8760h",
                  "usages": ["digital signature", "key encipherment", "client auth"],
                  "not_before": "2026-11-25T12:00:00Z", "not_after": "2027-11-25T12:00:00Z" }
    }
  }
}
EOF

# csr NAME CN [O] [KEYALGO KEYSIZE] [HOSTS...] -> $WORK/NAME.json
csr() {
    local name=$1 cn=$2 o=${3:-} algo=${4:-rsa} size=${5:-2048}
    shift 5 || shift $#
    local hosts="" names=""
    if [ $# -gt 0 ]; then
        hosts=$(printf '"%s",' "$@"); hosts=${hosts%,}
    fi
    [ -n "$o" ] && names="\"names\": [{\"O\": \"$o\"}],"
    cat > "$WORK/$name.json" <<EOF
{ "CN": "$cn", $names "hosts": [$hosts], "key": { "algo": "$algo", "size": $size } }
EOF
}

# initca NAME CN DEST_CRT DEST_KEY [PROFILE]: self-signed CA, re-signed with the profile's dates
initca() {
    cat > "$WORK/$1.json" <<EOF
{ "CN": "$2", "key": { "algo": "rsa", "size": 2048 }, "ca": { "expiry": "87600h" } }
EOF
    (cd "$WORK" && cfssl gencert -initca "$1.json" 2>>"$WORK/cfssl.log" | cfssljson -bare "$1-init" \
        && cfssl sign -ca "$1-init.pem" -ca-key "$1-init-key.pem" -config config.json \
             -profile "${5:-ca}" "$1-init.csr" 2>>"$WORK/cfssl.log" | cfssljson -bare "$1")
    cp "$WORK/$1.pem" "$3"; cp "$WORK/$1-init-key.pem" "$4"
}

# sign NAME CA_CRT CA_KEY PROFILE DEST_CRT DEST_KEY   (csr already written)
sign() {
    (cd "$WORK" && cfssl gencert -ca "$2" -ca-key "$3" -config config.json -profile "$4" \
        "$1.json" 2>>"$WORK/cfssl.log" | cfssljson -bare "$1")
    cp "$WORK/$1.pem" "$5"; cp "$WORK/$1-key.pem" "$6"
}

NODE_HOSTS=(node1 localhost 127.0.0.1 ::1)

# ---------------------------------------------------------------- /etc/kubernetes/pki
initca ca kubernetes "$PKI/ca.crt" "$PKI/ca.key"
initca etcd-ca etcd-ca "$PKI/etcd/ca.crt" "$PKI/etcd/ca.key"
initca front-proxy-ca front-proxy-ca "$PKI/front-proxy-ca.crt" "$PKI/front-proxy-ca.key"

csr apiserver kube-apiserver "" rsa 2048 node1 kubernetes kubernetes.default \
    kubernetes.default.svc kubernetes.default.svc.cluster.local 10.96.0.1 127.0.0.1 ::1
sign apiserver "$PKI/ca.crt" "$PKI/ca.key" server "$PKI/apiserver.crt" "$PKI/apiserver.key"

csr apiserver-kubelet-client kube-apiserver-kubelet-client system:masters rsa 2048
sign apiserver-kubelet-client "$PKI/ca.crt" "$PKI/ca.key" client \
    "$PKI/apiserver-kubelet-client.crt" "$PKI/apiserver-kubelet-client.key"

csr apiserver-etcd-client kube-apiserver-etcd-client system:masters rsa 2048
sign apiserver-etcd-client "$PKI/etcd/ca.crt" "$PKI/etcd/ca.key" client \
    "$PKI/apiserver-etcd-client.crt" "$PKI/apiserver-etcd-client.key"

csr front-proxy-client front-proxy-client "" rsa 2048
sign front-proxy-client "$PKI/front-proxy-ca.crt" "$PKI/front-proxy-ca.key" client \
    "$PKI/front-proxy-client.crt" "$PKI/front-proxy-client.key"

csr etcd-server node1 "" rsa 2048 "${NODE_HOSTS[@]}"
sign etcd-server "$PKI/etcd/ca.crt" "$PKI/etcd/ca.key" peer "$PKI/etcd/server.crt" "$PKI/etcd/server.key"
csr etcd-peer node1 "" rsa 2048 "${NODE_HOSTS[@]}"
sign etcd-peer "$PKI/etcd/ca.crt" "$PKI/etcd/ca.key" peer "$PKI/etcd/peer.crt" "$PKI/etcd/peer.key"
csr etcd-healthcheck-client kube-etcd-healthcheck-client system:masters rsa 2048
sign etcd-healthcheck-client "$PKI/etcd/ca.crt" "$PKI/etcd/ca.key" client \
    "$PKI/etcd/healthcheck-client.crt" "$PKI/etcd/healthcheck-client.key"

openssl genrsa -traditional -out "$PKI/sa.key" 2048 2>/dev/null
openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null

# ---------------------------------------------------------------- kubeconfigs
b64() { base64 -w0 < "$1"; }

# kubeconfig FILE USER CRT KEY
kubeconfig() {
    cat > "$1" <<EOF
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(b64 "$PKI/ca.crt")
    server: https://127.0.0.1:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: $2
  name: $2@kubernetes
current-context: $2@kubernetes
kind: Config
preferences: {}
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$3")
    client-key-data: $(b64 "$4")
EOF
}

csr admin kubernetes-admin system:masters rsa 2048
sign admin "$PKI/ca.crt" "$PKI/ca.key" client "$WORK/admin.crt" "$WORK/admin.key"
kubeconfig "$NODE/etc/kubernetes/admin.conf" kubernetes-admin "$WORK/admin.crt" "$WORK/admin.key"

csr kubelet-conf system:node:node1 system:nodes rsa 2048
sign kubelet-conf "$PKI/ca.crt" "$PKI/ca.key" client "$WORK/kubelet-conf.crt" "$WORK/kubelet-conf.key"
kubeconfig "$NODE/etc/kubernetes/kubelet.conf" system:node:node1 "$WORK/kubelet-conf.crt" "$WORK/kubelet-conf.key"

csr controller-manager system:kube-controller-manager "" rsa 2048
sign controller-manager "$PKI/ca.crt" "$PKI/ca.key" client "$WORK/cm.crt" "$WORK/cm.key"
kubeconfig "$NODE/etc/kubernetes/controller-manager.conf" system:kube-controller-manager "$WORK/cm.crt" "$WORK/cm.key"

csr scheduler system:kube-scheduler "" rsa 2048
sign scheduler "$PKI/ca.crt" "$PKI/ca.key" client "$WORK/sched.crt" "$WORK/sched.key"
kubeconfig "$NODE/etc/kubernetes/scheduler.conf" system:kube-scheduler "$WORK/sched.crt" "$WORK/sched.key"

# ---------------------------------------------------------------- static pod manifests
cat > "$NODE/etc/kubernetes/manifests/kube-apiserver.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: 127.0.0.1:6443
  creationTimestamp: null
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=127.0.0.1
    - --allow-privileged=true
    - --authorization-mode=Node,RBAC
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --enable-admission-plugins=NodeRestriction
    - --enable-bootstrap-token-auth=true
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-servers=https://127.0.0.1:2379
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
    - --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname
    - --proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt
    - --proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key
    - --requestheader-allowed-names=front-proxy-client
    - --requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt
    - --requestheader-extra-headers-prefix=X-Remote-Extra-
    - --requestheader-group-headers=X-Remote-Group
    - --requestheader-username-headers=X-Remote-User
    - --secure-port=6443
    - --service-account-issuer=https://kubernetes.default.svc.cluster.local
    - --service-account-key-file=/etc/kubernetes/pki/sa.pub
    - --service-account-signing-key-file=/etc/kubernetes/pki/sa.key
    - --service-cluster-ip-range=10.96.0.0/12
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    image: registry.k8s.io/kube-apiserver:v1.31.2
    imagePullPolicy: IfNotPresent
    name: kube-apiserver
    resources:
      requests:
        cpu: 250m
    volumeMounts:
    - mountPath: /etc/ssl/certs
      name: ca-certs
      readOnly: true
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  volumes:
  - hostPath:
      path: /etc/ssl/certs
      type: DirectoryOrCreate
    name: ca-certs
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
status: {}
EOF

cat > "$NODE/etc/kubernetes/manifests/etcd.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://127.0.0.1:2379
  creationTimestamp: null
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://127.0.0.1:2379
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://127.0.0.1:2380
    - --initial-cluster=node1=https://127.0.0.1:2380
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --listen-client-urls=https://127.0.0.1:2379
    - --listen-metrics-urls=http://127.0.0.1:2381
    - --listen-peer-urls=https://127.0.0.1:2380
    - --name=node1
    - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt
    - --peer-client-cert-auth=true
    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key
    - --peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    - --snapshot-count=10000
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    image: registry.k8s.io/etcd:3.5.15-0
    imagePullPolicy: IfNotPresent
    name: etcd
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
    - mountPath: /etc/kubernetes/pki/etcd
      name: etcd-certs
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki/etcd
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
status: {}
EOF

# ---------------------------------------------------------------- /var/lib/kubelet
cat > "$KUBELET/config.yaml" <<'EOF'
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 0s
    cacheUnauthorizedTTL: 0s
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
rotateCertificates: true
serverTLSBootstrap: false
staticPodPath: /etc/kubernetes/manifests
tlsCertFile: /var/lib/kubelet/pki/kubelet.crt
tlsPrivateKeyFile: /var/lib/kubelet/pki/kubelet.key
EOF

csr kubelet-serving node1 "" rsa 2048 node1 127.0.0.1 ::1
sign kubelet-serving "$PKI/ca.crt" "$PKI/ca.key" server "$KUBELET/pki/kubelet.crt" "$KUBELET/pki/kubelet.key"

# rotated client certs: ECDSA P-256, cert + key in one PEM file (as the kubelet writes them)
for v in old:2026-11-20-10-00-00 new:2026-11-27-09-30-00; do
    prof=${v%%:*}; ts=${v#*:}
    csr "kubelet-client-$prof" system:node:node1 system:nodes ecdsa 256
    sign "kubelet-client-$prof" "$PKI/ca.crt" "$PKI/ca.key" "kubelet-client-$prof" \
        "$WORK/kc-$prof.crt" "$WORK/kc-$prof.key"
    cat "$WORK/kc-$prof.crt" "$WORK/kc-$prof.key" > "$KUBELET/pki/kubelet-client-$ts.pem"
done
ln -s /var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem "$KUBELET/pki/kubelet-client-current.pem"

# ---------------------------------------------------------------- pki-extra (broken variants)
# rogue CA: a different key with the same subject CN=kubernetes, and a node client cert from it
initca rogue-ca kubernetes "$EXTRA/rogue-ca.crt" "$EXTRA/rogue-ca.key" rogue-ca
csr rogue-client system:node:node1 system:nodes rsa 2048
sign rogue-client "$EXTRA/rogue-ca.crt" "$EXTRA/rogue-ca.key" rogue-client \
    "$EXTRA/rogue-client.crt" "$EXTRA/rogue-client.key"
# node client cert from the real CA but with serverAuth only (no clientAuth)
csr noclientauth-client system:node:node1 system:nodes rsa 2048
sign noclientauth-client "$PKI/ca.crt" "$PKI/ca.key" server \
    "$EXTRA/noclientauth-client.crt" "$EXTRA/noclientauth-client.key"
# kubelet serving cert from the real CA without IP SANs (DNS:node1 only)
csr kubelet-noipsan node1 "" rsa 2048 node1
sign kubelet-noipsan "$PKI/ca.crt" "$PKI/ca.key" server \
    "$EXTRA/kubelet-noipsan.crt" "$EXTRA/kubelet-noipsan.key"
# expired node client cert from the real CA
csr expired-client system:node:node1 system:nodes rsa 2048
sign expired-client "$PKI/ca.crt" "$PKI/ca.key" expired-client \
    "$EXTRA/expired-client.crt" "$EXTRA/expired-client.key"
# wrong identity: CN=system:node:node2 and O=system:authenticated (not system:nodes)
csr wrongid-client system:node:node2 system:authenticated rsa 2048
sign wrongid-client "$PKI/ca.crt" "$PKI/ca.key" client \
    "$EXTRA/wrongid-client.crt" "$EXTRA/wrongid-client.key"

# (no chmod 600 on the keys: git keeps only the exec bit, so a clone would differ anyway, and
# tests may run as another user)

# ---------------------------------------------------------------- checks
fail() { echo "pki.sh: CHECK FAILED: $*" >&2; exit 1; }
verify() {  # verify CAFILE CERT PURPOSE
    openssl verify -CAfile "$1" -purpose "$3" "$2" >/dev/null 2>&1 || fail "verify $2 against $1 ($3)"
}
verify "$PKI/ca.crt" "$PKI/apiserver.crt" sslserver
verify "$PKI/ca.crt" "$PKI/apiserver-kubelet-client.crt" sslclient
verify "$PKI/etcd/ca.crt" "$PKI/apiserver-etcd-client.crt" sslclient
verify "$PKI/front-proxy-ca.crt" "$PKI/front-proxy-client.crt" sslclient
verify "$PKI/etcd/ca.crt" "$PKI/etcd/server.crt" sslserver
verify "$PKI/etcd/ca.crt" "$PKI/etcd/peer.crt" sslclient
verify "$PKI/etcd/ca.crt" "$PKI/etcd/healthcheck-client.crt" sslclient
verify "$PKI/ca.crt" "$KUBELET/pki/kubelet.crt" sslserver
verify "$PKI/ca.crt" "$KUBELET/pki/kubelet-client-2026-11-20-10-00-00.pem" sslclient
verify "$PKI/ca.crt" "$KUBELET/pki/kubelet-client-2026-11-27-09-30-00.pem" sslclient
verify "$EXTRA/rogue-ca.crt" "$EXTRA/rogue-client.crt" sslclient
verify "$PKI/ca.crt" "$EXTRA/noclientauth-client.crt" sslserver
verify "$PKI/ca.crt" "$EXTRA/kubelet-noipsan.crt" sslserver
verify "$PKI/ca.crt" "$EXTRA/wrongid-client.crt" sslclient
! openssl verify -CAfile "$PKI/ca.crt" "$EXTRA/rogue-client.crt" >/dev/null 2>&1 || fail "rogue client verifies"
! openssl verify -CAfile "$PKI/ca.crt" -purpose sslclient "$EXTRA/noclientauth-client.crt" >/dev/null 2>&1 \
    || fail "noclientauth verifies as client"
! openssl verify -CAfile "$PKI/ca.crt" "$EXTRA/expired-client.crt" >/dev/null 2>&1 || fail "expired cert verifies"
openssl x509 -in "$EXTRA/expired-client.crt" -noout -checkend 0 >/dev/null && fail "expired cert not expired"
for k in "$KUBELET"/pki/kubelet-client-2*.pem; do
    grep -q 'BEGIN EC PRIVATE KEY' "$k" || fail "$k has no EC key"
    [ "$(openssl x509 -in "$k" -noout -pubkey | openssl sha256)" = \
      "$(openssl pkey -in "$k" -pubout | openssl sha256)" ] || fail "$k key mismatch"
done
[ "$(openssl x509 -in "$PKI/ca.crt" -noout -subject)" = "$(openssl x509 -in "$EXTRA/rogue-ca.crt" -noout -subject)" ] \
    || fail "rogue CA subject differs"
"$HERE/scripts/pki-variants.sh"
# the certificates of scripts/capture-k8s.sh (pki-extra/ was wiped above): see scripts/pki-k8s.sh
"$HERE/scripts/pki-k8s.sh"
# the fixtures of `certwire node`: copies of node/ with one problem each (node-broken/), signed
# with node/'s CA keys and pki-extra/'s keys: see scripts/node-broken.sh
"$HERE/scripts/node-broken.sh"
echo "pki.sh: PKI written to $NODE and $EXTRA"
