// TIPC configuration: one small function per netlink request, as iproute2's tipc/ does, and the
// public calls built from them.

#include <seqmq/tipc.hpp>

#include "sys/fd.hpp"
#include "tipc/netlink.hpp"

#include <arpa/inet.h>
#include <linux/tipc.h>
#include <linux/tipc_netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>

namespace seqmq::tipc {
namespace {

class tipc_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "seqmq.tipc"; }

    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::bad_node_identity:
            return "bad node identity: give a name of 1 to 16 characters of A-Z a-z 0-9 - _ . : "
                   "@, or 32 hex digits, not all zero";
        case errc::identity_already_set:
            return "node identity already set: TIPC accepts one identity per network namespace, "
                   "once";
        case errc::network_id_locked:
            return "the network id can no longer change: this node has joined its cluster";
        case errc::bad_network_id:
            return "bad network id: it must be 1 to 9999";
        case errc::bad_bearer_name:
            return "bad bearer name: the device or bearer name must be 1 to 15 bytes, no NUL";
        case errc::bad_ip_address:
            return "bad IP address: give a numeric IPv4 or IPv6 address";
        case errc::address_family_mismatch:
            return "the local and remote UDP addresses must be both IPv4 or both IPv6";
        case errc::bearer_already_enabled:
            return "bearer already enabled";
        case errc::no_such_bearer:
            return "no such bearer enabled";
        case errc::bad_reply:
            return "malformed reply from the kernel's TIPC netlink family";
        }
        return "unknown seqmq.tipc error " + std::to_string(value);
    }

    std::error_condition default_error_condition(int value) const noexcept override {
        switch (static_cast<errc>(value)) {
        case errc::bad_node_identity:
        case errc::bad_network_id:
        case errc::bad_bearer_name:
        case errc::bad_ip_address:
        case errc::address_family_mismatch:
            return std::errc::invalid_argument;
        case errc::identity_already_set:
        case errc::network_id_locked:
            return std::errc::operation_not_permitted;
        case errc::bearer_already_enabled:
            return std::errc::file_exists;
        case errc::no_such_bearer:
            return std::errc::no_such_device;
        case errc::bad_reply:
            return std::errc::protocol_error;
        }
        return {value, *this};
    }
};

std::unexpected<std::error_code> fail(errc e) {
    return std::unexpected(make_error_code(e));
}
std::unexpected<std::error_code> fail(std::error_code ec) {
    return std::unexpected(ec);
}

// iproute2's set of name characters (tipc/misc.c is_name).
bool is_name_char(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_' || c == '.' || c == ':' || c == '@';
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

} // namespace

const std::error_category& category() noexcept {
    static const tipc_category instance;
    return instance;
}

std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

// ---- node_identity ----

result<node_identity> node_identity::parse(std::string_view text) {
    bytes_type bytes{};
    if (text.size() == 2 * size) {
        for (std::size_t i = 0; i < size; ++i) {
            const int hi = hex_value(text[2 * i]);
            const int lo = hex_value(text[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return fail(errc::bad_node_identity);
            bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
        }
    } else {
        if (text.empty() || text.size() > size || !std::ranges::all_of(text, is_name_char))
            return fail(errc::bad_node_identity);
        std::memcpy(bytes.data(), text.data(), text.size());
    }
    node_identity id(bytes);
    if (id.empty())
        return fail(errc::bad_node_identity);
    return id;
}

bool node_identity::empty() const noexcept {
    return std::ranges::all_of(bytes_, [](std::uint8_t b) { return b == 0; });
}

std::string node_identity::hex() const {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * size);
    for (std::uint8_t b : bytes_) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0xf]);
    }
    return out;
}

std::optional<std::string> node_identity::name() const {
    const auto end = std::ranges::find(bytes_, std::uint8_t{0});
    const auto length = static_cast<std::size_t>(end - bytes_.begin());
    if (length == 0 || !std::all_of(end, bytes_.end(), [](std::uint8_t b) { return b == 0; }))
        return std::nullopt;
    std::string text(reinterpret_cast<const char*>(bytes_.data()), length);
    if (!std::ranges::all_of(text, is_name_char))
        return std::nullopt;
    return text;
}

