// handshakes: N TLS 1.3 handshakes (mutual TLS, ECDSA P-256, Go crypto/tls as every Kubernetes
// component uses it) between a client and a server in this one process, over loopback, timed.
// benches/uprobe_overhead.sh runs it with and without certwire's uprobe on
// crypto/tls.(*Config).writeKeyLog to measure what the probe costs per handshake.
//
//	handshakes -n 2000 -port 18443   → prints "handshakes=2000 ns_per_handshake=..."
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"time"
)

func cert() tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bench"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func main() {
	n := flag.Int("n", 2000, "handshakes")
	port := flag.Int("port", 18443, "loopback port")
	flag.Parse()
	c := cert()
	ln, err := tls.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port), &tls.Config{
		Certificates: []tls.Certificate{c},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS13,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				conn.(*tls.Conn).Handshake()
				io.Copy(io.Discard, conn)
				conn.Close()
			}()
		}
	}()
	cfg := &tls.Config{Certificates: []tls.Certificate{c}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	start := time.Now()
	for i := 0; i < *n; i++ {
		conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		conn.Close()
	}
	el := time.Since(start)
	fmt.Printf("handshakes=%d ns_per_handshake=%d\n", *n, el.Nanoseconds()/int64(*n))
}
