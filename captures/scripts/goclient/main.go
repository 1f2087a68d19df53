// goclient: a Kubernetes-component-like TLS client (Go crypto/tls), used to make sample captures.
//
// It dials ADDR, does one TLS handshake with a client certificate taken from a kubeconfig's
// embedded client-certificate-data / client-key-data (what kubelet.conf holds) or from PEM files,
// verifies the server against the CA (kubeconfig certificate-authority-data or -ca), writes one
// line, reads the answer and closes. Go sends only the leaf certificate of its chain.
// Without -kubeconfig and -cert it sends no client certificate (an empty Certificate message
// if the server asks for one). With -get PATH it sends one HTTP/1.1 GET PATH request instead of
// the line and prints the whole response. With -keylog FILE it appends the NSS key log
// (tls.Config.KeyLogWriter) to FILE.
// With -insecure it does not verify the server at all (tls.Config.InsecureSkipVerify: kube-apiserver
// dialing kubelets without --kubelet-certificate-authority, or a Prometheus scraper with
// insecure_skip_verify); no CA is needed then. With -token T the -get request carries
// "Authorization: Bearer T". With -chain FILE the certificates in FILE are appended to the client
// certificate chain (Go then sends leaf + those, e.g. an intermediate CA).
// The CA may come from a kubeconfig's certificate-authority-data (-kubeconfig) or from -ca.
//
//	go build -o /tmp/goclient . && /tmp/goclient -kubeconfig kubelet.conf -addr 127.0.0.1:6443
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

func kubeconfigData(path string) (ca, cert, key []byte, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	get := func(field string) ([]byte, error) {
		for _, line := range strings.Split(string(raw), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, field+":") {
				return base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(line, field+":")))
			}
		}
		return nil, fmt.Errorf("%s: no %s", path, field)
	}
	if ca, err = get("certificate-authority-data"); err != nil {
		return
	}
	if cert, err = get("client-certificate-data"); err != nil {
		return
	}
	key, err = get("client-key-data")
	return
}

func main() {
	addr := flag.String("addr", "127.0.0.1:6443", "server address host:port")
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig with embedded certificate data")
	certFile := flag.String("cert", "", "client certificate PEM (instead of -kubeconfig)")
	keyFile := flag.String("key", "", "client key PEM (instead of -kubeconfig)")
	caFile := flag.String("ca", "", "CA PEM to verify the server (overrides the kubeconfig's)")
	serverName := flag.String("servername", "", "TLS server name (default: host of -addr; IPs send no SNI)")
	maxVersion := flag.String("max", "1.2", "highest TLS version: 1.2 or 1.3")
	alpn := flag.String("alpn", "h2,http/1.1", "ALPN protocols, comma separated (empty: none)")
	keylog := flag.String("keylog", "", "append NSS key log lines to this file")
	get := flag.String("get", "", "send one HTTP/1.1 GET request for this path (e.g. /health) instead of a line")
	insecure := flag.Bool("insecure", false, "do not verify the server certificate (InsecureSkipVerify)")
	bearer := flag.String("token", "", "with -get: send Authorization: Bearer TOKEN")
	chainFile := flag.String("chain", "", "PEM file of extra certificates (intermediates) sent after the client certificate")
	flag.Parse()

	var caPEM, certPEM, keyPEM []byte
	var err error
	if *kubeconfig != "" {
		if caPEM, certPEM, keyPEM, err = kubeconfigData(*kubeconfig); err != nil {
			fail(err)
		}
	}
	if *certFile != "" {
		if certPEM, err = os.ReadFile(*certFile); err != nil {
			fail(err)
		}
		if keyPEM, err = os.ReadFile(*keyFile); err != nil {
			fail(err)
		}
	}
	if *caFile != "" {
		if caPEM, err = os.ReadFile(*caFile); err != nil {
			fail(err)
		}
	}
	var certs []tls.Certificate
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			fail(err)
		}
		if *chainFile != "" {
			rest, err := os.ReadFile(*chainFile)
			if err != nil {
				fail(err)
			}
			for {
				var block *pem.Block
				if block, rest = pem.Decode(rest); block == nil {
					break
				}
				if block.Type == "CERTIFICATE" {
					pair.Certificate = append(pair.Certificate, block.Bytes)
				}
			}
		}
		certs = append(certs, pair)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) && !*insecure {
		fail(fmt.Errorf("no CA certificates"))
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fail(err)
	}
	cfg := &tls.Config{
		Certificates: certs,
		RootCAs:      pool,
		ServerName:   host,
		MaxVersion:   tls.VersionTLS12,
	}
	if *insecure {
		cfg.InsecureSkipVerify = true
	}
	if *serverName != "" {
		cfg.ServerName = *serverName
	}
	if *maxVersion == "1.3" {
		cfg.MaxVersion = tls.VersionTLS13
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
	raw, err := net.DialTimeout("tcp", *addr, 5*time.Second)
	if err != nil {
		fail(err)
	}
	conn := tls.Client(raw, cfg)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.Handshake(); err != nil {
		conn.Close()
		fail(fmt.Errorf("handshake: %w", err))
	}
	st := conn.ConnectionState()
	fmt.Fprintf(os.Stderr, "goclient: handshake ok: version=%#04x cipher=%s alpn=%q peer certs=%d\n",
		st.Version, tls.CipherSuiteName(st.CipherSuite), st.NegotiatedProtocol, len(st.PeerCertificates))
	if *get != "" {
		auth := ""
		if *bearer != "" {
			auth = "Authorization: Bearer " + *bearer + "\r\n"
		}
		req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: goclient\r\n%sConnection: close\r\n\r\n", *get, *addr, auth)
		if _, err := conn.Write([]byte(req)); err != nil {
			fail(err)
		}
		resp, err := io.ReadAll(conn)
		fmt.Fprintf(os.Stderr, "goclient: got %q\n", resp)
		if err != nil {
			fmt.Fprintf(os.Stderr, "goclient: read: %v\n", err)
		}
		conn.Close()
		return
	}
	if _, err := conn.Write([]byte("hello from goclient\n")); err != nil {
		fail(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Fprintf(os.Stderr, "goclient: read: %v\n", err)
	} else {
		fmt.Fprintf(os.Stderr, "goclient: got %q\n", line)
	}
	conn.Close()
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "goclient: %v\n", err)
	os.Exit(1)
}