std::string node_identity::to_string() const {
    return name().value_or(hex());
}

namespace {

using detail::netlink_attributes;
using detail::netlink_message;
using detail::netlink_socket;
using kind = netlink_message::kind;

node_identity identity_of_words(std::uint64_t w0, std::uint64_t w1) noexcept {
    // The kernel sends the 16 bytes as two u64 in host order (iproute2 does the same).
    node_identity::bytes_type bytes{};
    std::memcpy(bytes.data(), &w0, sizeof w0);
    std::memcpy(bytes.data() + sizeof w0, &w1, sizeof w1);
    return node_identity(bytes);
}

// An AF_TIPC socket answers what netlink does not: the node's own address (on kernels whose
// netlink reply leaves it out) and the identity behind a peer's address (SIOCGETNODEID).
class tipc_socket {
public:
    std::uint32_t own_address() {
        if (!open())
            return 0;
        sockaddr_tipc self{};
        socklen_t len = sizeof self;
        if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&self), &len) < 0)
            return 0;
        return self.addr.id.node;
    }

    node_identity identity_of(std::uint32_t node) {
        if (!open())
            return {};
        if (auto known = cache_.find(node); known != cache_.end())
            return known->second;
        tipc_sioc_nodeid_req request{};
        request.peer = node;
        node_identity id;
        if (::ioctl(fd_.get(), SIOCGETNODEID, &request) == 0) {
            node_identity::bytes_type bytes{};
            std::memcpy(bytes.data(), request.node_id, bytes.size());
            id = node_identity(bytes);
        }
        cache_.emplace(node, id);
        return id;
    }

private:
    bool open() {
        if (!fd_ && !tried_) {
            tried_ = true;
            fd_.reset(::socket(AF_TIPC, SOCK_RDM | SOCK_CLOEXEC, 0));
        }
        return static_cast<bool>(fd_);
    }

    detail::unique_fd fd_;
    bool tried_ = false;
    std::map<std::uint32_t, node_identity> cache_;
};

// ---- one function per netlink request ----

// One action request: `fill` puts its attributes, nested under `attribute`.
template <class Fill>
result<void> act(netlink_socket& nl, std::uint8_t command, int attribute, Fill fill) {
    auto msg = netlink_message::create(nl.family(), command, kind::act);
    if (!msg)
        return fail(msg.error());
    if (auto built = msg->nest(attribute, fill); !built)
        return built;
    return nl.transact(*msg);
}

// One dump request: every reply message parsed by `parse` (returning result<T>), in order.
template <class T, class Parse>
result<std::vector<T>> dump(netlink_socket& nl, std::uint8_t command, Parse parse) {
    auto msg = netlink_message::create(nl.family(), command, kind::dump);
    if (!msg)
        return fail(msg.error());
    std::vector<T> items;
    auto done = nl.transact(*msg, [&](const netlink_attributes& top) -> result<void> {
        auto item = parse(top);
        if (!item)
            return fail(item.error());
        items.push_back(std::move(*item));
        return {};
    });
    if (!done)
        return fail(done.error());
    return items;
}

// TIPC_NL_NET_GET (a dump of one entry): identity, address, network id.
result<node_info> request_net_get(netlink_socket& nl) {
    auto msg = netlink_message::create(nl.family(), TIPC_NL_NET_GET, kind::dump);
    if (!msg)
        return fail(msg.error());
    std::optional<node_info> info;
    auto done = nl.transact(*msg, [&](const netlink_attributes& top) -> result<void> {
        const auto net = top.nested(TIPC_NLA_NET, TIPC_NLA_NET_MAX);
        const auto id = net.u32(TIPC_NLA_NET_ID);
        if (!id)
            return fail(errc::bad_reply);
        node_info n;
        n.network_id = *id;
        n.identity = identity_of_words(net.u64(TIPC_NLA_NET_NODEID).value_or(0),
                                       net.u64(TIPC_NLA_NET_NODEID_W1).value_or(0));
        n.address = net.u32(TIPC_NLA_NET_ADDR).value_or(0);
        info = n;
        return {};
    });
    if (!done)
        return fail(done.error());
    if (!info)
        return fail(errc::bad_reply);
    if (info->address == 0)
        info->address = tipc_socket().own_address();
    return *info;
}

