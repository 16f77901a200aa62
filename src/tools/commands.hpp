#pragma once

#include <span>
#include <string_view>

namespace seqmq::tool {

/// A subcommand of `seqmq`: gets the words after its name; returns the exit status
/// (0 ok, 1 the operation failed, 2 usage error).
using command_fn = int (*)(std::span<const std::string_view> args);

/// Queues hosted by seqmqd (queue_commands.cpp): `seqmq send|recv|peek|ls|stat|set|rm|watch|info`.
int send_command(std::span<const std::string_view> args);
int recv_command(std::span<const std::string_view> args);
int peek_command(std::span<const std::string_view> args);
int ls_command(std::span<const std::string_view> args);
int stat_command(std::span<const std::string_view> args);
int set_command(std::span<const std::string_view> args);
int rm_command(std::span<const std::string_view> args);
int watch_command(std::span<const std::string_view> args);
int info_command(std::span<const std::string_view> args);

/// `seqmq run -- PROGRAM`: an unmodified SysV program with the LD_PRELOAD shim.
int run_command(std::span<const std::string_view> args);

/// `seqmq tipc …`: TIPC node identity, bearers, links and the name table over generic netlink.
int tipc_command(std::span<const std::string_view> args);

} // namespace seqmq::tool
