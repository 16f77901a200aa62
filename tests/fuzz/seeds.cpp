// seqmq_fuzz_seeds: the seed corpus of every harness (tests/fuzz/corpus/<harness>/), made with
// the project's own encoders and libnl, so that each seed is a valid encoding of today's wire.
//
//   seqmq_fuzz_seeds write DIR   writes DIR/<harness>/<seed> (DIR: tests/fuzz/corpus)
//   seqmq_fuzz_seeds check DIR   exit 1, naming them, if committed seeds differ from these
#include "fuzz_support.hpp"
#include "input_formats.hpp"

#include "wire/daemon_protocol.hpp"
#include "wire/frame.hpp"

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/tipc.h>
#include <linux/tipc_netlink.h>
#include <netinet/in.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace seqmq::detail;
namespace p = seqmq::detail::proto;
namespace f = seqmq_fuzz::formats;
using bytes = std::vector<std::byte>;

struct seed {
    std::string harness;
    std::string name;
    bytes data;
};

bytes text(std::string_view s) {
    const auto b = std::as_bytes(std::span(s));
    return {b.begin(), b.end()};
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const bytes& b : parts)
        out.insert(out.end(), b.begin(), b.end());
    return out;
}

template <class Body>
bytes encoded(const Body& body) {
    bytes out;
    p::writer w(out);
    p::encode(w, body);
    return out;
}

bytes result(int error) {
    bytes out;
    p::writer(out).i32(error).u32(0);
    return out;
}

bytes u64(std::uint64_t v) {
    bytes out;
    p::writer(out).u64(v);
    return out;
}

bytes record(frame_kind kind, std::int64_t type, std::uint64_t sequence, const bytes& payload) {
    auto r = p::start_record(kind, type, sequence);
    r.insert(r.end(), payload.begin(), payload.end());
    return p::finish_record(r);
}

bytes batch_entries(std::initializer_list<std::pair<long, std::string_view>> entries) {
    bytes out;
    for (const auto& [type, payload] : entries) {
        std::byte h[batch_entry::header_size];
        encode_batch_entry(h, type, std::uint32_t(payload.size()));
        out.insert(out.end(), std::begin(h), std::end(h));
        const bytes t = text(payload);
        out.insert(out.end(), t.begin(), t.end());
    }
    return out;
}

p::message_body message(std::int64_t type, std::uint64_t arrival, std::string_view data) {
    return {type, arrival, 4242, std::uint32_t(data.size()), std::as_bytes(std::span(data))};
}

p::stat_body stat(std::string name) {
    p::stat_body s;
    s.id = 7;
    s.mode = 0600;
    s.count = 2;
    s.bytes = 18;
    s.capacity = 16384;
    s.max_message_size = 8192;
    s.last_send_pid = 4242;
    s.send_time = 1'700'000'000'000'000'000;
    s.change_time = 1'700'000'000'000'000'000;
    s.waiting_receivers = 1;
    s.name = std::move(name);
    return s;
}

// --- fuzz_frame --------------------------------------------------------------------------------

void frame_seeds(std::vector<seed>& out) {
    auto add = [&](std::string name, bytes b) { out.push_back({"frame", std::move(name), b}); };
    add("data", record(frame_kind::data, 2, 1, text("Dancing Queen")));
    add("open_request", record(frame_kind::control_request, std::int64_t(p::opcode::open), 1,
                               encoded(p::open_request{p::open_create, 0600, 0, 0, "karaoke"})));
    add("stat_reply", record(frame_kind::control_reply, std::int64_t(p::opcode::stat), 3,
                             cat({result(0), encoded(stat("karaoke"))})));
    add("batch", record(frame_kind::data_batch, 3, 4,
                        batch_entries({{1, "Toxic"}, {2, "Africa"}, {7, ""}})));
    std::array<std::byte, mailbox_notice::size> n;
    encode(mailbox_notice{mailbox_control::hello, 8192, 16384}, n);
    add("hello", {n.begin(), n.end()});
    encode(mailbox_notice{mailbox_control::closing, EPROTO, 8192}, n);
    add("closing", {n.begin(), n.end()});
}

// --- fuzz_daemon_protocol ----------------------------------------------------------------------

