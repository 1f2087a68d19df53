// exthdr-client: a Go crypto/tls (TLS 1.2) client whose TCP socket carries IPv6 extension
// headers. It sets the sticky socket options IPV6_HOPOPTS and/or IPV6_DSTOPTS before
// connect(), so the Linux kernel puts a Hop-by-Hop and/or Destination Options header in
// every IPv6 packet of the connection (SYN included). Used by
// captures/scripts/capture-links.sh for ipv6-exthdr.pcap (this kernel has no ip6tnl, so the
// tunnel-encapsulation-limit route is not available). Root is needed (CAP_NET_RAW).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

const (
	ipv6HopOpts = 54 // IPV6_HOPOPTS (linux/in6.h)
	ipv6DstOpts = 59 // IPV6_DSTOPTS
)

// One 8-octet options header: next-header (filled by the kernel), length 0 (= 8 octets),
// then option type 0x1e (RFC 4727 experimental; top bits 00 = "skip if unknown") with 4
// data octets "k8s\x00".
var optHdr = string([]byte{0, 0, 0x1e, 4, 'k', '8', 's', 0})

func main() {
	addr := flag.String("connect", "[2001:db8::2]:6443", "server address")
	certFile := flag.String("cert", "", "client certificate (PEM; may hold the key too)")
	keyFile := flag.String("key", "", "client key (PEM); default: same file as -cert")
	caFile := flag.String("ca", "", "CA bundle to verify the server; empty = no verification")
	sni := flag.String("sni", "kubernetes", "server name (SNI)")
	hop := flag.Bool("hopopts", false, "send a Hop-by-Hop Options header")
	dst := flag.Bool("dstopts", false, "send a Destination Options header")
	flag.Parse()

	cfg := &tls.Config{
		ServerName: *sni,
		MinVersion: tls.VersionTLS12,
		MaxVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
	}
	if *certFile != "" {
		k := *keyFile
		if k == "" {
			k = *certFile
		}
		pair, err := tls.LoadX509KeyPair(*certFile, k)
		if err != nil {
			fail(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fail(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		cfg.RootCAs = pool
	} else {
		cfg.InsecureSkipVerify = true
	}

	d := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				if *hop {
					if e := syscall.SetsockoptString(int(fd), syscall.IPPROTO_IPV6, ipv6HopOpts, optHdr); e != nil {
						serr = fmt.Errorf("IPV6_HOPOPTS: %w", e)
						return
					}
				}
				if *dst {
					if e := syscall.SetsockoptString(int(fd), syscall.IPPROTO_IPV6, ipv6DstOpts, optHdr); e != nil {
						serr = fmt.Errorf("IPV6_DSTOPTS: %w", e)
					}
				}
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	conn, err := tls.DialWithDialer(d, "tcp6", *addr, cfg)
	if err != nil {
		fail(err)
	}
	st := conn.ConnectionState()
	fmt.Fprintf(os.Stderr, "handshake ok: version %#x suite %s\n", st.Version, tls.CipherSuiteName(st.CipherSuite))
	// openssl s_server -www answers a GET with a status page.
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		fail(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := io.Copy(io.Discard, conn)
	fmt.Fprintf(os.Stderr, "read %d bytes\n", n)
	conn.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "exthdr-client:", err)
	os.Exit(1)
}
