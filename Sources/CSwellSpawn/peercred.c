// Who is on the other end of a loopback TCP connection: the kernel's socket diagnostics
// (NETLINK_SOCK_DIAG, inet_diag) look the peer's socket up by its four-tuple and report the
// uid that created it. TCP has no SO_PEERCRED; this is its equivalent for local peers.
#include "CSwellSpawn.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int swell_loopback_peer_uid(unsigned int peer_addr_be, unsigned short peer_port,
                            unsigned int local_addr_be, unsigned short local_port, unsigned int *uid) {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return errno;

    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
    } message;
    memset(&message, 0, sizeof(message));
    message.header.nlmsg_len = sizeof(message);
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST;
    message.header.nlmsg_seq = 1;
    message.request.sdiag_family = AF_INET;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = ~0U;
    // The peer's own socket: its source is the peer's address, its destination ours.
    message.request.id.idiag_sport = htons(peer_port);
    message.request.id.idiag_dport = htons(local_port);
    message.request.id.idiag_src[0] = peer_addr_be;
    message.request.id.idiag_dst[0] = local_addr_be;
    message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof(kernel));
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd, &message, sizeof(message), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        int e = errno;
        close(fd);
        return e;
    }

    long buffer[2048 / sizeof(long)];
    ssize_t n;
    do {
        n = recv(fd, buffer, sizeof(buffer), 0);
    } while (n < 0 && errno == EINTR);
    int result = ENOENT;
    if (n < 0) {
        result = errno;
    } else {
        struct nlmsghdr *h = (struct nlmsghdr *)buffer;
        for (; NLMSG_OK(h, (unsigned int)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *err = (struct nlmsgerr *)NLMSG_DATA(h);
                result = err->error ? -err->error : ENOENT;
                break;
            }
            if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
                struct inet_diag_msg *diag = (struct inet_diag_msg *)NLMSG_DATA(h);
                if (diag->id.idiag_sport == htons(peer_port) && diag->id.idiag_dport == htons(local_port)) {
                    *uid = diag->idiag_uid;
                    result = 0;
                }
                break;
            }
            if (h->nlmsg_type == NLMSG_DONE) break;
        }
    }
    close(fd);
    return result;
}
