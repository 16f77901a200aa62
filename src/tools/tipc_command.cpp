// `seqmq tipc ...`: TIPC configuration from the command line, over seqmq/tipc.hpp.

#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/json_output.hpp"

#include <seqmq/tipc.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <expected>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace tipc = seqmq::tipc;
namespace tool = seqmq::tool;
using tool::json;
using args_type = std::span<const std::string_view>;

enum exit_status : int { done = 0, failed = 1, usage_error = 2 };

constexpr std::string_view top_usage = R"(Usage: seqmq tipc COMMAND [ARGS]

Configures TIPC in this network namespace over generic netlink, as iproute2's tipc does.

Commands:
  node get [--json]                show node identity, address and network id
  node set-identity NAME|HEX       set the node identity (TIPC takes it once per namespace)
  node set-netid N                 set the network id, 1..9999
  bearer enable eth DEVICE         enable TIPC on an Ethernet device
  bearer enable udp NAME --local IP [--remote IP] [--port N]
                                   enable TIPC over UDP
  bearer disable eth DEVICE | udp NAME
                                   disable a bearer
  bearer list [--json]             list enabled bearers
  link list [--json]               list links and their state
  nametable [--json]               show the name table (published services)

--help after any command shows its usage.
Exit status: 0 done, 1 the operation failed, 2 usage error.
)";

constexpr std::string_view node_usage = R"(Usage: seqmq tipc node get [--json]
       seqmq tipc node set-identity NAME|HEX
       seqmq tipc node set-netid N

get            identity (as text when it is a name, and in hex), 32-bit address, network id
set-identity   NAME: 1 to 16 characters of A-Z a-z 0-9 - _ . : @; HEX: exactly 32 hex digits.
               TIPC accepts one identity per network namespace, once; enabling a bearer first
               makes one from the device's MAC or the local IP.
set-netid      N: 1..9999 (TIPC's default is 4711); only before the node joins its cluster.
)";

constexpr std::string_view bearer_usage = R"(Usage: seqmq tipc bearer enable eth DEVICE
       seqmq tipc bearer enable udp NAME --local IP [--remote IP] [--port N]
       seqmq tipc bearer disable eth DEVICE | udp NAME
       seqmq tipc bearer list [--json]

enable eth   TIPC on an Ethernet device of this namespace (bearer eth:DEVICE)
enable udp   TIPC over UDP (bearer udp:NAME), bound to local address IP; --remote is the peer
             or a multicast group (default: the group TIPC derives from the network id);
             --port is the UDP port of both ends, 1..65535 (default 6118)
disable      turn a bearer off; its links go down
list         the enabled bearers
)";

constexpr std::string_view link_usage = R"(Usage: seqmq tipc link list [--json]

The broadcast link and each link to a peer node: state, peer, MTU and packet counts.
--json prints an array of objects with "name" and "up" and the other fields.
)";

constexpr std::string_view nametable_usage = R"(Usage: seqmq tipc nametable [--json]

Every service published in the cluster as this node sees it: type, instance range, scope,
publishing node and port.
)";

// ---- small output helpers ----

bool is_help(std::string_view a) {
    return a == "--help" || a == "-h";
}

bool has_help(args_type args) {
    return std::ranges::any_of(args, is_help);
}

int show_usage(std::string_view text) {
    std::cout << text;
    return done;
}

int usage_problem(std::string_view problem, std::string_view text) {
    std::cerr << "seqmq tipc: " << problem << "\n\n" << text;
    return usage_error;
}

// A hint after the error's own message, for the errors a person can do something about.
std::string hint_for(const std::error_code& ec) {
    if (ec == seqmq::errc::backend_unavailable)
        return " — run inside netns-scripts/tipc-guest";
    if (ec.category() == std::system_category() && ec == std::errc::operation_not_permitted)
        return " — configuring TIPC needs CAP_NET_ADMIN (run as root)";
    if (ec == tipc::errc::identity_already_set)
        return " — use a fresh network namespace to choose another";
    if (ec.category() == std::system_category() && ec == std::errc::no_such_device)
        return " — no such network device in this namespace (see `ip link`)";
    if (ec == std::errc::address_not_available)
        return " — the local IP must be an address of this namespace (see `ip addr`)";
    return {};
}

