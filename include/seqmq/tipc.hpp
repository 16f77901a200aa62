// seqmq — TIPC configuration over generic netlink (family "TIPCv2"), as iproute2's `tipc` does.
#pragma once

#include <seqmq/error.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

/// Configures TIPC in the caller's network namespace: node identity, network id, bearers, and
/// reads links and the name table. Each call opens its own generic netlink socket, so it acts on
/// the network namespace the calling thread is in at the time of the call.
///
/// Errors every call here can return, besides those it lists:
///  - seqmq::errc::backend_unavailable ("TIPC not available in this kernel") when the generic
///    netlink family "TIPCv2" does not exist (the kernel lacks TIPC);
///  - errno values the kernel answers with, in std::system_category() (so `ec ==
///    std::errc::operation_not_permitted` without CAP_NET_ADMIN, and so on);
///  - libnl's NLE_* codes, in netlink_category(), when the netlink socket itself fails;
///  - errc::bad_reply when a kernel reply lacks an attribute it always sends.
namespace seqmq::tipc {

/// Conditions of TIPC configuration that are seqmq's own. Each compares equal to the std::errc
/// condition named in its comment.
enum class errc {
    bad_node_identity = 1,   ///< not a name of 1 to 16 characters of A-Z a-z 0-9 - _ . : @ nor 32
                             ///< hex digits, or all zero; invalid_argument
    identity_already_set,    ///< the node already has another identity: TIPC takes one per
                             ///< network namespace, once; operation_not_permitted
    network_id_locked,       ///< the network id can no longer change: the node has joined its
                             ///< cluster; operation_not_permitted
    bad_network_id,          ///< network id outside 1..9999; invalid_argument
    bad_bearer_name,         ///< device or bearer name empty, over 15 bytes or with a NUL;
                             ///< invalid_argument
    bad_ip_address,          ///< not a numeric IPv4 or IPv6 address; invalid_argument
    address_family_mismatch, ///< local and remote UDP addresses of different families;
                             ///< invalid_argument
    bearer_already_enabled,  ///< a bearer of that name is already enabled; file_exists
    no_such_bearer,          ///< no bearer of that name is enabled; no_such_device
    bad_reply,               ///< a kernel reply lacks an attribute it always sends; protocol_error
};

/// The category of seqmq::tipc::errc.
const std::error_category& category() noexcept;

/// Makes an error_code of seqmq::tipc's category.
std::error_code make_error_code(errc e) noexcept;

/// The category of libnl's NLE_* codes (positive values), with libnl's messages. Codes that have
/// an errno counterpart compare equal to it (NLE_NOMEM to std::errc::not_enough_memory, ...).
const std::error_category& netlink_category() noexcept;

/// A TIPC node identity: 128 bits, written either as a name of up to 16 characters (its bytes,
/// zero-padded, as iproute2 does) or as 32 hex digits. All zero means "not set".
class node_identity {
public:
    static constexpr std::size_t size = 16; ///< bytes in an identity
    using bytes_type = std::array<std::uint8_t, size>;

    /// The empty identity (all zero): the node has none yet.
    constexpr node_identity() noexcept = default;
    /// The identity with these 16 bytes, as the kernel stores it.
    explicit constexpr node_identity(const bytes_type& bytes) noexcept : bytes_(bytes) {}

    /// Parses exactly 32 hex digits, or else a name of 1 to 16 characters of A-Z a-z 0-9 - _ . :
    /// @ (the name's bytes, zero-padded). Errors: bad_node_identity, also for all-zero hex.
    static result<node_identity> parse(std::string_view text);

    /// The 16 bytes.
    const bytes_type& bytes() const noexcept { return bytes_; }

    /// Whether this is the empty identity (all zero: none set).
    bool empty() const noexcept;

    /// The 32 lowercase hex digits of the 16 bytes.
    std::string hex() const;

    /// The name, when the bytes are a name as parse() accepts one (printable characters followed
    /// by zero padding); std::nullopt otherwise (an identity TIPC made from a MAC or IP address).
    std::optional<std::string> name() const;

    /// name() if there is one, else hex(). For a non-empty identity, parse(to_string()) gives
    /// back an equal identity.
    std::string to_string() const;