void protocol_seeds(std::vector<seed>& out) {
    auto add = [&](std::string name, std::uint8_t selector, bytes body) {
        bytes b{std::byte{selector}};
        b.insert(b.end(), body.begin(), body.end());
        out.push_back({"daemon_protocol", std::move(name), b});
    };
    using f::request_body;
    add("open", f::selector(request_body::open),
        encoded(p::open_request{p::open_create | p::open_exclusive, 0640, 4096, 0, "karaoke"}));
    add("open_by_id", f::selector(request_body::open),
        encoded(p::open_request{p::open_by_id, 0, 0, 7, ""}));
    const std::string_view song = "Bohemian Rhapsody";
    add("send", f::selector(request_body::send),
        encoded(p::send_request{2, p::op_nowait, std::as_bytes(std::span(song))}));
    add("receive", f::selector(request_body::receive),
        encoded(p::receive_request{-5, p::op_noerror | p::op_nowait, 64}));
    const bytes entries = batch_entries({{1, "Toxic"}, {2, "Africa"}});
    add("send_many", f::selector(request_body::send_many),
        encoded(p::send_many_request{p::op_nowait, 2, entries}));
    add("receive_many", f::selector(request_body::receive_many),
        encoded(p::receive_many_request{3, p::op_except, 1024, 16}));
    add("ack_many", f::selector(request_body::ack_many), encoded(p::ack_many_body{2, 9}));
    add("peek", f::selector(request_body::peek), encoded(p::peek_request{1, p::op_except}));
    add("list", f::selector(request_body::list), encoded(p::list_request{p::list_with_data, 256}));
    add("set", f::selector(request_body::set),
        encoded(p::set_request{p::set_mode | p::set_capacity, 0644, 0, 0, 2048}));
    add("cancel", f::selector(request_body::single_u64), u64(3));

    add("open_reply", f::reply_selector(p::opcode::open),
        cat({result(0), encoded(p::open_reply{7, 8192, 16384})}));
    add("receive_reply", f::reply_selector(p::opcode::receive),
        cat({result(0), encoded(message(2, 1, "Dancing Queen"))}));
    add("no_message", f::reply_selector(p::opcode::peek), result(ENOMSG));
    bytes many = cat({result(0), encoded(p::batch_header{2})});
    {
        p::writer w(many);
        p::encode_entry(w, message(1, 4, "Toxic"));
        p::encode_entry(w, message(2, 5, "Africa"));
    }
    add("receive_many_reply", f::reply_selector(p::opcode::receive_many), many);
    bytes list = cat({result(0), encoded(p::list_part_header{2, 2, true})});
    {
        p::writer w(list);
        p::encode_entry(w, message(1, 4, "Toxic"));
        p::encode_entry(w, message(2, 5, ""));
    }
    add("list_reply", f::reply_selector(p::opcode::list), list);
    add("list_queues_reply", f::reply_selector(p::opcode::list_queues),
        cat({result(0), encoded(p::list_part_header{1, 1, true}), encoded(stat("karaoke"))}));
    add("stat_reply", f::reply_selector(p::opcode::stat),
        cat({result(0), encoded(stat("karaoke"))}));
    add("info_reply", f::reply_selector(p::opcode::info),
        cat({result(0),
             encoded(p::info_body{1, 2, 18, 3, 0, 1024, 16384, 8192, 1024, 4096, 1 << 28})}));
    add("send_many_reply", f::reply_selector(p::opcode::send_many), cat({result(0), u64(2)}));
    add("grant", f::notice_selector(p::opcode::grant), encoded(p::grant_body{4096, 64, 5}));
    add("closing", f::notice_selector(p::opcode::closing), result(EPROTO));
}

// --- fuzz_address ------------------------------------------------------------------------------

void address_seeds(std::vector<seed>& out) {
    for (const auto& [name, t] : std::initializer_list<std::pair<const char*, std::string_view>>{
             {"unix_path", "unix:/run/seqmq/seqmqd.sock"},
             {"unix_abstract", "unix:@karaoke"},
             {"tipc", "tipc:1000:1"},
             {"tipc_hex_node", "tipc:0x80000000:7/node"},
             {"tipc_cluster", "tipc:64:0/cluster"},
             {"auto", "auto:karaoke.player-1"},
             {"identity_name", "n1-host.a:b@c"},
             {"identity_hex", "0123456789abcdef0123456789abcdef"},
         })
        out.push_back({"address", name, text(t)});
}