// Bad input that the library found: a usage error like any other.
bool is_bad_input(const std::error_code& ec) {
    return ec == tipc::errc::bad_node_identity || ec == tipc::errc::bad_network_id ||
           ec == tipc::errc::bad_bearer_name || ec == tipc::errc::bad_ip_address ||
           ec == tipc::errc::address_family_mismatch;
}

int report(std::string_view what, const std::error_code& ec) {
    std::cerr << "seqmq tipc: " << what << ": " << ec.message() << hint_for(ec) << "\n";
    return is_bad_input(ec) ? usage_error : failed;
}

// Identity as JSON: its text form, or null when none.
void put_identity(json& object, std::string_view key, const tipc::node_identity& id) {
    if (id.empty())
        object[std::string(key)] = nullptr;
    else
        tool::put_bytes(object, key, id.to_string());
}

std::string hex8(std::uint32_t v) {
    char text[16];
    std::snprintf(text, sizeof text, "%08x", v);
    return text;
}

// Prints rows as left-aligned columns, the first row as header.
void print_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) {
            width.resize(std::max(width.size(), row.size()));
            width[i] = std::max(width[i], row[i].size());
        }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size())
                line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        std::cout << line << "\n";
    }
}

// The words of a listing command (`what`): --json only. Whether --json was given, or the exit
// status of the usage problem, reported.
std::expected<bool, int> json_flag(std::string_view what, args_type args, std::string_view usage) {
    tool::command_line cl("seqmq tipc " + std::string(what));
    bool as_json = false;
    std::vector<std::string> words;
    cl.flag("--json", as_json);
    cl.words(words);
    try {
        cl.parse(args);
    } catch (const tool::usage_failure& u) {
        return std::unexpected(usage_problem(std::string(what) + ": " + u.what, usage));
    }
    if (!words.empty())
        return std::unexpected(
            usage_problem(std::string(what) + ": unexpected argument " + words[0], usage));
    return as_json;
}

// ---- node ----

int node_get(args_type args) {
    const auto as_json = json_flag("node get", args, node_usage);
    if (!as_json)
        return as_json.error();
    auto node = tipc::get_node_info();
    if (!node)
        return report("node get", node.error());
    const auto& id = node->identity;
    if (*as_json) {
        json j;
        put_identity(j, "identity", id);
        if (id.empty())
            j["identity_hex"] = nullptr;
        else
            j["identity_hex"] = id.hex();
        j["address"] = node->address;
        j["address_hex"] = hex8(node->address);
        j["network_id"] = node->network_id;
        tool::print_json(j);
        return done;
    }
    std::string identity = "(none)";
    if (auto name = id.name())
        identity = *name + " (hex " + id.hex() + ")";
    else if (!id.empty())
        identity = id.hex();
    std::string address = hex8(node->address);
    if (node->address == 0)
        address += " (not assigned yet)";
    print_table({{"identity", identity},
                 {"address", address},
                 {"network id", std::to_string(node->network_id)}});
    return done;
}

int node_set_identity(args_type args) {
    if (args.size() != 1)
        return usage_problem("node set-identity: give one NAME or HEX", node_usage);
    auto id = tipc::node_identity::parse(args[0]);
    if (!id)
        return report("node set-identity", id.error());
    if (auto set = tipc::set_node_identity(*id); !set)
        return report("node set-identity " + std::string(args[0]), set.error());
    return done;
}

int node_set_netid(args_type args) {
    if (args.size() != 1)
        return usage_problem("node set-netid: give one network id", node_usage);
    const auto id = tool::parse_integer<std::uint32_t>(args[0], 1, 9999);
    if (!id)
        return usage_problem("node set-netid: the network id must be a number, 1..9999, not '" +
                                 std::string(args[0]) + "'",
                             node_usage);
    if (auto set = tipc::set_network_id(*id); !set)
        return report("node set-netid " + std::string(args[0]), set.error());
    return done;
}

// ---- bearer ----

