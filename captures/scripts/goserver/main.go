// goserver: a Kubernetes-apiserver-like TLS server (Go crypto/tls), used to make sample captures.
//
// It listens on ADDR with a server certificate, requires and verifies a client certificate
// against -clientca (tls.RequireAndVerifyClientCert, as kube-apiserver does with
// --client-ca-file when anonymous auth is off), and for each of -n connections: completes the
// TLS handshake (logging the error string verbatim if it fails, as net/http does: "http: TLS
// handshake error from ADDR: ERR"), reads one line (a request line or "hello ..."), answers with
// a short HTTP/1.1 response and closes (Close sends close_notify). Then it exits. Go sends only
// the leaf of its certificate chain. Default versions: Go 1.19's (TLS 1.2..1.3).
//
//	go build -o /tmp/goserver . && /tmp/goserver -cert apiserver.crt -key apiserver.key -clientca ca.crt
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6443", "listen address host:port")
	certFile := flag.String("cert", "", "server certificate PEM")
	keyFile := flag.String("key", "", "server key PEM")
	clientCA := flag.String("clientca", "", "CA PEM that client certificates must chain to")
	n := flag.Int("n", 1, "number of connections to serve, then exit")
	maxVersion := flag.String("max", "1.3", "highest TLS version: 1.2 or 1.3")
	alpn := flag.String("alpn", "http/1.1", "ALPN protocols the server accepts, comma separated (empty: none)")
	keylog := flag.String("keylog", "", "append NSS key log lines (server side) to this file")
	flag.Parse()

	pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		fail(err)
	}
	caPEM, err := os.ReadFile(*clientCA)
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		fail(fmt.Errorf("no CA certificates in %s", *clientCA))
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MaxVersion:   tls.VersionTLS13,
	}
	if *maxVersion == "1.2" {
		cfg.MaxVersion = tls.VersionTLS12
	}
	if *alpn != "" {
		cfg.NextProtos = strings.Split(*alpn, ",")
	}
	if *keylog != "" {
		f, err := os.OpenFile(*keylog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		cfg.KeyLogWriter = f
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "goserver: listening on %s\n", ln.Addr())
	for i := 1; i <= *n; i++ {
		raw, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		serve(i, tls.Server(raw, cfg))
	}
	ln.Close()
}

func serve(i int, conn *tls.Conn) {
	defer conn.Close()
	from := conn.RemoteAddr().String()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.Handshake(); err != nil {
		fmt.Fprintf(os.Stderr, "goserver: conn %d: http: TLS handshake error from %s: %v\n", i, from, err)
		return
	}
	st := conn.ConnectionState()
	subj := "none"
	if len(st.PeerCertificates) > 0 {
		subj = st.PeerCertificates[0].Subject.String()
	}
	fmt.Fprintf(os.Stderr, "goserver: conn %d: handshake ok from %s: version=%#04x cipher=%s alpn=%q client certs=%d (%s)\n",
		i, from, st.Version, tls.CipherSuiteName(st.CipherSuite), st.NegotiatedProtocol, len(st.PeerCertificates), subj)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Fprintf(os.Stderr, "goserver: conn %d: read: %v\n", i, err)
		return
	}
	fmt.Fprintf(os.Stderr, "goserver: conn %d: got %q\n", i, line)
	body := "ok\n"
	fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "goserver: %v\n", err)
	os.Exit(1)
}