// --- fuzz_tipc_netlink -------------------------------------------------------------------------

// One generic netlink message of the TIPC family, its attributes put by `fill`.
template <class Fill>
bytes genl_message(std::uint8_t command, int flags, Fill fill) {
    nl_msg* msg = ::nlmsg_alloc();
    ::genlmsg_put(msg, 0, 0, f::fake_tipc_family, 0, flags, command, TIPC_GENL_V2_VERSION);
    fill(msg);
    const nlmsghdr* h = ::nlmsg_hdr(msg);
    const auto* b = reinterpret_cast<const std::byte*>(h);
    bytes out(b, b + h->nlmsg_len);
    ::nlmsg_free(msg);
    return out;
}

bytes done_message(int error = 0) {
    bytes out(NLMSG_LENGTH(sizeof(int)));
    nlmsghdr h{std::uint32_t(out.size()), std::uint16_t(NLMSG_DONE), std::uint16_t(NLM_F_MULTI), 0,
               0};
    std::memcpy(out.data(), &h, sizeof h);
    std::memcpy(out.data() + NLMSG_HDRLEN, &error, sizeof error);
    return out;
}

bytes error_message(int error) { // error 0: an ack
    bytes out(NLMSG_LENGTH(sizeof(nlmsgerr)));
    nlmsghdr h{std::uint32_t(out.size()), std::uint16_t(NLMSG_ERROR), 0, 0, 0};
    std::memcpy(out.data(), &h, sizeof h);
    nlmsgerr e{};
    e.error = error;
    e.msg = {std::uint32_t(NLMSG_HDRLEN + GENL_HDRLEN), std::uint16_t(f::fake_tipc_family),
             std::uint16_t(NLM_F_REQUEST), 0, 0};
    std::memcpy(out.data() + NLMSG_HDRLEN, &e, sizeof e);
    return out;
}

bytes net_reply(std::string_view identity) {
    return genl_message(TIPC_NL_NET_GET, NLM_F_MULTI, [&](nl_msg* m) {
        nlattr* net = ::nla_nest_start(m, TIPC_NLA_NET);
        ::nla_put_u32(m, TIPC_NLA_NET_ID, 4711);
        std::uint64_t w[2] = {0, 0};
        std::memcpy(w, identity.data(), std::min(identity.size(), sizeof w));
        ::nla_put_u64(m, TIPC_NLA_NET_NODEID, w[0]);
        ::nla_put_u64(m, TIPC_NLA_NET_NODEID_W1, w[1]);
        ::nla_put_u32(m, TIPC_NLA_NET_ADDR, 0x1001001);
        ::nla_nest_end(m, net);
    });
}

void put_properties(nl_msg* m, int type) {
    nlattr* prop = ::nla_nest_start(m, type);
    ::nla_put_u32(m, TIPC_NLA_PROP_PRIO, 10);
    ::nla_put_u32(m, TIPC_NLA_PROP_TOL, 1500);
    ::nla_put_u32(m, TIPC_NLA_PROP_WIN, 50);
    ::nla_put_u32(m, TIPC_NLA_PROP_MTU, 1450);
    ::nla_nest_end(m, prop);
}

bytes bearers_reply() {
    const bytes eth = genl_message(TIPC_NL_BEARER_GET, NLM_F_MULTI, [](nl_msg* m) {
        nlattr* b = ::nla_nest_start(m, TIPC_NLA_BEARER);
        ::nla_put_string(m, TIPC_NLA_BEARER_NAME, "eth:veth0");
        put_properties(m, TIPC_NLA_BEARER_PROP);
        ::nla_nest_end(m, b);
    });
    const bytes udp = genl_message(TIPC_NL_BEARER_GET, NLM_F_MULTI, [](nl_msg* m) {
        nlattr* b = ::nla_nest_start(m, TIPC_NLA_BEARER);
        ::nla_put_string(m, TIPC_NLA_BEARER_NAME, "udp:n1");
        put_properties(m, TIPC_NLA_BEARER_PROP);
        nlattr* opts = ::nla_nest_start(m, TIPC_NLA_BEARER_UDP_OPTS);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_port = htons(6118);
        ::inet_pton(AF_INET, "10.0.0.1", &local.sin_addr);
        ::nla_put(m, TIPC_NLA_UDP_LOCAL, sizeof local, &local);
        sockaddr_in6 remote{};
        remote.sin6_family = AF_INET6;
        remote.sin6_port = htons(6118);
        ::inet_pton(AF_INET6, "ff02::1267", &remote.sin6_addr);
        ::nla_put(m, TIPC_NLA_UDP_REMOTE, sizeof remote, &remote);
        ::nla_put_flag(m, TIPC_NLA_UDP_MULTI_REMOTEIP);
        ::nla_nest_end(m, opts);
        ::nla_nest_end(m, b);
    });
    return cat({eth, udp});
}