// TIPC_NL_NET_SET with the identity's two 64-bit words.
result<void> request_net_set_identity(netlink_socket& nl, const node_identity& id) {
    std::uint64_t w0, w1;
    std::memcpy(&w0, id.bytes().data(), sizeof w0);
    std::memcpy(&w1, id.bytes().data() + sizeof w0, sizeof w1);
    return act(nl, TIPC_NL_NET_SET, TIPC_NLA_NET, [&](netlink_message& m) -> result<void> {
        if (auto r = m.put_u64(TIPC_NLA_NET_NODEID, w0); !r)
            return r;
        return m.put_u64(TIPC_NLA_NET_NODEID_W1, w1);
    });
}

// TIPC_NL_NET_SET with the network id.
result<void> request_net_set_id(netlink_socket& nl, std::uint32_t network_id) {
    return act(nl, TIPC_NL_NET_SET, TIPC_NLA_NET,
               [&](netlink_message& m) { return m.put_u32(TIPC_NLA_NET_ID, network_id); });
}

// A socket address as the UDP media wants it (TIPC_NLA_UDP_LOCAL / _REMOTE): a sockaddr_in or
// sockaddr_in6 with the port. IPv6 accepts a %scope suffix (interface name or index).
struct udp_endpoint {
    sockaddr_storage storage{};
    std::size_t length = 0;

    int family() const noexcept { return storage.ss_family; }
    std::span<const std::byte> bytes() const noexcept {
        return {reinterpret_cast<const std::byte*>(&storage), length};
    }
};

result<udp_endpoint> parse_endpoint(std::string_view ip, std::uint16_t port) {
    if (ip.empty() || ip.find('\0') != std::string_view::npos)
        return fail(errc::bad_ip_address);
    udp_endpoint end;
    const std::string text(ip);
    if (auto* in = reinterpret_cast<sockaddr_in*>(&end.storage);
        ::inet_pton(AF_INET, text.c_str(), &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        end.length = sizeof(sockaddr_in);
        return end;
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&end.storage);
    const auto percent = text.find('%');
    const std::string address = text.substr(0, percent);
    if (::inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) != 1)
        return fail(errc::bad_ip_address);
    if (percent != std::string::npos) {
        const std::string scope = text.substr(percent + 1);
        unsigned index = ::if_nametoindex(scope.c_str());
        if (index == 0) {
            auto [ptr, ec] = std::from_chars(scope.data(), scope.data() + scope.size(), index);
            if (ec != std::errc{} || ptr != scope.data() + scope.size() || scope.empty())
                return fail(errc::bad_ip_address);
        }
        in6->sin6_scope_id = index;
    }
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    end.length = sizeof(sockaddr_in6);
    return end;
}

// "IP:PORT" or "[IPv6]:PORT" of a sockaddr the kernel sent; empty if it is neither.
std::string format_endpoint(std::span<const std::byte> raw) {
    if (raw.empty()) // the attribute is absent (an eth bearer): nothing to copy from
        return {};
    sockaddr_storage storage{};
    std::memcpy(&storage, raw.data(), std::min(raw.size(), sizeof storage));
    char text[INET6_ADDRSTRLEN] = {};
    if (storage.ss_family == AF_INET && raw.size() >= sizeof(sockaddr_in)) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
        ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
    }
    if (storage.ss_family == AF_INET6 && raw.size() >= sizeof(sockaddr_in6)) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    return {};
}

// "MEDIA:ID" with ID checked as the kernel checks an interface or bearer name.
result<std::string> bearer_name(std::string_view media, std::string_view id) {
    if (id.empty() || id.size() >= TIPC_MAX_IF_NAME || id.find('\0') != std::string_view::npos)
        return fail(errc::bad_bearer_name);
    return std::string(media) + ":" + std::string(id);
}

