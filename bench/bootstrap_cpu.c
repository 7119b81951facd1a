/*
 * A fake Runtime API for bench/bootstrap_cpu.py: as cheap as a server can be (C, epoll, one
 * thread, canned replies), so that the bootstrap it serves is the bottleneck.
 *
 *   bootstrap_cpu_server WARM TOTAL EVENT_FILE
 *
 * Listens on 127.0.0.1 (an ephemeral port, printed as "port N"), answers
 * `GET …/invocation/next` with EVENT_FILE's bytes and the headers Swell's RuntimeAPIHandler
 * sends (Content-Type, Content-Length, Lambda-Runtime-Aws-Request-Id, -Deadline-Ms,
 * -Invoked-Function-Arn, -Trace-Id; head and body in one write), and any POST with
 * `202 Accepted {"status":"OK"}`, as fast as it is asked. After WARM posts it holds the next
 * `next`s, prints "warm" and waits for a line on stdin (the caller reads the bootstrap's CPU
 * once every loop is idle); then it serves TOTAL posts, prints
 * "done WALL_NS CPU_US" (its own utime + stime over those TOTAL) and holds every later `next`
 * until it is killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024

struct conn {
    int fd;
    char *buf;
    size_t len, cap;
    int held; /* a `next` waiting for the go */
};

static struct conn conns[MAX_CONNS];
static char *event;
static size_t event_len;
static unsigned long served;
static const char accepted[] = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { usleep(50); continue; }
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static char *reply_buf;

static void send_next(struct conn *c) {
    int n = sprintf(reply_buf,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
        "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe%08lx\r\n"
        "Lambda-Runtime-Deadline-Ms: 9999999999999\r\n"
        "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:swell:default:function:bench\r\n"
        "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\r\n",
        event_len, served++);
    memcpy(reply_buf + n, event, event_len);
    write_all(c->fd, reply_buf, (size_t)n + event_len);
}

static double cpu_us(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Content-Length of a request head (0 when absent). */
static size_t content_length(const char *head, size_t head_len) {
    const char *p = head, *end = head + head_len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (eol == NULL) eol = end;
        if (eol - p > 15 && strncasecmp(p, "content-length:", 15) == 0) return strtoul(p + 15, NULL, 10);
        p = eol + 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s WARM TOTAL EVENT_FILE\n", argv[0]); return 2; }
    unsigned long warm = strtoul(argv[1], NULL, 10), total = strtoul(argv[2], NULL, 10);
    FILE *f = fopen(argv[3], "rb");
    if (f == NULL) { perror("event"); return 2; }
    fseek(f, 0, SEEK_END);
    event_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    event = malloc(event_len + 1);
    if (fread(event, 1, event_len, f) != event_len) { perror("event"); return 2; }
    fclose(f);
    reply_buf = malloc(event_len + 1024);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 1024) < 0) { perror("listen"); return 1; }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    printf("port %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (int i = 0; i < MAX_CONNS; i++) conns[i].fd = -1;

    enum { WARMING, MEASURING, HOLDING } phase = warm > 0 ? WARMING : MEASURING;
    unsigned long posts = 0, base = 0;
    struct epoll_event sev = { .events = EPOLLIN, .data.fd = 0 };
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
    double cpu0 = 0;
    long long t0 = 0;
    if (phase == MEASURING) { cpu0 = cpu_us(); t0 = now_ns(); }
    struct epoll_event events[64];
    char rbuf[65536];
    for (;;) {
        int n = epoll_wait(ep, events, 64, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == 0) { /* the go line */
                char line[64];
                if (read(0, line, sizeof line) <= 0) return 0;
                if (phase != HOLDING || warm == (unsigned long)-1) continue;
                phase = MEASURING;
                base = posts;
                cpu0 = cpu_us();
                t0 = now_ns();
                for (int fd = 0; fd < MAX_CONNS; fd++) {
                    if (conns[fd].fd >= 0 && conns[fd].held) {
                        conns[fd].held = 0;
                        send_next(&conns[fd]);
                    }
                }
                continue;
            }
            if (events[i].data.fd == lfd) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (fd >= MAX_CONNS) { close(fd); continue; }
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conns[fd] = (struct conn){ .fd = fd, .buf = malloc(65536), .cap = 65536 };
                    struct epoll_event cev = { .events = EPOLLIN, .data.fd = fd };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            struct conn *c = &conns[events[i].data.fd];
            for (;;) {
                ssize_t r = read(c->fd, rbuf, sizeof rbuf);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    free(c->buf);
                    c->fd = -1;
                    break;
                }
                if (r < 0) break;
                if (c->len + (size_t)r > c->cap) {
                    while (c->len + (size_t)r > c->cap) c->cap *= 2;
                    c->buf = realloc(c->buf, c->cap);
                }
                memcpy(c->buf + c->len, rbuf, (size_t)r);
                c->len += (size_t)r;
                if ((size_t)r < sizeof rbuf) break;
            }
            if (c->fd < 0) continue;
            for (;;) { /* every complete request in the buffer */
                char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
                if (end == NULL) break;
                size_t head_len = (size_t)(end - c->buf);
                size_t body = content_length(c->buf, head_len);
                size_t whole = head_len + 4 + body;
                if (c->len < whole) break;
                int is_get = c->buf[0] == 'G';
                memmove(c->buf, c->buf + whole, c->len - whole);
                c->len -= whole;
                if (is_get) {
                    if (phase != HOLDING) send_next(c);
                    else c->held = 1;
                    continue;
                }
                write_all(c->fd, accepted, sizeof accepted - 1);
                posts++;
                if (phase == WARMING && posts == warm) {
                    phase = HOLDING; /* the loops still in flight finish; their next `next`s are held */
                    printf("warm\n");
                    fflush(stdout);
                } else if (phase == MEASURING && posts - base == total) {
                    double cpu = cpu_us() - cpu0;
                    printf("done %lld %.0f\n", now_ns() - t0, cpu);
                    fflush(stdout);
                    phase = HOLDING;
                    warm = (unsigned long)-1; /* never again */
                }
            }
        }
    }
}