bytes link_message(const char* name, bool broadcast) {
    return genl_message(TIPC_NL_LINK_GET, NLM_F_MULTI, [&](nl_msg* m) {
        nlattr* l = ::nla_nest_start(m, TIPC_NLA_LINK);
        ::nla_put_string(m, TIPC_NLA_LINK_NAME, name);
        if (broadcast) {
            ::nla_put_flag(m, TIPC_NLA_LINK_BROADCAST);
        } else {
            ::nla_put_flag(m, TIPC_NLA_LINK_UP);
            ::nla_put_flag(m, TIPC_NLA_LINK_ACTIVE);
            ::nla_put_u32(m, TIPC_NLA_LINK_MTU, 1500);
            ::nla_put_u32(m, TIPC_NLA_LINK_RX, 120);
            ::nla_put_u32(m, TIPC_NLA_LINK_TX, 130);
        }
        put_properties(m, TIPC_NLA_LINK_PROP);
        nlattr* stats = ::nla_nest_start(m, TIPC_NLA_LINK_STATS);
        ::nla_put_u32(m, TIPC_NLA_STATS_RX_INFO, 20);
        ::nla_put_u32(m, TIPC_NLA_STATS_TX_INFO, 30);
        ::nla_nest_end(m, stats);
        ::nla_nest_end(m, l);
    });
}

bytes node_message(std::uint32_t address) {
    return genl_message(TIPC_NL_NODE_GET, NLM_F_MULTI, [&](nl_msg* m) {
        nlattr* n = ::nla_nest_start(m, TIPC_NLA_NODE);
        ::nla_put_u32(m, TIPC_NLA_NODE_ADDR, address);
        ::nla_put_flag(m, TIPC_NLA_NODE_UP);
        ::nla_nest_end(m, n);
    });
}

bytes publication_message(std::uint32_t type, std::uint32_t lower, std::uint32_t upper) {
    return genl_message(TIPC_NL_NAME_TABLE_GET, NLM_F_MULTI, [&](nl_msg* m) {
        nlattr* t = ::nla_nest_start(m, TIPC_NLA_NAME_TABLE);
        nlattr* publ = ::nla_nest_start(m, TIPC_NLA_NAME_TABLE_PUBL);
        ::nla_put_u32(m, TIPC_NLA_PUBL_TYPE, type);
        ::nla_put_u32(m, TIPC_NLA_PUBL_LOWER, lower);
        ::nla_put_u32(m, TIPC_NLA_PUBL_UPPER, upper);
        ::nla_put_u32(m, TIPC_NLA_PUBL_SCOPE, TIPC_CLUSTER_SCOPE);
        ::nla_put_u32(m, TIPC_NLA_PUBL_NODE, 0x1001001);
        ::nla_put_u32(m, TIPC_NLA_PUBL_REF, 12345);
        ::nla_put_u32(m, TIPC_NLA_PUBL_KEY, 67890);
        ::nla_nest_end(m, publ);
        ::nla_nest_end(m, t);
    });
}

