// k8sserver: an HTTPS server that does TLS and client authentication the way kube-apiserver and
// the kubelet do, used to make sample captures (scripts/capture-k8s.sh). Standard library only.
//
// TLS, as k8s.io/apiserver's secure serving and the kubelet's server configure it:
//
//	tls.Config{Certificates: -cert/-key, ClientAuth: tls.RequestClientCert,
//	           ClientCAs: every -clientca file, MinVersion: TLS 1.2}
//
// The server announces its client CAs in the CertificateRequest (kube-apiserver announces the
// union of --client-ca-file and --requestheader-client-ca-file, in that order) but the handshake
// completes whatever certificate the client sends, or none: nothing is verified in the handshake.
// It is served by net/http (http.Server.ServeTLS with TLSConfig and ErrorLog), so a failed
// handshake is logged by net/http itself as "http: TLS handshake error from ADDR: ERR", through
// the same writers the real programs use (see below). By default HTTP/2 is switched off
// (TLSNextProto set to an empty map, NextProtos unset: net/http then offers http/1.1 only), so
// ALPN selects http/1.1 where kube-apiserver would select h2: goclient -get speaks HTTP/1.1 only,
// and the sample captures made with it stay reproducible. With -h2 it is switched on as
// kube-apiserver does (k8s.io/apiserver secure_serving.go: tls.Config.NextProtos = ["h2",
// "http/1.1"] and HTTP/2 configured on the http.Server): TLSNextProto is left nil so net/http
// sets up its bundled HTTP/2 server, and the server selects h2 for clients that offer it
// (kubectl, client-go) and http/1.1 for the others (goclient offers h2 first but speaks only
// HTTP/1.1: use goclient -alpn http/1.1 against -h2). Upstream's http2.ConfigureServer tuning
// (MaxConcurrentStreams, MaxReadFrameSize, ...) is not copied: x/net is not standard library.
// Requests are answered and logged the same way over both protocols.
//
// Authentication, per request, as k8s.io/apiserver v0.31.2 (kube-apiserver v1.31.2, the version
// in captures/node/etc/kubernetes/manifests/kube-apiserver.yaml) does it: a union of
// authenticators tried in order, the first success wins, and if none succeeds their errors are
// aggregated (k8s.io/apimachinery util/errors: one error as itself, several de-duplicated and
// joined as "[a, b]"):
//
//  1. apiserver mode, when -clientca names more than one file: the request-header (front-proxy)
//     authenticator, pkg/authentication/request/x509 Verifier: PeerCertificates[0].Verify with
//     Roots = the 2nd and later -clientca files (--requestheader-client-ca-file), Intermediates =
//     PeerCertificates[1:], KeyUsages = [ClientAuth]. In v0.31.2 its error is returned as is
//     (not wrapped), then the CN must be in -requestheader-allowed-names, then the user comes
//     from the X-Remote-User / X-Remote-Group headers (none: no opinion).
//  2. the x509 authenticator (x509.go Authenticator.AuthenticateRequest): if
//     r.TLS.PeerCertificates is not empty, PeerCertificates[0].Verify(x509.VerifyOptions{Roots:
//     the FIRST -clientca file only (--client-ca-file, never the front-proxy CA), Intermediates:
//     PeerCertificates[1:], KeyUsages: [ClientAuth]}); on error
//     fmt.Errorf("verifying certificate %s failed: %w", certificateIdentifier(leaf), err) with
//     certificateIdentifier = "SN=<serial, decimal>, SKID=<hex>, AKID=<hex>", hex in upper case,
//     bytes separated by ':' (columnSeparatedHex), empty when the extension is absent: this is
//     the upstream code of v0.31.2, copied in behaviour. On success user = CN, groups = O
//     (CommonNameUserConversion; the real union then adds system:authenticated, not shown).
//  3. bearer token (stand-in for webhook token authentication): "Authorization: Bearer T" with
//     T == -token authenticates as -token-user / -token-groups; another token is the error
//     "invalid bearer token"; no header: no opinion.
//
// A request nobody authenticates is answered 401. In apiserver mode the error is logged as
// k8s.io/apiserver/pkg/endpoints/filters/authentication.go:73 does it,
// klog.ErrorS(err, "Unable to authenticate the request"), in klog's text format:
//
//	E1129 08:30:00.123456   12345 authentication.go:73] "Unable to authenticate the request" err="..."
//
// and the body is the Status object {"kind":"Status",...,"code":401} (plus the newline Go's JSON
// encoder writes). In kubelet mode it is logged like pkg/kubelet/server/server.go's auth filter,
// klog.ErrorS(err, "Unable to authenticate the request due to an error") (the file:line in
// that header is k8sserver's own: the upstream line was not checked), and the body is the plain
// "Unauthorized" go-restful writes. Anonymous requests (no certificate, no token) get 401 in both
// modes (the kubelet of node/var/lib/kubelet/config.yaml has anonymous auth off; a kube-apiserver
// with anonymous auth on would authenticate system:anonymous instead and then authorize).
// A request that is authenticated gets 200 and a small JSON naming the user and groups.
//
// Handshake errors: kube-apiserver sets http.Server.ErrorLog to a writer that logs lines
// containing "http: TLS handshake error" at klog verbosity 5 (secure_serving.go:299
// klog.V(5).Info): they appear only with -v 5 or more, as "I... secure_serving.go:299] http: TLS
// handshake error from ...". The kubelet sets no ErrorLog, so net/http writes to the standard
// logger, which the kubelet redirects to klog (component-base/logs KlogWriter,
// klog.InfoDepth(1, ...)): always logged, as "I... log.go:NNN] http: TLS handshake error from
// ..." with NNN the line in Go's log package that calls the writer (computed at run time).
// -no-serving-cert is the kubelet with serverTLSBootstrap: true whose serving CSR is not yet
// approved: tls.Config.GetCertificate returns the error "no serving certificate available for
// the kubelet", so crypto/tls answers the ClientHello with a fatal internal_error alert.
//
// Lines that start with "k8sserver[MODE]:" are k8sserver's own narration (connections, requests,
// the outcome of each request); the klog-format lines are the ones the real programs print.
//
//	go build -o /tmp/k8sserver . && /tmp/k8sserver -mode apiserver -cert apiserver.crt \
//	    -key apiserver.key -clientca ca.crt,front-proxy-ca.crt -n 4
//	/tmp/k8sserver -h2 ...   # ALPN h2 + http/1.1, as the real kube-apiserver (kubectl uses h2)
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	mode      = flag.String("mode", "apiserver", "apiserver or kubelet (log format, defaults)")
	addr      = flag.String("addr", "", "listen address (default 127.0.0.1:6443, kubelet 127.0.0.1:10250)")
	certFile  = flag.String("cert", "", "serving certificate PEM")
	keyFile   = flag.String("key", "", "serving key PEM")
	noServing = flag.Bool("no-serving-cert", false, "no serving certificate yet (kubelet serverTLSBootstrap, CSR pending): GetCertificate fails")
	token     = flag.String("token", "", "the bearer token that authenticates (webhook token auth stand-in); empty: none does")
	tokenUser = flag.String("token-user", "system:serviceaccount:monitoring:prometheus", "user name of -token")
	tokenGrps = flag.String("token-groups", "system:serviceaccounts,system:serviceaccounts:monitoring", "groups of -token, comma separated")
	allowed   = flag.String("requestheader-allowed-names", "front-proxy-client", "CNs the request-header authenticator accepts (apiserver mode), comma separated")
	verbosity = flag.Int("v", 0, "klog verbosity (apiserver mode logs TLS handshake errors at 5)")
	nConns    = flag.Int("n", 0, "exit after this many connections have closed (handshake failures included); 0: no limit")
	duration  = flag.Duration("duration", 60*time.Second, "exit after this long at the latest")
	useH2     = flag.Bool("h2", false, "enable HTTP/2 as kube-apiserver does (ALPN h2, http/1.1); default: HTTP/1.1 only")
)