// TIPC_NL_BEARER_ENABLE; `udp` is given for UDP bearers only.
result<void> request_bearer_enable(netlink_socket& nl, std::string_view name,
                                   const std::pair<udp_endpoint, udp_endpoint>* udp) {
    return act(nl, TIPC_NL_BEARER_ENABLE, TIPC_NLA_BEARER, [&](netlink_message& m) -> result<void> {
        if (auto r = m.put_string(TIPC_NLA_BEARER_NAME, name); !r || !udp)
            return r;
        return m.nest(TIPC_NLA_BEARER_UDP_OPTS, [&](netlink_message& opts) -> result<void> {
            if (auto r = opts.put_bytes(TIPC_NLA_UDP_LOCAL, udp->first.bytes()); !r)
                return r;
            return opts.put_bytes(TIPC_NLA_UDP_REMOTE, udp->second.bytes());
        });
    });
}

// TIPC_NL_BEARER_DISABLE.
result<void> request_bearer_disable(netlink_socket& nl, std::string_view name) {
    return act(nl, TIPC_NL_BEARER_DISABLE, TIPC_NLA_BEARER,
               [&](netlink_message& m) { return m.put_string(TIPC_NLA_BEARER_NAME, name); });
}

// The properties (TIPC_NLA_PROP_*) that bearers and links both carry.
template <class Info>
void read_properties(const netlink_attributes& props, Info& info) {
    info.priority = props.u32(TIPC_NLA_PROP_PRIO).value_or(0);
    info.tolerance_ms = props.u32(TIPC_NLA_PROP_TOL).value_or(0);
    info.window = props.u32(TIPC_NLA_PROP_WIN).value_or(0);
}

// TIPC_NL_BEARER_GET as a dump: every enabled bearer.
result<std::vector<bearer_info>> request_bearer_dump(netlink_socket& nl) {
    return dump<bearer_info>(
        nl, TIPC_NL_BEARER_GET, [&](const netlink_attributes& top) -> result<bearer_info> {
            const auto bearer = top.nested(TIPC_NLA_BEARER, TIPC_NLA_BEARER_MAX);
            auto name = bearer.string(TIPC_NLA_BEARER_NAME);
            if (!name)
                return fail(errc::bad_reply);
            bearer_info b;
            b.name = std::move(*name);
            b.media = b.name.substr(0, b.name.find(':'));
            const auto props = bearer.nested(TIPC_NLA_BEARER_PROP, TIPC_NLA_PROP_MAX);
            read_properties(props, b);
            b.mtu = props.u32(TIPC_NLA_PROP_MTU).value_or(0);
            const auto udp = bearer.nested(TIPC_NLA_BEARER_UDP_OPTS, TIPC_NLA_UDP_MAX);
            b.udp_local = format_endpoint(udp.bytes(TIPC_NLA_UDP_LOCAL));
            b.udp_remote = format_endpoint(udp.bytes(TIPC_NLA_UDP_REMOTE));
            b.udp_replicast = udp.has(TIPC_NLA_UDP_MULTI_REMOTEIP);
            return b;
        });
}

// TIPC_NL_NODE_GET as a dump: the address of every node this one knows, itself included.
result<std::vector<std::uint32_t>> request_node_dump(netlink_socket& nl) {
    return dump<std::uint32_t>(
        nl, TIPC_NL_NODE_GET, [&](const netlink_attributes& top) -> result<std::uint32_t> {
            const auto address =
                top.nested(TIPC_NLA_NODE, TIPC_NLA_NODE_MAX).u32(TIPC_NLA_NODE_ADDR);
            if (!address)
                return fail(errc::bad_reply);
            return *address;
        });
}