int bearer_enable_udp(std::string_view name, args_type options) {
    tool::command_line cl("seqmq tipc bearer enable udp");
    std::optional<std::string> local, remote;
    std::optional<std::uint16_t> port;
    std::vector<std::string> words;
    cl.text("--local", local);
    cl.text("--remote", remote);
    cl.integer("--port", port, std::uint16_t{1}, std::uint16_t{65535}, "a UDP port");
    cl.words(words);
    try {
        cl.parse(options);
    } catch (const tool::usage_failure& u) {
        return usage_problem("bearer enable udp: " + u.what, bearer_usage);
    }
    if (!words.empty())
        return usage_problem("bearer enable udp: unexpected argument " + words[0], bearer_usage);
    if (!local)
        return usage_problem("bearer enable udp: --local IP is required", bearer_usage);
    tipc::udp_bearer_config config;
    config.name = std::string(name);
    config.local_ip = *local;
    if (remote)
        config.remote_ip = *remote;
    if (port)
        config.local_port = config.remote_port = *port;
    if (auto enabled = tipc::enable_udp_bearer(config); !enabled)
        return report("bearer enable udp " + config.name, enabled.error());
    return done;
}

int bearer_enable(args_type args) {
    if (args.size() >= 2 && args[0] == "eth") {
        if (args.size() != 2)
            return usage_problem("bearer enable eth: give one DEVICE", bearer_usage);
        if (auto enabled = tipc::enable_eth_bearer(args[1]); !enabled)
            return report("bearer enable eth " + std::string(args[1]), enabled.error());
        return done;
    }
    if (args.size() >= 2 && args[0] == "udp")
        return bearer_enable_udp(args[1], args.subspan(2));
    return usage_problem("bearer enable: give eth DEVICE or udp NAME --local IP", bearer_usage);
}

int bearer_disable(args_type args) {
    if (args.size() != 2 || (args[0] != "eth" && args[0] != "udp"))
        return usage_problem("bearer disable: give eth DEVICE or udp NAME", bearer_usage);
    auto disabled =
        args[0] == "eth" ? tipc::disable_eth_bearer(args[1]) : tipc::disable_udp_bearer(args[1]);
    if (!disabled)
        return report("bearer disable " + std::string(args[0]) + " " + std::string(args[1]),
                      disabled.error());
    return done;
}

int bearer_list(args_type args) {
    const auto as_json = json_flag("bearer list", args, bearer_usage);
    if (!as_json)
        return as_json.error();
    auto bearers = tipc::list_bearers();
    if (!bearers)
        return report("bearer list", bearers.error());
    if (*as_json) {
        json list = json::array();
        for (const auto& b : *bearers) {
            json j;
            tool::put_bytes(j, "name", b.name);
            tool::put_bytes(j, "media", b.media);
            j["priority"] = b.priority;
            j["tolerance_ms"] = b.tolerance_ms;
            j["window"] = b.window;
            j["mtu"] = b.mtu;
            if (b.media == "udp") {
                tool::put_bytes(j, "local", b.udp_local);
                tool::put_bytes(j, "remote", b.udp_remote);
                j["replicast"] = b.udp_replicast;
            }
            list.push_back(std::move(j));
        }
        tool::print_json(list);
        return done;
    }
    if (bearers->empty()) {
        std::cout << "no bearers enabled\n";
        return done;
    }
    std::vector<std::vector<std::string>> rows{
        {"NAME", "PRIORITY", "TOLERANCE", "WINDOW", "MTU", "LOCAL", "REMOTE"}};
    for (const auto& b : *bearers)
        rows.push_back({b.name, std::to_string(b.priority), std::to_string(b.tolerance_ms) + "ms",
                        std::to_string(b.window), b.mtu ? std::to_string(b.mtu) : "-",
                        b.udp_local.empty() ? "-" : b.udp_local,
                        b.udp_remote.empty() ? "-" : b.udp_remote});
    print_table(rows);
    return done;
}

// ---- link ----

int link_list(args_type args) {
    const auto as_json = json_flag("link list", args, link_usage);
    if (!as_json)
        return as_json.error();
    auto links = tipc::list_links();
    if (!links)
        return report("link list", links.error());
    if (*as_json) {
        json list = json::array();
        for (const auto& l : *links) {
            json j;
            tool::put_bytes(j, "name", l.name);
            j["up"] = l.up;
            j["active"] = l.active;
            j["broadcast"] = l.broadcast;
            j["peer"] = l.peer;
            put_identity(j, "peer_identity", l.peer_identity);
            j["mtu"] = l.mtu;
            j["tx_packets"] = l.tx_packets;
            j["rx_packets"] = l.rx_packets;
            j["priority"] = l.priority;
            j["tolerance_ms"] = l.tolerance_ms;
            j["window"] = l.window;
            list.push_back(std::move(j));
        }
        tool::print_json(list);
        return done;
    }
    std::vector<std::vector<std::string>> rows{{"NAME", "STATE", "PEER", "MTU", "TX", "RX"}};
    for (const auto& l : *links) {
        std::string state = l.up ? (l.active || l.broadcast ? "up" : "standby") : "down";
        std::string peer = "-";
        if (!l.broadcast)
            peer = l.peer_identity.empty() ? hex8(l.peer) : l.peer_identity.to_string();
        rows.push_back({l.name, state, peer, l.mtu ? std::to_string(l.mtu) : "-",
                        std::to_string(l.tx_packets), std::to_string(l.rx_packets)});
    }
    print_table(rows);
    return done;
}

