// seqmqd: hosts named System V-style message queues for seqmq clients.
#include "daemon/durable/state_store.hpp"
#include "daemon/server.hpp"
#include "log.hpp"

#include <seqmq/queue.hpp>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

constexpr std::string_view usage_text = R"(Usage: seqmqd [OPTIONS]

Hosts named message queues with System V behaviour (msgget/msgsnd/msgrcv/msgctl) for seqmq
clients: `seqmq` the tool, seqmq::queue, seqmq_queue_open. Runs in the foreground; SIGTERM or
SIGINT stops it cleanly. Queues live in memory and end with it, unless --state-dir keeps them
on disk: then they and their messages survive a restart, or a kill -9, of seqmqd.

Options:
  --listen ADDRESS         where clients connect; repeatable (unix:/path, unix:@name,
                           tipc:TYPE:INSTANCE). Default: $SEQMQ_DAEMON if set, else
                           unix:$XDG_RUNTIME_DIR/seqmq/seqmqd.sock, else
                           unix:/run/seqmq/seqmqd.sock (the directory is created, mode 0755)
  --socket-mode MODE       file mode of a unix:/path socket, octal (default 0660)
  --max-queues N           queues at once (msgmni); creating more fails with ENOSPC
                           (default 1024, at most 32768: Linux's IPCMNI, the indexes of msqids)
  --default-capacity N     msg_qbytes of a new queue (default 16384)
  --max-queue-bytes N      the largest msg_qbytes a non-root client may set (default 16384,
                           the kernel's msgmnb)
  --max-message-size N     the largest message (msgmax, default 8192)
  --max-clients N          connections at once; more are told EUSERS and closed (default 1024)
  --max-pending N          waiting receives and sends per connection; more fail with ENOBUFS
                           (default 64)
  --credit-window N        bytes a connection may send without waiting for the daemon
                           (default 65536; 0 turns credit off: one round trip per send)
  --max-output N           reply bytes a client may leave unread before it is cut (default 8 MiB)
  --max-output-total N     reply bytes all clients together may leave unread; the client that
                           goes past it is cut (default 64 MiB)
  --max-unacked N          messages a connection may hold handed over but not acknowledged;
                           a receive past it fails with ENOBUFS (default 4096)
  --max-memory N           bytes for queued messages, messages in transit and credit, each
                           message counted with its bookkeeping (120 bytes); a send
                           past it fails with ENOMEM (default 256 MiB)
  --delivery-window N      bytes a queue's delivery socket holds ahead of its receivers, as
                           the kernel counts them (default 131072: about 170 records of 64
                           bytes); 0: no delivery sockets, every receive a round trip
  --spin-us N              after serving, poll for more work this many microseconds before
                           sleeping: lower latency for a busy CPU core (default 0: sleep at
                           once; at most 1000000)
  --state-dir DIR          keep every queue and message in DIR (created, mode 0700; an LMDB
                           store, data.mdb, locked by seqmqd.lock): a restart on DIR finds
                           them again. Default: $STATE_DIRECTORY if set (systemd's
                           StateDirectory=), else none: in memory only
  --sync POLICY            when a change reaches the disk: always (before the reply of the
                           send or receive leaves: one fdatasync per event-loop turn), batch
                           (at least every --sync-interval), none (when the kernel writes it
                           back). A crash of seqmqd alone loses nothing under any policy; a
                           crash of the machine loses up to the interval under batch, and
                           anything under none (default batch)
  --sync-interval MS       batch's interval in milliseconds (default 100, 1 to 60000)
  --log-level LEVEL        trace, debug, info, warn, error, off (default info; $SEQMQ_LOG too)
  --help                   this text
  --version                the version

Exit status: 0 stopped by a signal; 1 could not start (address in use, no permission); 2 usage;
3 the state directory was refused (another seqmqd holds it, written by a newer seqmqd, damaged,
no room on the disk, a file system error): the message names the file and the way out.
)";

std::optional<std::size_t> number(std::string_view s, int base = 10) {
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || end != s.data() + s.size())
        return std::nullopt;
    return v;
}