// TIPC_NL_LINK_GET as a dump: the broadcast link, then each link to a peer.
result<std::vector<link_info>> request_link_dump(netlink_socket& nl) {
    return dump<link_info>(
        nl, TIPC_NL_LINK_GET, [&](const netlink_attributes& top) -> result<link_info> {
            const auto link = top.nested(TIPC_NLA_LINK, TIPC_NLA_LINK_MAX);
            auto name = link.string(TIPC_NLA_LINK_NAME);
            if (!name)
                return fail(errc::bad_reply);
            link_info l;
            l.name = std::move(*name);
            l.up = link.has(TIPC_NLA_LINK_UP);
            l.active = link.has(TIPC_NLA_LINK_ACTIVE);
            l.broadcast = link.has(TIPC_NLA_LINK_BROADCAST);
            // TIPC_NLA_LINK_DEST is not the peer (the kernel sends its own cluster mask there); the
            // peer is found by name afterwards.
            l.mtu = link.u32(TIPC_NLA_LINK_MTU).value_or(0);
            read_properties(link.nested(TIPC_NLA_LINK_PROP, TIPC_NLA_PROP_MAX), l);
            // As iproute2 counts: a unicast link's totals include protocol (info) messages.
            const auto stats = link.nested(TIPC_NLA_LINK_STATS, TIPC_NLA_STATS_MAX);
            const std::uint32_t rx_info = stats.u32(TIPC_NLA_STATS_RX_INFO).value_or(0);
            const std::uint32_t tx_info = stats.u32(TIPC_NLA_STATS_TX_INFO).value_or(0);
            if (l.broadcast) {
                l.rx_packets = rx_info;
                l.tx_packets = tx_info;
            } else {
                l.rx_packets = link.u32(TIPC_NLA_LINK_RX).value_or(0) - rx_info;
                l.tx_packets = link.u32(TIPC_NLA_LINK_TX).value_or(0) - tx_info;
            }
            return l;
        });
}

// How the kernel writes a node into a link name (tipc_nodeid2string, then the 32-bit address in
// hex when that is longer than 16 characters): the identity's bytes when they are all name
// characters or zero, else its hex digits without trailing zeros.
std::string link_name_part(const node_identity& id, std::uint32_t address) {
    std::string text;
    if (std::ranges::all_of(id.bytes(), [](std::uint8_t b) {
            return b == 0 || (is_name_char(static_cast<char>(b)));
        })) {
        for (std::uint8_t b : id.bytes()) {
            if (b == 0)
                break;
            text.push_back(static_cast<char>(b));
        }
    } else {
        text = id.hex();
        text.erase(text.find_last_not_of('0') + 1);
    }
    if (text.size() > 16) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "%x", address);
        text = hex;
    }
    return text;
}

// Links are named "SELF:IF-PEER:IF"; the peer is the known node whose name part follows the '-'.
void find_link_peers(std::vector<link_info>& links, std::span<const std::uint32_t> nodes,
                     std::uint32_t own_address) {
    tipc_socket sock;
    struct candidate {
        std::uint32_t address;
        node_identity identity;
        std::string marker;
    };
    std::vector<candidate> peers;
    for (std::uint32_t address : nodes) {
        if (address == own_address)
            continue;
        const node_identity id = sock.identity_of(address);
        peers.push_back({address, id, "-" + link_name_part(id, address) + ":"});
    }
    for (auto& link : links) {
        if (link.broadcast)
            continue;
        const candidate* best = nullptr;
        for (const auto& peer : peers)
            if (link.name.find(peer.marker) != std::string::npos &&
                (!best || peer.marker.size() > best->marker.size()))
                best = &peer;
        if (best) {
            link.peer = best->address;
            link.peer_identity = best->identity;
        }
    }
}

