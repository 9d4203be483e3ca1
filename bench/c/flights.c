/*
 * TCP with the flights of a resumed TLS handshake and no TLS at all: the floor under any TLS
 * stack on the same sockets. Built and run by bench/floors.ts (scenarios b and c).
 *
 *   flights server REPLY_BYTES    prints its port, then serves one connection at a time,
 *                                 blocking, like s_server
 *   flights client PORT COUNT     COUNT connections after 50 unmeasured ones; prints
 *                                 {"handshakes","wallSeconds","cpuSeconds"}
 *
 * Per connection, as a resumed TLS 1.2 (or any TLS 1.3) handshake with a request and reply:
 * client 230 bytes (ClientHello) -> server 150 (ServerHello..Finished) -> client 120 (Finished +
 * request) -> server REPLY_BYTES then FIN (reply + close_notify) -> the client reads to the FIN
 * and closes (as s_time does: no close_notify). The node clients of bench/floors.ts send the
 * same flights.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char out[65536];
static char buf[65536];

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void set_nodelay(int s) {
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Reads until `want` bytes came (the peer's flight), or EOF/error: 0 when the flight is whole. */
static int read_flight(int s, size_t want) {
  size_t got = 0;
  while (got < want) {
    ssize_t n = read(s, buf, sizeof buf);
    if (n <= 0) return -1;
    got += (size_t)n;
  }
  return 0;
}

static void serve(size_t reply) {
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (ls < 0) die("socket");
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 128) != 0) die("listen");
  if (getsockname(ls, (struct sockaddr *)&a, &len) != 0) die("getsockname");
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    int s = accept(ls, NULL, NULL);
    if (s < 0) continue;
    set_nodelay(s);
    if (read_flight(s, 230) == 0 && write(s, out, 150) == 150 && read_flight(s, 120) == 0 &&
        write(s, out, reply) == (ssize_t)reply) {
      shutdown(s, SHUT_WR);
      while (read(s, buf, sizeof buf) > 0) {
      }
    }
    close(s);
  }
}

static double seconds(struct timespec t) { return (double)t.tv_sec + (double)t.tv_nsec / 1e9; }

static int client(int port, int count) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timespec t0, t1;
  struct rusage r0, r1;
  for (int i = -50; i < count; i++) {
    if (i == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t0);
      getrusage(RUSAGE_SELF, &r0);
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) die("socket");
    set_nodelay(s);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
    if (write(s, out, 230) != 230 || read_flight(s, 150) != 0 || write(s, out, 120) != 120) die("flight");
    while (read(s, buf, sizeof buf) > 0) {  // the reply, up to the server's FIN
    }
    close(s);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  getrusage(RUSAGE_SELF, &r1);
  double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
               (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
  printf("{\"handshakes\":%d,\"wallSeconds\":%.6f,\"cpuSeconds\":%.6f}\n", count, seconds(t1) - seconds(t0), cpu);
  return 0;
}

int main(int argc, char **argv) {
  memset(out, 'x', sizeof out);
  if (argc == 3 && strcmp(argv[1], "server") == 0) {
    long reply = atol(argv[2]);
    if (reply < 1 || reply > (long)sizeof out) {
      fprintf(stderr, "REPLY_BYTES must be 1..%zu\n", sizeof out);
      return 2;
    }
    serve((size_t)reply);
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "client") == 0) return client(atoi(argv[2]), atoi(argv[3]));
  fprintf(stderr, "usage: flights server REPLY_BYTES | flights client PORT COUNT\n");
  return 2;
}