type clientCAs []string

func (c *clientCAs) String() string { return strings.Join(*c, ",") }
func (c *clientCAs) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f != "" {
			*c = append(*c, f)
		}
	}
	return nil
}

var caFiles clientCAs

// ------------------------------------------------------------------ logging

var logMu sync.Mutex

func emit(s string) {
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	os.Stderr.WriteString(s)
}

// klogLine formats one line the way klog's text format does: severity, MMDD hh:mm:ss.uuuuuu,
// the thread id (klog prints the pid) right-aligned in 7 columns, file:line] message.
func klogLine(sev byte, file string, line int, msg string) string {
	now := time.Now()
	_, month, day := now.Date()
	h, m, s := now.Clock()
	return fmt.Sprintf("%c%02d%02d %02d:%02d:%02d.%06d %7d %s:%d] %s", sev, int(month), day, h, m, s,
		now.Nanosecond()/1000, os.Getpid(), file, line, msg)
}

// klogErrorS is klog.ErrorS(err, msg) in the text format: "msg" err="..." (strconv.Quote for a
// one-line value, as klog does).
func klogErrorS(file string, line int, err error, msg string) {
	emit(klogLine('E', file, line, strconv.Quote(msg)+" err="+strconv.Quote(err.Error())))
}

func here() (string, int) {
	_, file, line, _ := runtime.Caller(1)
	return filepath.Base(file), line
}