    friend bool operator==(const node_identity&, const node_identity&) = default;

private:
    bytes_type bytes_{};
};

/// What TIPC says about this node.
struct node_info {
    node_identity identity; ///< empty until set (enabling the first bearer also makes one)
    /// The node's 32-bit address: a hash of the identity, or a legacy Z.C.N address
    /// (Z<<24 | C<<12 | N). 0 until TIPC has confirmed it, a moment after the first bearer is up.
    std::uint32_t address = 0;
    std::uint32_t network_id = 0; ///< the cluster's network id; TIPC's default is 4711
};

/// Reads identity, address and network id in one request.
/// Errors: only the common ones above.
result<node_info> get_node_info();

/// This node's identity; empty when none is set yet.
/// Errors: only the common ones above.
result<node_identity> get_node_identity();

/// Sets this node's identity. TIPC accepts an identity once per network namespace: setting the
/// identity the node already has succeeds and changes nothing.
/// Errors: bad_node_identity if `id` is empty; identity_already_set if the node has another
/// identity (also when a bearer made one); operation_not_permitted without CAP_NET_ADMIN.
result<void> set_node_identity(const node_identity& id);

/// Parses `text` as node_identity::parse() does and sets it.
/// Errors: bad_node_identity, identity_already_set, operation_not_permitted.
result<void> set_node_identity(std::string_view text);

/// This node's 32-bit (legacy) address, as get_node_info().address.
/// Errors: only the common ones above.
result<std::uint32_t> get_node_address();

/// The network id of the cluster this node belongs to.
/// Errors: only the common ones above.
result<std::uint32_t> get_network_id();

/// Sets the network id (1..9999). Only nodes with the same id form a cluster.
/// Errors: bad_network_id if outside 1..9999; network_id_locked once the node has joined its
/// cluster (its address is confirmed); operation_not_permitted without CAP_NET_ADMIN.
result<void> set_network_id(std::uint32_t id);

/// The UDP port TIPC bearers use on both ends unless told otherwise.
inline constexpr std::uint16_t default_udp_port = 6118;

/// A UDP bearer to enable: TIPC over UDP/IP, for nodes that share no Ethernet segment.
struct udp_bearer_config {
    std::string name;     ///< the bearer is called udp:NAME; 1 to 15 bytes
    std::string local_ip; ///< numeric IPv4 or IPv6 address of this node to bind
    /// Numeric address of the peer, or of a multicast group. Empty: the multicast group TIPC
    /// derives from the network id, as iproute2 does (228.0.ID>>8.ID&255, or ff02::ID for IPv6).
    std::string remote_ip;
    std::uint16_t local_port = default_udp_port;
    std::uint16_t remote_port = default_udp_port;
};

/// Enables TIPC on an Ethernet device (bearer eth:DEVICE). Makes a node identity from the
/// device's MAC address if none is set yet.
/// Errors: bad_bearer_name if `device` is empty, over 15 bytes or has a NUL;
/// bearer_already_enabled; no_such_device if there is no such device in this namespace;
/// operation_not_permitted without CAP_NET_ADMIN; invalid_argument for other refusals.
result<void> enable_eth_bearer(std::string_view device);

/// Enables a UDP bearer (udp:NAME). Makes a node identity from the local IP if none is set yet.
/// Errors: bad_bearer_name; bad_ip_address if an address is not numeric IPv4/IPv6;
/// address_family_mismatch; bearer_already_enabled; address_not_available if no device of this
/// namespace has the local address; address_in_use if the local address and port are taken;
/// operation_not_permitted without CAP_NET_ADMIN; invalid_argument for other refusals.
result<void> enable_udp_bearer(const udp_bearer_config& config);

/// Disables the bearer called `bearer_name` as list_bearers() names it ("eth:veth0", "udp:n1").
/// Errors: bad_bearer_name if the name is empty or has a NUL; no_such_bearer if no such bearer is
/// enabled; operation_not_permitted without CAP_NET_ADMIN.
result<void> disable_bearer(std::string_view bearer_name);

/// Disables bearer eth:DEVICE. Errors: as disable_bearer(); bad_bearer_name as for enabling.
result<void> disable_eth_bearer(std::string_view device);

/// Disables bearer udp:NAME. Errors: as disable_bearer(); bad_bearer_name as for enabling.
result<void> disable_udp_bearer(std::string_view name);

/// One enabled bearer.
struct bearer_info {
    std::string name;  ///< "eth:veth0", "udp:n1"
    std::string media; ///< the part before ':': "eth", "udp", "ib"
    std::uint32_t priority = 0;
    std::uint32_t tolerance_ms = 0;
    std::uint32_t window = 0;
    std::uint32_t mtu = 0;  ///< 0 where the kernel does not report it (it does for UDP)
    std::string udp_local;  ///< UDP bearers: "IP:PORT" or "[IPv6]:PORT"; empty otherwise
    std::string udp_remote; ///< UDP bearers: the peer or multicast group, as udp_local
    /// UDP bearers: sends go to a list of unicast peers (udp_remote is the first) rather than to
    /// a multicast group.
    bool udp_replicast = false;
};

/// The bearers enabled in this namespace, in the kernel's order.
/// Errors: only the common ones above.
result<std::vector<bearer_info>> list_bearers();

/// One link: the broadcast link, or a link to a peer node over one bearer.
struct link_info {
    std::string name;    ///< "broadcast-link", or "SELF:IF-PEER:IF" as TIPC names links
    bool up = false;     ///< established (the broadcast link is always up)
    bool active = false; ///< carries traffic; an up link that is not active stands by
    bool broadcast = false;
    std::uint32_t peer = 0;      ///< the peer node's address; 0 for the broadcast link or unknown
    node_identity peer_identity; ///< the peer's identity; empty for the broadcast link or unknown
    std::uint32_t mtu = 0;
    std::uint32_t tx_packets = 0; ///< data packets sent (protocol messages not counted)
    std::uint32_t rx_packets = 0; ///< data packets received (protocol messages not counted)
    std::uint32_t priority = 0;
    std::uint32_t tolerance_ms = 0;
    std::uint32_t window = 0;
};

/// The broadcast link and every link to a peer, in the kernel's order.
/// Errors: only the common ones above.
result<std::vector<link_info>> list_links();

/// Where a published service is visible.
enum class publication_scope : std::uint32_t { zone = 1, cluster = 2, node = 3 };

/// One entry of the name table: a socket bound to a service range.
struct publication {
    std::uint32_t type = 0;
    std::uint32_t lower = 0;
    std::uint32_t upper = 0;
    publication_scope scope = publication_scope::cluster;
    std::uint32_t node = 0; ///< the publishing node's address
    node_identity node_id;  ///< the publishing node's identity; empty when unknown
    std::uint32_t port = 0; ///< the publishing socket's port number (reference)
    std::uint32_t key = 0;  ///< the publication key
};

/// Every publication in the cluster-wide name table as this node sees it: its own services and
/// those of the nodes it has links to (cluster scope).
/// Errors: only the common ones above.
result<std::vector<publication>> dump_name_table();

} // namespace seqmq::tipc

template <>
struct std::is_error_code_enum<seqmq::tipc::errc> : std::true_type {};
