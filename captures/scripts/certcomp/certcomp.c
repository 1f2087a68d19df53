/* certcomp: a TLS 1.3 server and client on BoringSSL (Debian's android-libboringssl, the
 * BoringSSL of Android 13) with RFC 8879 certificate compression switched on.
 *
 * BoringSSL implements RFC 8879 itself (the compress_certificate extension, the
 * CompressedCertificate handshake message, type 25, with algorithm, uncompressed length and
 * compressed bytes) but links no compression library: an application registers the algorithm's
 * compress / decompress functions with SSL_CTX_add_cert_compression_alg(), as Chrome does for
 * brotli. This program registers zlib (RFC 8879 algorithm 1, zlib's compress2/uncompress,
 * RFC 1950 format) and brotli (algorithm 2, libbrotli's one-shot encoder/decoder at its default
 * quality 11, window 22); nothing else in the handshake is touched.
 *
 * usage: certcomp server PORT CERT_CHAIN KEY CAFILE N ALGS
 *          TLS 1.3 only, on 0.0.0.0:PORT, N connections one after another; requires a client
 *          certificate verified against CAFILE (CertificateRequest CA names from CAFILE);
 *          ALGS = comma-separated algorithms in preference order (brotli,zlib); per
 *          connection: reads the request, answers "HTTP/1.1 200 OK" + "ok", close_notify.
 *        certcomp client HOST PORT CERT KEY CAFILE SERVERNAME ALG KEYLOG
 *          TLS 1.3 only; SNI SERVERNAME, ALPN h2,http/1.1; verifies the server chain with
 *          CAFILE; offers the one algorithm ALG (zlib, brotli, or none: no
 *          compress_certificate extension); appends the NSS key log
 *          lines to KEYLOG; sends "GET /healthz HTTP/1.1", prints the answer's first line.
 * Both print one "certcomp ...:" line about the handshake to stderr.
 * Build: gcc -I/usr/include/android certcomp.c -L/usr/lib/x86_64-linux-gnu/android
 *        -Wl,-rpath,/usr/lib/x86_64-linux-gnu/android -lssl -lcrypto -lz -lbrotlienc -lbrotlidec
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>

#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <openssl/pool.h>
#include <openssl/ssl.h>

#define ALG_ZLIB 1
#define ALG_BROTLI 2

static int zlib_compress(SSL *ssl, CBB *out, const uint8_t *in, size_t in_len) {
  uLongf n = compressBound(in_len);
  uint8_t *buf = malloc(n);
  int ok = buf && compress2(buf, &n, in, in_len, Z_BEST_COMPRESSION) == Z_OK &&
           CBB_add_bytes(out, buf, n);
  free(buf);
  return ok;
}

static int zlib_decompress(SSL *ssl, CRYPTO_BUFFER **out, size_t uncompressed_len,
                           const uint8_t *in, size_t in_len) {
  uLongf n = uncompressed_len;
  uint8_t *buf = malloc(uncompressed_len ? uncompressed_len : 1);
  int ok = buf && uncompress(buf, &n, in, in_len) == Z_OK && n == uncompressed_len;
  if (ok) *out = CRYPTO_BUFFER_new(buf, n, NULL);
  free(buf);
  return ok && *out != NULL;
}

static int brotli_compress(SSL *ssl, CBB *out, const uint8_t *in, size_t in_len) {
  size_t n = BrotliEncoderMaxCompressedSize(in_len);
  uint8_t *buf = malloc(n);
  int ok = buf && BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW,
                                        BROTLI_DEFAULT_MODE, in_len, in, &n, buf) &&
           CBB_add_bytes(out, buf, n);
  free(buf);
  return ok;
}

static int brotli_decompress(SSL *ssl, CRYPTO_BUFFER **out, size_t uncompressed_len,
                             const uint8_t *in, size_t in_len) {
  size_t n = uncompressed_len;
  uint8_t *buf = malloc(uncompressed_len ? uncompressed_len : 1);
  int ok = buf && BrotliDecoderDecompress(in_len, in, &n, buf) == BROTLI_DECODER_RESULT_SUCCESS &&
           n == uncompressed_len;
  if (ok) *out = CRYPTO_BUFFER_new(buf, n, NULL);
  free(buf);
  return ok && *out != NULL;
}

static void die(const char *what) {
  fprintf(stderr, "certcomp: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

static void add_alg(SSL_CTX *ctx, const char *name) {
  int ok;
  if (strcmp(name, "none") == 0)
    return;
  if (strcmp(name, "zlib") == 0)
    ok = SSL_CTX_add_cert_compression_alg(ctx, ALG_ZLIB, zlib_compress, zlib_decompress);
  else if (strcmp(name, "brotli") == 0)
    ok = SSL_CTX_add_cert_compression_alg(ctx, ALG_BROTLI, brotli_compress, brotli_decompress);
  else
    die("unknown algorithm (zlib, brotli)");
  if (!ok) die("SSL_CTX_add_cert_compression_alg");
}

static SSL_CTX *new_ctx(const char *cert, const char *key, const char *cafile) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
      !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
    die("SSL_CTX_new");
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) die("certificate");
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) die("private key");
  if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) die("CA file");
  return ctx;
}

static FILE *keylog_file;
static void keylog_cb(const SSL *ssl, const char *line) {
  fprintf(keylog_file, "%s\n", line);
  fflush(keylog_file);
}

static void describe(const char *who, SSL *ssl) {
  char subject[256] = "none";
  X509 *peer = SSL_get_peer_certificate(ssl);
  if (peer) {
    X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof subject);
    X509_free(peer);
  }
  fprintf(stderr, "certcomp %s: handshake ok, %s, %s, peer certificate %s, verify %ld\n", who,
          SSL_get_version(ssl), SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)), subject,
          (long)SSL_get_verify_result(ssl));
}

static int server(int argc, char **argv) {
  if (argc != 8) die("usage: certcomp server PORT CERT_CHAIN KEY CAFILE N ALGS");
  SSL_CTX *ctx = new_ctx(argv[3], argv[4], argv[5]);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(argv[5]);
  if (!names) die("client CA names");
  SSL_CTX_set_client_CA_list(ctx, names);
  char *algs = strdup(argv[7]);
  for (char *a = strtok(algs, ","); a; a = strtok(NULL, ",")) add_alg(ctx, a);

  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 8)) die("bind/listen");
  for (int i = atoi(argv[6]); i > 0; i--) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) die("accept");
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      fprintf(stderr, "certcomp server: handshake failed\n");
      ERR_print_errors_fp(stderr);
    } else {
      describe("server", ssl);
      char req[4096];
      int n = SSL_read(ssl, req, sizeof req - 1);
      (void)n;
      const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
      SSL_write(ssl, resp, strlen(resp));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
  }
  close(ls);
  return 0;
}

static int client(int argc, char **argv) {
  if (argc != 10) die("usage: certcomp client HOST PORT CERT KEY CAFILE SERVERNAME ALG KEYLOG");
  SSL_CTX *ctx = new_ctx(argv[4], argv[5], argv[6]);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  add_alg(ctx, argv[8]);
  keylog_file = fopen(argv[9], "a");
  if (!keylog_file) die("key log file");
  SSL_CTX_set_keylog_callback(ctx, keylog_cb);

  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
  if (getaddrinfo(argv[2], argv[3], &hints, &ai)) die("getaddrinfo");
  int fd = socket(ai->ai_family, SOCK_STREAM, 0);
  if (connect(fd, ai->ai_addr, ai->ai_addrlen)) die("connect");
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, argv[7]);
  static const uint8_t alpn[] = "\x02h2\x08http/1.1";
  SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1);
  if (SSL_connect(ssl) != 1) die("handshake failed");
  describe("client", ssl);
  char req[128];
  snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", argv[7]);
  SSL_write(ssl, req, strlen(req));
  char resp[4096];
  int n, got = 0;
  while ((n = SSL_read(ssl, resp + got, sizeof resp - 1 - got)) > 0) got += n;
  resp[got] = 0;
  char *eol = strstr(resp, "\r\n");
  if (eol) *eol = 0;
  fprintf(stderr, "certcomp client: answer: %s\n", resp);
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "server") == 0) return server(argc, argv);
  if (argc > 1 && strcmp(argv[1], "client") == 0) return client(argc, argv);
  die("usage: certcomp server|client ...");
  return 1;
}