func narrate(format string, args ...interface{}) {
	emit(fmt.Sprintf("k8sserver[%s]: ", *mode) + fmt.Sprintf(format, args...))
}

// tlsHandshakeErrorWriter: k8s.io/apiserver/pkg/server/secure_serving.go (v0.31.2) sets
// http.Server.ErrorLog = log.New(&tlsHandshakeErrorWriter{os.Stderr}, "", 0); lines with
// "http: TLS handshake error" go to klog.V(5).Info (line 299), anything else to stderr.
type tlsHandshakeErrorWriter struct{}

func (tlsHandshakeErrorWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "http: TLS handshake error") {
		if *verbosity >= 5 {
			emit(klogLine('I', "secure_serving.go", 299, string(p)))
		}
		return len(p), nil
	}
	emit(string(p))
	return len(p), nil
}

// klogWriter: k8s.io/component-base/logs KlogWriter, which the kubelet installs as the standard
// logger's output: klog.InfoDepth(1, string(data)), i.e. the location of Write's caller (Go's
// log.(*Logger).Output).
type klogWriter struct{}

func (klogWriter) Write(p []byte) (int, error) {
	_, file, line, _ := runtime.Caller(1)
	emit(klogLine('I', filepath.Base(file), line, string(p)))
	return len(p), nil
}

// ------------------------------------------------------------------ authentication

type user struct {
	Name   string   `json:"user"`
	Groups []string `json:"groups"`
	By     string   `json:"authenticator"`
}

type authenticator func(r *http.Request) (*user, bool, error)

// columnSeparatedHex and certificateIdentifier: k8s.io/apiserver/pkg/authentication/request/x509/x509.go
func columnSeparatedHex(d []byte) string {
	h := strings.ToUpper(hex.EncodeToString(d))
	var sb strings.Builder
	for i, r := range h {
		sb.WriteRune(r)
		if i%2 == 1 && i != len(h)-1 {
			sb.WriteRune(':')
		}
	}
	return sb.String()
}

func certificateIdentifier(c *x509.Certificate) string {
	return fmt.Sprintf("SN=%d, SKID=%s, AKID=%s", c.SerialNumber,
		columnSeparatedHex(c.SubjectKeyId), columnSeparatedHex(c.AuthorityKeyId))
}

func verifyOptions(roots *x509.CertPool, peer []*x509.Certificate) x509.VerifyOptions {
	opts := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if len(peer) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range peer[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	return opts
}

// requestHeaderAuth: x509.Verifier (v0.31.2) wrapping the headerrequest authenticator.
func requestHeaderAuth(roots *x509.CertPool, allowedNames []string) authenticator {
	return func(r *http.Request) (*user, bool, error) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return nil, false, nil
		}
		peer := r.TLS.PeerCertificates
		if _, err := peer[0].Verify(verifyOptions(roots, peer)); err != nil {
			return nil, false, err
		}
		if len(allowedNames) > 0 {
			ok := false
			for _, n := range allowedNames {
				ok = ok || n == peer[0].Subject.CommonName
			}
			if !ok {
				return nil, false, fmt.Errorf("x509: subject with cn=%s is not in the allowed list", peer[0].Subject.CommonName)
			}
		}
		name := strings.TrimSpace(r.Header.Get("X-Remote-User"))
		if name == "" {
			return nil, false, nil
		}
		return &user{Name: name, Groups: r.Header.Values("X-Remote-Group"), By: "requestheader"}, true, nil
	}
}