void tipc_seeds(std::vector<seed>& out) {
    using f::tipc_call;
    auto add = [&](std::string name, tipc_call call, std::string_view argument,
                   std::initializer_list<bytes> datagrams) {
        bytes b;
        seqmq_fuzz::put_step(b, f::tipc_first_op(call), text(argument));
        for (const bytes& d : datagrams)
            seqmq_fuzz::put_step(b, f::relative_sequence, d);
        out.push_back({"tipc_netlink", std::move(name), b});
    };
    add("node_info", tipc_call::get_node_info, "", {cat({net_reply("n1"), done_message()})});
    add("set_identity", tipc_call::set_node_identity, "n1",
        {cat({net_reply(""), done_message()}), error_message(0),
         cat({net_reply("n1"), done_message()})});
    bytes id(4);
    std::uint32_t network = htonl(4712);
    std::memcpy(id.data(), &network, sizeof network);
    {
        bytes b;
        seqmq_fuzz::put_step(b, f::tipc_first_op(tipc_call::set_network_id), id);
        seqmq_fuzz::put_step(b, f::relative_sequence, cat({net_reply(""), done_message()}));
        seqmq_fuzz::put_step(b, f::relative_sequence, error_message(-EPERM));
        seqmq_fuzz::put_step(b, f::relative_sequence, cat({net_reply(""), done_message()}));
        out.push_back({"tipc_netlink", "set_network_id_locked", b});
    }
    add("enable_eth_exists", tipc_call::enable_eth_bearer, "veth0",
        {error_message(-EINVAL), cat({bearers_reply(), done_message()})});
    add("enable_udp", tipc_call::enable_udp_bearer, "n1|10.0.0.1|",
        {cat({net_reply("n1"), done_message()}), error_message(0)});
    add("disable_missing", tipc_call::disable_bearer, "eth:veth0", {error_message(-EINVAL)});
    add("bearers", tipc_call::list_bearers, "", {bearers_reply(), done_message()});
    add("links", tipc_call::list_links, "",
        {cat({link_message("broadcast-link", true), link_message("n1:veth0-n2:veth0", false)}),
         done_message(), cat({node_message(0x1001001), node_message(0x1001002)}), done_message(),
         cat({net_reply("n1"), done_message()})});
    add("name_table", tipc_call::dump_name_table, "",
        {cat({publication_message(1000, 1, 1), publication_message(0, 1, 1)}),
         done_message(-EINTR)});
    add("no_tipc", tipc_call::list_bearers, "", {});
    out.back().data[0] =
        std::byte{f::tipc_first_op(tipc_call::list_bearers, f::tipc_family::missing)};
}

// --- fuzz_daemon_session -----------------------------------------------------------------------

class session_script {
public:
    using action = f::session_action;
    session_script& request(unsigned client, p::opcode op, const bytes& body = {}) {
        bytes b{std::byte(std::uint8_t(op))};
        b.insert(b.end(), body.begin(), body.end());
        seqmq_fuzz::put_step(out_, f::op(client, action::request), b);
        return *this;
    }
    session_script& data(unsigned client, std::int64_t type, std::string_view payload) {
        bytes b{std::byte(std::uint8_t(frame_kind::data))};
        p::writer(b).i64(type);
        const bytes t = text(payload);
        b.insert(b.end(), t.begin(), t.end());
        seqmq_fuzz::put_step(out_, f::op(client, action::framed), b);
        return *this;
    }
    session_script& batch(unsigned client,
                          std::initializer_list<std::pair<std::uint8_t, std::string_view>> e) {
        bytes b;
        for (const auto& [type, payload] : e) {
            b.push_back(std::byte{type});
            b.push_back(std::byte(std::uint8_t(payload.size())));
            const bytes t = text(payload);
            b.insert(b.end(), t.begin(), t.end());
        }
        seqmq_fuzz::put_step(out_, f::op(client, action::batch), b);
        return *this;
    }
    session_script& act(unsigned client, action a, const bytes& b = {}) {
        seqmq_fuzz::put_step(out_, f::op(client, a), b);
        return *this;
    }
    session_script& read(unsigned client) { return act(client, action::read); }
    session_script& open(unsigned client, const std::string& name, std::uint32_t flags) {
        return request(client, p::opcode::open, encoded(p::open_request{flags, 0600, 0, 0, name}));
    }
    session_script& send(unsigned client, std::int64_t type, std::string_view payload,
                         std::uint32_t flags = 0) {
        return request(client, p::opcode::send,
                       encoded(p::send_request{type, flags, std::as_bytes(std::span(payload))}));
    }
    session_script& receive(unsigned client, std::int64_t type, std::uint32_t flags,
                            std::uint64_t buffer) {
        return request(client, p::opcode::receive,
                       encoded(p::receive_request{type, flags, buffer}));
    }
    bytes done() const { return out_; }

private:
    bytes out_;
};