int usage_error(const std::string& what) {
    std::fprintf(stderr, "seqmqd: %s\nTry `seqmqd --help`.\n", what.c_str());
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    using seqmq::detail::log;
    seqmq::daemon::server_options options;
    std::string level = std::getenv("SEQMQ_LOG") ? std::getenv("SEQMQ_LOG") : "info";

    struct limit_flag {
        std::string_view name;
        std::size_t* field;
    };
    const limit_flag limits[] = {
        {"--max-queues", &options.max_queues},
        {"--default-capacity", &options.default_capacity},
        {"--max-queue-bytes", &options.max_queue_bytes},
        {"--max-message-size", &options.max_message_size},
        {"--max-clients", &options.max_clients},
        {"--max-pending", &options.max_pending},
        {"--credit-window", &options.credit_window},
        {"--max-output", &options.max_output},
        {"--max-output-total", &options.max_output_total},
        {"--max-unacked", &options.max_unacked},
        {"--max-memory", &options.max_memory},
        {"--delivery-window", &options.delivery_window},
        {"--spin-us", &options.spin_us},
    };

    std::string state_dir = std::getenv("STATE_DIRECTORY") ? std::getenv("STATE_DIRECTORY") : "";
    // systemd may list several directories, separated by colons: the first is seqmqd's.
    if (auto colon = state_dir.find(':'); colon != std::string::npos)
        state_dir.resize(colon);
    auto sync = seqmq::daemon::durable::sync_policy::batch;

    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fwrite(usage_text.data(), 1, usage_text.size(), stdout);
            return 0;
        }
        if (arg == "--version") {
            std::printf("seqmqd %s\n", SEQMQ_VERSION);
            return 0;
        }
        std::string_view value;
        if (auto eq = arg.find('='); eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return usage_error(std::string(arg) + " needs a value");
        }
        if (arg == "--listen") {
            auto a = seqmq::address::parse(value);
            if (!a)
                return usage_error("--listen " + std::string(value) + ": " + a.error().message());
            options.listen.push_back(*a);
        } else if (arg == "--socket-mode") {
            auto m = number(value, 8);
            if (!m || *m > 07777)
                return usage_error("--socket-mode takes an octal mode such as 0660");
            options.socket_mode = unsigned(*m);
        } else if (arg == "--state-dir") {
            if (value.empty())
                return usage_error("--state-dir needs a directory");
            state_dir = std::string(value);
        } else if (arg == "--sync") {
            auto p = seqmq::daemon::durable::parse_sync_policy(value);
            if (!p)
                return usage_error("--sync takes always, batch or none, not '" +
                                   std::string(value) + "'");
            sync = *p;
        } else if (arg == "--sync-interval") {
            auto ms = number(value);
            if (!ms || *ms < 1 || *ms > 60000)
                return usage_error("--sync-interval takes milliseconds from 1 to 60000");
            options.sync_interval = std::chrono::milliseconds(*ms);
        } else if (arg == "--log-level") {
            level = value;
        } else {
            bool known = false;
            for (const auto& l : limits)
                if (l.name == arg) {
                    auto n = number(value);
                    if (!n)
                        return usage_error(std::string(arg) + " takes a number, not '" +
                                           std::string(value) + "'");
                    *l.field = *n;
                    known = true;
                }
            if (!known)
                return usage_error("unknown option " + std::string(arg));
        }
    }
    if (options.max_message_size == 0 || options.default_capacity == 0 ||
        options.max_clients == 0 || options.max_queues == 0 || options.max_unacked == 0)
        return usage_error("--max-message-size, --default-capacity, --max-clients, "
                           "--max-queues and --max-unacked must be at least 1");
    if (options.max_queues > 32768)
        return usage_error("--max-queues is at most 32768 (the indexes a msqid has, as Linux)");
    if (options.spin_us > 1000000)
        return usage_error("--spin-us is at most 1000000 (one second)");

    log().set_level(spdlog::level::from_str(level));
    log().set_pattern("seqmqd: %Y-%m-%d %H:%M:%S.%e %l: %v");

    if (options.listen.empty()) {
        auto a = seqmq::daemon_address();
        if (!a)
            return usage_error("$SEQMQ_DAEMON: " + a.error().message());
        options.listen.push_back(*a);
    }

    sigset_t stop_signals;
    ::sigemptyset(&stop_signals);
    ::sigaddset(&stop_signals, SIGTERM);
    ::sigaddset(&stop_signals, SIGINT);
    ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    int stop_fd = ::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (stop_fd < 0) {
        std::perror("seqmqd: signalfd");
        return 1;
    }

    std::optional<seqmq::daemon::durable::state_store> state;
    if (!state_dir.empty()) {
        seqmq::daemon::durable::store_options so;
        so.sync = sync;
        auto opened = seqmq::daemon::durable::state_store::open(state_dir, so);
        if (!opened) {
            std::fprintf(stderr, "seqmqd: state directory %s refused: %s\n", state_dir.c_str(),
                         opened.error().explanation.c_str());
            return 3;
        }
        state.emplace(std::move(*opened));
    }

    auto server = seqmq::daemon::server::open(options, std::move(state));
    if (!server && !state_dir.empty() && server.error() == std::errc::bad_message) {
        std::fprintf(stderr,
                     "seqmqd: state directory %s refused: a record of %s/data.mdb cannot be "
                     "read back (damaged, or not written by seqmqd): move the directory aside "
                     "to start empty, keeping it for inspection\n",
                     state_dir.c_str(), state_dir.c_str());
        return 3;
    }
    if (!server) {
        std::string where, why;
        for (const auto& a : options.listen) {
            where += " " + a.to_string();
            struct stat st;
            if (server.error() == std::errc::address_in_use &&
                a.family() == seqmq::address_family::unix_path &&
                ::lstat(a.name().c_str(), &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                    why = " (" + a.name() + " is a file that is not a socket: seqmqd never " +
                          "replaces one; remove it or choose another path)";
                else if (st.st_uid != ::geteuid())
                    why = " (" + a.name() + " is a socket of uid " + std::to_string(st.st_uid) +
                          ": only a dead socket of this user is replaced)";
            }
        }
        if (why.empty() && server.error() == std::errc::address_in_use)
            why = " (another seqmqd is running there)";
        else if (server.error() == std::errc::permission_denied)
            why = " (choose another path with --listen or $SEQMQ_DAEMON)";
        std::fprintf(stderr, "seqmqd: cannot listen on%s: %s%s\n", where.c_str(),
                     server.error().message().c_str(), why.c_str());
        return 1;
    }
    auto ran = server->run(stop_fd);
    if (!ran) {
        log().error("event loop: {}", ran.error().message());
        return 1;
    }
    return 0;
}