// TIPC_NL_NAME_TABLE_GET as a dump: every publication.
result<std::vector<publication>> request_name_table_dump(netlink_socket& nl) {
    auto msg = netlink_message::create(nl.family(), TIPC_NL_NAME_TABLE_GET, kind::dump);
    if (!msg)
        return fail(msg.error());
    std::vector<publication> table;
    tipc_socket nodes;
    auto done = nl.transact(*msg, [&](const netlink_attributes& top) -> result<void> {
        const auto publ = top.nested(TIPC_NLA_NAME_TABLE, TIPC_NLA_NAME_TABLE_MAX)
                              .nested(TIPC_NLA_NAME_TABLE_PUBL, TIPC_NLA_PUBL_MAX);
        const auto type = publ.u32(TIPC_NLA_PUBL_TYPE);
        const auto lower = publ.u32(TIPC_NLA_PUBL_LOWER);
        const auto upper = publ.u32(TIPC_NLA_PUBL_UPPER);
        if (!type || !lower || !upper)
            return fail(errc::bad_reply);
        publication p;
        p.type = *type;
        p.lower = *lower;
        p.upper = *upper;
        p.scope = static_cast<publication_scope>(
            publ.u32(TIPC_NLA_PUBL_SCOPE).value_or(TIPC_CLUSTER_SCOPE));
        p.node = publ.u32(TIPC_NLA_PUBL_NODE).value_or(0);
        p.node_id = nodes.identity_of(p.node);
        p.port = publ.u32(TIPC_NLA_PUBL_REF).value_or(0);
        p.key = publ.u32(TIPC_NLA_PUBL_KEY).value_or(0);
        table.push_back(p);
        return {};
    });
    if (!done)
        return fail(done.error());
    return table;
}

bool is_kernel_errno(const std::error_code& ec, int value) noexcept {
    return ec.category() == std::system_category() && ec.value() == value;
}

} // namespace

// ---- the public calls ----

result<node_info> get_node_info() {
    auto nl = netlink_socket::open();
    if (!nl)
        return fail(nl.error());
    return request_net_get(*nl);
}

result<node_identity> get_node_identity() {
    auto node = get_node_info();
    if (!node)
        return fail(node.error());
    return node->identity;
}

result<std::uint32_t> get_node_address() {
    auto node = get_node_info();
    if (!node)
        return fail(node.error());
    return node->address;
}

result<std::uint32_t> get_network_id() {
    auto node = get_node_info();
    if (!node)
        return fail(node.error());
    return node->network_id;
}

result<void> set_node_identity(const node_identity& id) {
    if (id.empty())
        return fail(errc::bad_node_identity);
    auto nl = netlink_socket::open();
    if (!nl)
        return fail(nl.error());
    auto before = request_net_get(*nl);
    if (!before)
        return fail(before.error());
    if (!before->identity.empty())
        return before->identity == id ? result<void>{} : fail(errc::identity_already_set);
    auto set = request_net_set_identity(*nl, id);
    // EPERM: the node has joined its cluster since we looked, or the caller lacks CAP_NET_ADMIN.
    if (!set && !is_kernel_errno(set.error(), EPERM))
        return set;
    // The kernel ignores a second identity without a word, so read back which one holds.
    auto after = request_net_get(*nl);
    if (!after)
        return fail(after.error());
    if (after->identity.empty())
        return set;
    return after->identity == id ? result<void>{} : fail(errc::identity_already_set);
}

result<void> set_node_identity(std::string_view text) {
    auto id = node_identity::parse(text);
    if (!id)
        return fail(id.error());
    return set_node_identity(*id);
}

result<void> set_network_id(std::uint32_t id) {
    if (id < 1 || id > 9999)
        return fail(errc::bad_network_id);
    auto nl = netlink_socket::open();
    if (!nl)
        return fail(nl.error());
    auto before = request_net_get(*nl);
    if (!before)
        return fail(before.error());
    if (before->network_id == id)
        return {};
    auto set = request_net_set_id(*nl, id);
    // The kernel refuses once the node's address is confirmed (it has joined its cluster).
    if (!set && is_kernel_errno(set.error(), EPERM)) {
        auto now = request_net_get(*nl);
        if (now && now->address != 0)
            return fail(errc::network_id_locked);
    }
    return set;
}