void session_seeds(std::vector<seed>& out) {
    using action = f::session_action;
    auto add = [&](std::string name, const session_script& s) {
        out.push_back({"daemon_session", std::move(name), s.done()});
    };
    add("send_receive_ack", session_script()
                                .open(0, "karaoke", p::open_create)
                                .send(0, 2, "Dancing Queen")
                                .receive(0, 0, p::op_nowait, 64)
                                .read(0)
                                .request(0, p::opcode::ack, u64(1))
                                .request(0, p::opcode::stat)
                                .read(0));
    add("wait_and_hand_over", session_script()
                                  .open(0, "q", p::open_create)
                                  .open(1, "q", 0)
                                  .receive(1, 5, 0, 16)
                                  .send(0, 5, "hello")
                                  .read(1)
                                  .request(1, p::opcode::ack, u64(1))
                                  .request(0, p::opcode::info)
                                  .read(0)
                                  .read(1));
    add("credit", session_script()
                      .open(0, "credit", p::open_create)
                      .send(0, 1, "first", p::op_nowait)
                      .read(0)
                      .data(0, 3, "on credit")
                      .batch(0, {{1, "Toxic"}, {2, "Africa"}})
                      .request(0, p::opcode::list, encoded(p::list_request{p::list_with_data, 256}))
                      .request(0, p::opcode::release)
                      .request(0, p::opcode::sync)
                      .read(0));
    add("delivery", session_script()
                        .open(0, "fast", p::open_create)
                        .request(0, p::opcode::attach, u64(256))
                        .read(0)
                        .open(1, "fast", 0)
                        .send(1, 1, "one")
                        .send(1, 2, "two")
                        .act(0, action::take)
                        .request(0, p::opcode::taken, cat({u64(1), bytes(8)}))
                        .act(0, action::take)
                        .request(0, p::opcode::wait_delivery)
                        .read(0)
                        .read(1)
                        .act(0, action::hang_up)
                        .act(1, action::repeat)
                        .read(1));
    add("control",
        session_script()
            .request(0, p::opcode::open,
                     encoded(p::open_request{p::open_private, 0640, 512, 0, ""}))
            .request(0, p::opcode::set,
                     encoded(p::set_request{p::set_mode | p::set_capacity, 0644, 0, 0, 2048}))
            .request(0, p::opcode::list_queues)
            .request(1, p::opcode::open, encoded(p::open_request{p::open_by_id, 0, 0, 1, ""}))
            .request(0, p::opcode::remove)
            .read(0)
            .read(1));
    add("many", session_script()
                    .open(0, "many", p::open_create)
                    .request(0, p::opcode::send_many,
                             encoded(p::send_many_request{
                                 0, 3, batch_entries({{1, "a"}, {2, "bb"}, {3, "ccc"}})}))
                    .request(0, p::opcode::receive_many,
                             encoded(p::receive_many_request{0, p::op_nowait, 1024, 2}))
                    .read(0)
                    .request(0, p::opcode::ack_many, encoded(p::ack_many_body{2, 2}))
                    .request(0, p::opcode::peek_at, u64(0))
                    .request(0, p::opcode::peek, encoded(p::peek_request{-2, 0}))
                    .read(0));
    add("backlog",
        session_script()
            .open(0, "backlog", p::open_create)
            .act(0, action::repeat, bytes{std::byte{60}, std::byte(std::uint8_t(p::opcode::stat))})
            .read(0));
    add("cancel", session_script()
                      .open(0, "wait", p::open_create)
                      .receive(0, 9, 0, 64)
                      .request(0, p::opcode::cancel, u64(2))
                      .read(0));
    add("refused_and_cut", session_script()
                               .open(0, "a", p::open_create)
                               .open(1, "a", 0)
                               .open(2, "a", 0)
                               .read(2)
                               .act(0, action::raw, record(frame_kind::control_request, 99, 2, {}))
                               .read(0)
                               .act(1, action::raw, text("not a record at all"))
                               .read(1));
}

// --- fuzz_mailbox ------------------------------------------------------------------------------

