// Creating a veth pair over rtnetlink (libnl), for the tests that join network namespaces.
#pragma once

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include <cstdint>
#include <memory>
#include <string>

namespace seqmq::test {

/// Creates the veth pair NAME/PEER in the calling thread's namespace; PEER goes into the
/// namespace `peer_netns` (a file descriptor) if it is >= 0. The error text, empty on success.
inline std::string add_veth(const char* name, const char* peer, int peer_netns = -1) {
    std::unique_ptr<nl_sock, void (*)(nl_sock*)> sock(::nl_socket_alloc(), ::nl_socket_free);
    if (!sock)
        return "nl_socket_alloc failed";
    if (int rc = ::nl_connect(sock.get(), NETLINK_ROUTE); rc < 0)
        return std::string("nl_connect(NETLINK_ROUTE): ") + ::nl_geterror(rc);
    nl_msg* msg = ::nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    if (!msg)
        return "nlmsg_alloc_simple failed";
    ifinfomsg header{};
    header.ifi_family = AF_UNSPEC;
    ::nlmsg_append(msg, &header, sizeof header, NLMSG_ALIGNTO);
    ::nla_put_string(msg, IFLA_IFNAME, name);
    nlattr* info = ::nla_nest_start(msg, IFLA_LINKINFO);
    ::nla_put_string(msg, IFLA_INFO_KIND, "veth");
    nlattr* data = ::nla_nest_start(msg, IFLA_INFO_DATA);
    nlattr* other = ::nla_nest_start(msg, VETH_INFO_PEER);
    ::nlmsg_append(msg, &header, sizeof header, NLMSG_ALIGNTO);
    ::nla_put_string(msg, IFLA_IFNAME, peer);
    if (peer_netns >= 0)
        ::nla_put_u32(msg, IFLA_NET_NS_FD, static_cast<std::uint32_t>(peer_netns));
    ::nla_nest_end(msg, other);
    ::nla_nest_end(msg, data);
    ::nla_nest_end(msg, info);
    if (int rc = ::nl_send_sync(sock.get(), msg); rc < 0) // frees msg
        return std::string("creating veth ") + name + "/" + peer + ": " + ::nl_geterror(rc) +
               " (is the veth module loaded?)";
    return {};
}

} // namespace seqmq::test
