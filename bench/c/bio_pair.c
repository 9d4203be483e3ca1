/*
 * The peer of bench scenario (a): a TLS client and server in one C thread, talking over
 * memory BIOs with the same loop as our in-memory engine (handshake, small request/reply,
 * close_notify both ways). Built by bench/engine.ts against the system libssl.
 *
 * usage: bio_pair <cert.pem> <key.pem> <tls1.2|tls1.3> <full|ticket|id> <count>
 * prints: {"handshakes":N,"wallSeconds":S,"cpuSeconds":C,"reused":R}
 *
 * bio_pair_addon.c includes this file (BIO_PAIR_NO_MAIN) to run the same loop inside node,
 * on node's own OpenSSL, in slices interleaved with ours.
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *what) {
  fprintf(stderr, "bio_pair: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

typedef struct {
  SSL *ssl;
  BIO *in;  /* network -> ssl */
  BIO *out; /* ssl -> network */
} end_t;

static void make_end(end_t *e, SSL_CTX *ctx, int server) {
  e->ssl = SSL_new(ctx);
  e->in = BIO_new(BIO_s_mem());
  e->out = BIO_new(BIO_s_mem());
  if (!e->ssl || !e->in || !e->out) die("SSL_new/BIO_new");
  BIO_set_mem_eof_return(e->in, -1);
  SSL_set_bio(e->ssl, e->in, e->out);
  if (server) SSL_set_accept_state(e->ssl); else SSL_set_connect_state(e->ssl);
}

/* move pending ciphertext from a to b */
static void pipe_bytes(end_t *a, end_t *b) {
  char buf[16384];
  int n;
  while ((n = BIO_read(a->out, buf, sizeof(buf))) > 0) BIO_write(b->in, buf, n);
}

static int step(end_t *self, end_t *peer) {
  int r = SSL_do_handshake(self->ssl);
  pipe_bytes(self, peer);
  if (r == 1) return 1;
  int err = SSL_get_error(self->ssl, r);
  if (err != SSL_ERROR_WANT_READ) die("handshake");
  return 0;
}


/* One configuration at a time: the contexts and the session carried from one connection to the next. */
static SSL_CTX *sctx, *cctx;
static SSL_SESSION *session;
static int resume;

static void bp_setup(const char *cert, const char *key, const char *protocol, const char *mode) {
  int tls13 = strcmp(protocol, "tls1.3") == 0;
  sctx = SSL_CTX_new(TLS_server_method());
  cctx = SSL_CTX_new(TLS_client_method());
  if (!sctx || !cctx) die("SSL_CTX_new");
  if (SSL_CTX_use_certificate_chain_file(sctx, cert) != 1) die("cert");
  if (SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) != 1) die("key");
  SSL_CTX_set_session_id_context(sctx, (const unsigned char *)"bench", 5);
  int version = tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(cctx, version);
  SSL_CTX_set_max_proto_version(cctx, version);
  if (strcmp(mode, "id") == 0) SSL_CTX_set_options(sctx, SSL_OP_NO_TICKET);
  resume = strcmp(mode, "full") != 0;
  session = NULL;
}

/* `count` connections; returns how many resumed. */
static long bp_run(long count) {
  static const char request[] = "GET / HTTP/1.0\r\n\r\n";
  char reply[100];
  memset(reply, 'x', sizeof(reply));
  char buf[16384];
  long reused = 0;
  for (long i = 0; i < count; i++) {
    end_t c, s;
    make_end(&c, cctx, 0);
    make_end(&s, sctx, 1);
    if (resume && session) SSL_set_session(c.ssl, session);
    int cd = 0, sd = 0, rounds = 0;
    while (!(cd && sd)) {
      if (!cd) cd = step(&c, &s);
      if (!sd) sd = step(&s, &c);
      if (++rounds > 32) die("handshake did not finish");
    }
    /* request / reply (the client's read also processes TLS 1.3 tickets) */
    if (SSL_write(c.ssl, request, sizeof(request) - 1) <= 0) die("client write");
    pipe_bytes(&c, &s);
    if (SSL_read(s.ssl, buf, sizeof(buf)) <= 0) die("server read");
    if (SSL_write(s.ssl, reply, sizeof(reply)) <= 0) die("server write");
    pipe_bytes(&s, &c);
    if (SSL_read(c.ssl, buf, sizeof(buf)) <= 0) die("client read");
    if (SSL_session_reused(c.ssl)) reused++;
    if (resume) {
      SSL_SESSION_free(session);          /* our one reference to the previous session */
      session = SSL_get1_session(c.ssl); /* +1, ours until the next connection or bp_teardown() */
    }
    /* close_notify both ways */
    SSL_shutdown(c.ssl);
    pipe_bytes(&c, &s);
    SSL_read(s.ssl, buf, sizeof(buf));
    SSL_shutdown(s.ssl);
    pipe_bytes(&s, &c);
    SSL_read(c.ssl, buf, sizeof(buf));
    SSL_free(c.ssl);
    SSL_free(s.ssl);
  }
  return reused;
}

static void bp_teardown(void) {
  SSL_SESSION_free(session);
  SSL_CTX_free(sctx);
  SSL_CTX_free(cctx);
  session = NULL;
  sctx = cctx = NULL;
}

#ifndef BIO_PAIR_NO_MAIN
static double now(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 6) die("usage: bio_pair cert key tls1.2|tls1.3 full|ticket|id count");
  long count = atol(argv[5]);
  bp_setup(argv[1], argv[2], argv[3], argv[4]);
  bp_run(1); /* warm-up connection that makes the first session */
  double wall0 = now(CLOCK_MONOTONIC), cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
  long reused = bp_run(count);
  double wall = now(CLOCK_MONOTONIC) - wall0;
  double cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  printf("{\"handshakes\":%ld,\"wallSeconds\":%.6f,\"cpuSeconds\":%.6f,\"reused\":%ld}\n", count, wall, cpu, reused);
  bp_teardown();
  return 0;
}
#endif