// x509Auth: x509.Authenticator with CommonNameUserConversion.
func x509Auth(roots *x509.CertPool) authenticator {
	return func(r *http.Request) (*user, bool, error) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return nil, false, nil
		}
		peer := r.TLS.PeerCertificates
		chains, err := peer[0].Verify(verifyOptions(roots, peer))
		if err != nil {
			return nil, false, fmt.Errorf("verifying certificate %s failed: %w", certificateIdentifier(peer[0]), err)
		}
		for _, chain := range chains {
			if chain[0].Subject.CommonName == "" {
				continue
			}
			return &user{Name: chain[0].Subject.CommonName, Groups: chain[0].Subject.Organization, By: "x509"}, true, nil
		}
		return nil, false, nil
	}
}

// tokenAuth: bearertoken.Authenticator over a one-token "webhook".
func tokenAuth(want, name string, groups []string) authenticator {
	return func(r *http.Request) (*user, bool, error) {
		auth := strings.TrimSpace(r.Header.Get("Authorization"))
		if auth == "" {
			return nil, false, nil
		}
		parts := strings.SplitN(auth, " ", 3)
		if len(parts) < 2 || strings.ToLower(parts[0]) != "bearer" || parts[1] == "" {
			return nil, false, nil
		}
		if want != "" && parts[1] == want {
			return &user{Name: name, Groups: groups, By: "token"}, true, nil
		}
		return nil, false, errors.New("invalid bearer token")
	}
}

// aggregate: k8s.io/apimachinery/pkg/util/errors NewAggregate(errs).Error()
type aggregate []error

func (a aggregate) Error() string {
	if len(a) == 1 {
		return a[0].Error()
	}
	seen := map[string]bool{}
	var msgs []string
	for _, e := range a {
		if m := e.Error(); !seen[m] {
			seen[m] = true
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 1 {
		return msgs[0]
	}
	return "[" + strings.Join(msgs, ", ") + "]"
}

func union(auths []authenticator) authenticator {
	return func(r *http.Request) (*user, bool, error) {
		var errs []error
		for _, a := range auths {
			u, ok, err := a(r)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if ok {
				return u, true, nil
			}
		}
		if len(errs) == 0 {
			return nil, false, nil
		}
		return nil, false, aggregate(errs)
	}
}

// ------------------------------------------------------------------ server

func loadPool(files []string) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			fail(err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			fail(fmt.Errorf("no certificates in %s", f))
		}
	}
	return pool
}

func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "TLS 1.2"
	case tls.VersionTLS13:
		return "TLS 1.3"
	}
	return fmt.Sprintf("%#04x", v)
}