// ---- nametable ----

std::string_view scope_name(tipc::publication_scope s) {
    switch (s) {
    case tipc::publication_scope::zone:
        return "zone";
    case tipc::publication_scope::cluster:
        return "cluster";
    case tipc::publication_scope::node:
        return "node";
    }
    return "unknown";
}

int nametable(args_type args) {
    const auto as_json = json_flag("nametable", args, nametable_usage);
    if (!as_json)
        return as_json.error();
    auto table = tipc::dump_name_table();
    if (!table)
        return report("nametable", table.error());
    if (*as_json) {
        json list = json::array();
        for (const auto& p : *table) {
            json j;
            j["type"] = p.type;
            j["lower"] = p.lower;
            j["upper"] = p.upper;
            j["scope"] = scope_name(p.scope);
            j["node"] = p.node;
            put_identity(j, "node_identity", p.node_id);
            j["port"] = p.port;
            j["key"] = p.key;
            list.push_back(std::move(j));
        }
        tool::print_json(list);
        return done;
    }
    std::vector<std::vector<std::string>> rows{{"TYPE", "LOWER", "UPPER", "SCOPE", "NODE", "PORT"}};
    for (const auto& p : *table)
        rows.push_back({std::to_string(p.type), std::to_string(p.lower), std::to_string(p.upper),
                        std::string(scope_name(p.scope)),
                        p.node_id.empty() ? hex8(p.node) : p.node_id.to_string(),
                        std::to_string(p.port)});
    print_table(rows);
    return done;
}

// ---- dispatch ----

struct subcommand {
    std::string_view name;
    int (*run)(args_type);
};

// Runs the subcommand named by args[0]; `usage` is the level's help text.
int dispatch(std::string_view level, args_type args, std::span<const subcommand> table,
             std::string_view usage) {
    if (args.empty())
        return usage_problem(std::string(level) + ": missing command", usage);
    if (is_help(args[0]))
        return show_usage(usage);
    for (const auto& sub : table)
        if (sub.name == args[0])
            return has_help(args.subspan(1)) ? show_usage(usage) : sub.run(args.subspan(1));
    return usage_problem(std::string(level) + ": unknown command " + std::string(args[0]), usage);
}

int node_command(args_type args) {
    static constexpr subcommand table[] = {
        {"get", node_get}, {"set-identity", node_set_identity}, {"set-netid", node_set_netid}};
    return dispatch("node", args, table, node_usage);
}

int bearer_command(args_type args) {
    static constexpr subcommand table[] = {
        {"enable", bearer_enable}, {"disable", bearer_disable}, {"list", bearer_list}};
    return dispatch("bearer", args, table, bearer_usage);
}

int link_command(args_type args) {
    static constexpr subcommand table[] = {{"list", link_list}};
    return dispatch("link", args, table, link_usage);
}

int nametable_command(args_type args) {
    return has_help(args) ? show_usage(nametable_usage) : nametable(args);
}

} // namespace

namespace seqmq::tool {

int tipc_command(std::span<const std::string_view> args) {
    static constexpr subcommand table[] = {{"node", node_command},
                                           {"bearer", bearer_command},
                                           {"link", link_command},
                                           {"nametable", nametable_command}};
    if (args.empty())
        return usage_problem("missing command", top_usage);
    if (is_help(args[0]))
        return show_usage(top_usage);
    for (const auto& sub : table)
        if (sub.name == args[0])
            return sub.run(args.subspan(1));
    return usage_problem("unknown command " + std::string(args[0]), top_usage);
}

} // namespace seqmq::tool
