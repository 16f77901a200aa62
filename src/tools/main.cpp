// seqmq: the command-line tool. Each subcommand lives in its own file; this is the table.
#include "tools/commands.hpp"

#include <cstdio>
#include <string_view>
#include <vector>

namespace {

struct subcommand {
    std::string_view name;
    seqmq::tool::command_fn run;
    std::string_view summary;
};

constexpr subcommand subcommands[] = {
    {"send", seqmq::tool::send_command, "send a message to a seqmqd queue"},
    {"recv", seqmq::tool::recv_command, "take a message (msgrcv selectors)"},
    {"peek", seqmq::tool::peek_command, "show the message recv would take, leave it queued"},
    {"ls", seqmq::tool::ls_command, "list queues, like ipcs -q"},
    {"stat", seqmq::tool::stat_command, "a queue's IPC_STAT"},
    {"set", seqmq::tool::set_command, "change a queue's capacity, mode, owner (IPC_SET)"},
    {"rm", seqmq::tool::rm_command, "remove queues (IPC_RMID)"},
    {"watch", seqmq::tool::watch_command, "live view of a queue's backlog"},
    {"info", seqmq::tool::info_command, "the daemon's totals and limits (MSG_INFO)"},
    {"run", seqmq::tool::run_command, "run an unmodified SysV program on seqmqd (LD_PRELOAD)"},
    {"tipc", seqmq::tool::tipc_command,
     "configure TIPC: node identity, bearers, links, name table"},
};

void usage(std::FILE* out) {
    std::fprintf(out, "usage: seqmq COMMAND [ARGS...]\n\n"
                      "System V message queues on SOCK_SEQPACKET sockets (AF_UNIX, TIPC).\n\n"
                      "commands:\n");
    for (const auto& c : subcommands)
        std::fprintf(out, "  %-8.*s %.*s\n", int(c.name.size()), c.name.data(),
                     int(c.summary.size()), c.summary.data());
    std::fprintf(out, "\n`seqmq COMMAND --help` describes each. Exit status: 0 ok, 1 the "
                      "operation failed, 2 usage error.\n");
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty()) {
        usage(stderr);
        return 2;
    }
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        usage(stdout);
        return 0;
    }
    if (args[0] == "--version") {
        std::printf("seqmq %s\n", SEQMQ_VERSION);
        return 0;
    }
    for (const auto& c : subcommands)
        if (c.name == args[0])
            return c.run(std::span(args).subspan(1));
    std::fprintf(stderr, "seqmq: unknown command '%.*s'; `seqmq --help` lists them\n",
                 int(args[0].size()), args[0].data());
    return 2;
}