namespace {

// Tells a refusal to enable apart: the kernel answers EINVAL for a duplicate as for anything else.
result<void> enable_bearer(netlink_socket& nl, const std::string& name,
                           const std::pair<udp_endpoint, udp_endpoint>* udp) {
    auto enabled = request_bearer_enable(nl, name, udp);
    if (enabled || !is_kernel_errno(enabled.error(), EINVAL))
        return enabled;
    auto bearers = request_bearer_dump(nl);
    if (bearers && std::ranges::any_of(*bearers, [&](const auto& b) { return b.name == name; }))
        return fail(errc::bearer_already_enabled);
    return enabled;
}

// The multicast group iproute2 picks when no remote address is given.
std::string default_multicast(int family, std::uint32_t network_id) {
    if (family == AF_INET)
        return "228.0." + std::to_string((network_id >> 8) & 0xff) + "." +
               std::to_string(network_id & 0xff);
    return "ff02::" + std::to_string(network_id);
}

} // namespace

result<void> enable_eth_bearer(std::string_view device) {
    auto name = bearer_name("eth", device);
    if (!name)
        return fail(name.error());
    auto nl = netlink_socket::open();
    if (!nl)
        return fail(nl.error());
    return enable_bearer(*nl, *name, nullptr);
}

result<void> enable_udp_bearer(const udp_bearer_config& config) {
    auto name = bearer_name("udp", config.name);
    if (!name)
        return fail(name.error());
    auto local = parse_endpoint(config.local_ip, config.local_port);
    if (!local)
        return fail(local.error());
    auto nl = netlink_socket::open();
    if (!nl)
        return fail(nl.error());
    std::string remote_ip = config.remote_ip;
    if (remote_ip.empty()) {
        auto node = request_net_get(*nl);
        if (!node)
            return fail(node.error());
        remote_ip = default_multicast(local->family(), node->network_id);
    }
    auto remote = parse_endpoint(remote_ip, config.remote_port);
    if (!remote)
        return fail(remote.error());
    if (remote->family() != local->family())
        return fail(errc::address_family_mismatch);
    const std::pair endpoints{*local, *remote};
    auto enabled = enable_bearer(*nl, *name, &endpoints);
    // The UDP media answers ENODEV when no device of this namespace has the local address.
    if (!enabled && is_kernel_errno(enabled.error(), ENODEV))
        return fail(std::error_code(EADDRNOTAVAIL, std::system_category()));
    return enabled;
}

result<void> disable_bearer(std::string_view bearer_name) {
    if (bearer_name.empty() || bearer_name.size() >= TIPC_MAX_BEARER_NAME ||
        bearer_name.find('\0') != std::string_view::npos)
        return fail(errc::bad_bearer_name);
    auto nl = netlink_socket::open();
    if (!nl)
        return fail(nl.error());
    auto disabled = request_bearer_disable(*nl, bearer_name);
    // The kernel's one EINVAL here is "Bearer not found".
    if (!disabled && is_kernel_errno(disabled.error(), EINVAL))
        return fail(errc::no_such_bearer);
    return disabled;
}

result<void> disable_eth_bearer(std::string_view device) {
    auto name = bearer_name("eth", device);
    if (!name)
        return fail(name.error());
    return disable_bearer(*name);
}

result<void> disable_udp_bearer(std::string_view name) {
    auto full = bearer_name("udp", name);
    if (!full)
        return fail(full.error());
    return disable_bearer(*full);
}

result<std::vector<bearer_info>> list_bearers() {
    auto nl = netlink_socket::open();
    if (!nl)
        return fail(nl.error());
    return request_bearer_dump(*nl);
}

result<std::vector<link_info>> list_links() {
    auto nl = netlink_socket::open();
    if (!nl)
        return fail(nl.error());
    auto links = request_link_dump(*nl);
    if (!links || std::ranges::all_of(*links, [](const link_info& l) { return l.broadcast; }))
        return links;
    auto nodes = request_node_dump(*nl);
    if (!nodes)
        return fail(nodes.error());
    auto self = request_net_get(*nl);
    if (!self)
        return fail(self.error());
    find_link_peers(*links, *nodes, self->address);
    return links;
}

result<std::vector<publication>> dump_name_table() {
    auto nl = netlink_socket::open();
    if (!nl)
        return fail(nl.error());
    return request_name_table_dump(*nl);
}

} // namespace seqmq::tipc