func main() {
	flag.Var(&caFiles, "clientca", "client CA PEM file(s), comma separated or repeated: the first is --client-ca-file (x509 authenticator); "+
		"in apiserver mode the others are --requestheader-client-ca-file (front-proxy). All are announced in CertificateRequest")
	flag.Parse()
	if *mode != "apiserver" && *mode != "kubelet" {
		fail(fmt.Errorf("-mode must be apiserver or kubelet"))
	}
	if *addr == "" {
		*addr = map[string]string{"apiserver": "127.0.0.1:6443", "kubelet": "127.0.0.1:10250"}[*mode]
	}
	if len(caFiles) == 0 {
		fail(fmt.Errorf("-clientca is required"))
	}

	announced := loadPool(caFiles)
	x509Roots := loadPool(caFiles[:1])
	auths := []authenticator{}
	if *mode == "apiserver" && len(caFiles) > 1 {
		rhRoots := loadPool(caFiles[1:])
		var names []string
		for _, n := range strings.Split(*allowed, ",") {
			if n != "" {
				names = append(names, n)
			}
		}
		auths = append(auths, requestHeaderAuth(rhRoots, names))
	}
	auths = append(auths, x509Auth(x509Roots))
	var tgroups []string
	for _, g := range strings.Split(*tokenGrps, ",") {
		if g != "" {
			tgroups = append(tgroups, g)
		}
	}
	auths = append(auths, tokenAuth(*token, *tokenUser, tgroups))
	authenticate := union(auths)

	cfg := &tls.Config{
		ClientAuth: tls.RequestClientCert,
		ClientCAs:  announced,
		MinVersion: tls.VersionTLS12,
	}
	if *useH2 {
		// secure_serving.go tlsConfig(): "enable HTTP2 for go's 1.7 HTTP Server" (--disable-http2 off)
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	if *noServing {
		cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			// pkg/kubelet/certificate: the certificate manager has no current certificate yet
			return nil, errors.New("no serving certificate available for the kubelet")
		}
	} else {
		pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fail(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}

	var errorLog *log.Logger
	if *mode == "apiserver" {
		errorLog = log.New(tlsHandshakeErrorWriter{}, "", 0)
	} else {
		errorLog = log.New(klogWriter{}, "", 0)
	}

	var (
		mu      sync.Mutex
		connNo  = map[string]int{}
		opened  int
		closed  int
		done    = make(chan struct{})
		doneOne sync.Once
	)
	reqNo := 0
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqNo++
		n, rn := connNo[r.RemoteAddr], reqNo
		mu.Unlock()
		var certs []string
		for _, c := range r.TLS.PeerCertificates {
			certs = append(certs, c.Subject.String())
		}
		tlsInfo := fmt.Sprintf("%s %s, ALPN %q, client certificates %q", tlsVersion(r.TLS.Version),
			tls.CipherSuiteName(r.TLS.CipherSuite), r.TLS.NegotiatedProtocol, certs)
		u, ok, err := authenticate(r)
		if err != nil || !ok {
			if err != nil {
				if *mode == "apiserver" {
					klogErrorS("authentication.go", 73, err, "Unable to authenticate the request")
				} else {
					f, l := here()
					klogErrorS(f, l, err, "Unable to authenticate the request due to an error")
				}
			}
			if *mode == "apiserver" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintln(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`)
			} else {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte("Unauthorized"))
			}
			narrate("request %d (connection %d, %s) %s %s: %s -> not authenticated -> 401", rn, n, r.RemoteAddr, r.Method, r.URL.Path, tlsInfo)
			return
		}
		body, _ := json.Marshal(struct {
			Kind string `json:"kind"`
			*user
			Path string `json:"path"`
		}{"k8sserver.Authenticated", u, r.URL.Path})
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(body, '\n'))
		narrate("request %d (connection %d, %s) %s %s: %s -> authenticated as user %q groups %q by %s -> 200", rn, n, r.RemoteAddr, r.Method, r.URL.Path, tlsInfo, u.Name, u.Groups, u.By)
	})

	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         cfg,
		ErrorLog:          errorLog,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, st http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			switch st {
			case http.StateNew:
				opened++
				connNo[c.RemoteAddr().String()] = opened
				narrate("connection %d from %s", opened, c.RemoteAddr())
			case http.StateClosed, http.StateHijacked:
				closed++
				narrate("connection %d from %s closed", connNo[c.RemoteAddr().String()], c.RemoteAddr())
				if *nConns > 0 && closed >= *nConns {
					doneOne.Do(func() { close(done) })
				}
			}
		},
	}
	alpnNote := "ALPN http/1.1"
	if *useH2 {
		alpnNote = "ALPN h2,http/1.1"
	} else {
		// HTTP/2 off: a non-nil empty map stops net/http from configuring its HTTP/2 server
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fail(err)
	}
	serving := *certFile
	if *noServing {
		serving = "none (GetCertificate fails)"
	}
	narrate("listening on %s: serving cert %s, ClientAuth RequestClientCert, ClientCAs %q (x509 authenticator: %s%s), MinVersion TLS 1.2, %s, %d authenticators, -v %d",
		ln.Addr(), serving, []string(caFiles), caFiles[0],
		map[bool]string{true: fmt.Sprintf("; request-header: %s", strings.Join(caFiles[1:], ",")), false: ""}[*mode == "apiserver" && len(caFiles) > 1],
		alpnNote, len(auths), *verbosity)
	if *mode == "apiserver" {
		emit(klogLine('I', "secure_serving.go", 213, "Serving securely on "+ln.Addr().String()))
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
			fail(err)
		}
	}()
	select {
	case <-done:
	case <-time.After(*duration):
		narrate("-duration %s reached", *duration)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	narrate("exiting after %d connections", closed)
}

func fail(err error) {
	emit(fmt.Sprintf("k8sserver[%s]: %v", *mode, err))
	os.Exit(1)
}