class mailbox_script {
public:
    using action = f::mailbox_action;
    mailbox_script& data(unsigned sender, std::int64_t type, std::string_view payload) {
        return framed(sender, frame_kind::data, type, text(payload));
    }
    mailbox_script& framed(unsigned sender, frame_kind kind, std::int64_t type,
                           const bytes& payload) {
        bytes b{std::byte(std::uint8_t(kind))};
        p::writer(b).i64(type);
        b.insert(b.end(), payload.begin(), payload.end());
        seqmq_fuzz::put_step(out_, f::op(sender, action::framed), b);
        return *this;
    }
    mailbox_script& receive(std::int64_t type, std::uint8_t flags, std::uint16_t buffer) {
        bytes b;
        p::writer(b).i64(type);
        b.push_back(std::byte{flags});
        p::writer(b).u16(buffer);
        seqmq_fuzz::put_step(out_, f::op(0, action::receive), b);
        return *this;
    }
    mailbox_script& act(unsigned sender, action a, const bytes& b = {}) {
        seqmq_fuzz::put_step(out_, f::op(sender, a), b);
        return *this;
    }
    bytes done() const { return out_; }

private:
    bytes out_;
};

void mailbox_seeds(std::vector<seed>& out) {
    using action = f::mailbox_action;
    auto add = [&](std::string name, const mailbox_script& s) {
        out.push_back({"mailbox", std::move(name), s.done()});
    };
    add("hello", mailbox_script().act(0, action::read).act(0, action::list).act(0, action::read));
    add("send_receive", mailbox_script()
                            .data(0, 2, "Dancing Queen")
                            .data(0, 1, "Toxic")
                            .receive(2, f::peek_first, 64)
                            .act(0, action::list)
                            .receive(0, 0, 64)
                            .receive(5, f::owned | f::wait_zero, 0));
    add("batch", mailbox_script()
                     .framed(0, frame_kind::data_batch, 3,
                             batch_entries({{1, "Toxic"}, {2, "Africa"}, {3, "Hello"}}))
                     .act(0, action::list)
                     .act(0, action::peek_at, bytes{std::byte{1}})
                     .receive(-2, 0, 64)
                     .receive(2, f::except, 64));
    add("too_long", mailbox_script()
                        .data(0, 1, std::string(200, 'x'))
                        .act(0, action::list)
                        .act(0, action::read));
    add("malformed", mailbox_script()
                         .act(0, action::raw, text("not a record at all"))
                         .act(0, action::list)
                         .act(0, action::read)
                         .act(0, action::hang_up)
                         .data(0, 1, "again"));
    // 4 x 120 bytes leave 32 of the 512 free: the next record waits in its socket.
    const std::string big(120, 'b');
    add("back_pressure", mailbox_script()
                             .data(0, 1, big)
                             .data(0, 1, big)
                             .data(0, 1, big)
                             .data(0, 1, big)
                             .data(0, 1, std::string(60, 'w'))
                             .data(1, 2, "small")
                             .act(0, action::list)
                             .receive(2, 0, 16)
                             .receive(0, 0, 256)
                             .act(0, action::list));
    add("truncate", mailbox_script()
                        .data(0, 7, std::string(60, 't'))
                        .receive(7, 0, 10)
                        .receive(7, f::noerror, 10)
                        .act(0, action::handle));
    add("three_senders", mailbox_script()
                             .data(0, 1, "a")
                             .data(1, 1, "b")
                             .data(2, 1, "c")
                             .act(0, action::list)
                             .act(2, action::read));
}

std::vector<seed> all_seeds() {
    std::vector<seed> s;
    frame_seeds(s);
    protocol_seeds(s);
    address_seeds(s);
    tipc_seeds(s);
    session_seeds(s);
    mailbox_seeds(s);
    return s;
}

bytes read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text(s);
}

} // namespace

int main(int argc, char** argv) {
    const std::string_view mode = argc == 3 ? argv[1] : "";
    if (mode != "write" && mode != "check") {
        std::fprintf(stderr, "usage: %s write|check DIR  (DIR: tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    const std::filesystem::path dir = argv[2];
    int stale = 0;
    for (const seed& s : all_seeds()) {
        const auto path = dir / s.harness / s.name;
        if (mode == "write") {
            std::filesystem::create_directories(path.parent_path());
            std::ofstream(path, std::ios::binary)
                .write(reinterpret_cast<const char*>(s.data.data()),
                       std::streamsize(s.data.size()));
        } else if (!std::filesystem::exists(path) || read_file(path) != s.data) {
            std::fprintf(stderr, "stale or missing seed: %s\n", path.c_str());
            ++stale;
        }
    }
    if (stale)
        std::fprintf(stderr, "regenerate them: %s write %s\n", argv[0], dir.c_str());
    return stale ? 1 : 0;
}
