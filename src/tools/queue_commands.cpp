// `seqmq send|recv|peek|ls|stat|set|rm|watch|info`: queues hosted by seqmqd, from the shell.
#include "shim/key_routing.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/json_output.hpp"

#include "sys/fd.hpp"
#include "sys/syscall.hpp"

#include <seqmq/queue.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <grp.h>
#include <iostream>
#include <iterator>
#include <limits>
#include <optional>
#include <pwd.h>
#include <string>
#include <string_view>
#include <sys/ipc.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace seqmq::tool {
namespace {

using args_type = std::span<const std::string_view>;

enum exit_status : int {
    done = 0,
    failed = 1,
    usage_error = 2,
    nothing = 3,   // recv/peek: no message (--nowait, --timeout)
    no_daemon = 4, // the daemon cannot be reached
};

constexpr std::string_view exit_codes = R"(
Exit status: 0 done; 1 the operation failed (no such queue, permission, queue removed);
2 usage error; 3 no message (recv/peek with --nowait or after --timeout); 4 no daemon.
The daemon is at --daemon ADDRESS, else $SEQMQ_DAEMON, else
$XDG_RUNTIME_DIR/seqmq/seqmqd.sock, else /run/seqmq/seqmqd.sock.
)";

// --- options -------------------------------------------------------------------------------------

// The ranges of the numbers the subcommands take.
constexpr long max_type = std::numeric_limits<long>::max(); // mtype is a long, > 0 to send
// (uid_t)-1 means "no uid" to chown(2) and IPC_SET refuses it: never an owner.
constexpr uid_t max_id = std::numeric_limits<uid_t>::max() - 1;
constexpr unsigned max_mode = 0777;
constexpr double min_interval = 0.01, max_interval = 86400; // watch: 10 ms .. a day

// The options every subcommand takes.
struct common_words {
    std::optional<std::string> daemon;
};

void add_common(command_line& cl, common_words& c) {
    cl.text("--daemon", c.daemon);
}

queue_options daemon_options(const common_words& c) {
    queue_options o;
    if (c.daemon) {
        auto a = address::parse(*c.daemon);
        if (!a)
            throw usage_failure{"--daemon " + *c.daemon + ": " + a.error().message()};
        o.daemon = *a;
    }
    return o;
}

std::string daemon_text(const queue_options& o) {
    if (o.daemon)
        return o.daemon->to_string();
    auto a = daemon_address();
    return a ? a->to_string() : std::string("$SEQMQ_DAEMON (which does not parse)");
}

// --- errors that say what to do ------------------------------------------------------------------

bool is_unreachable(const std::error_code& e) {
    return e == std::errc::no_such_file_or_directory || e == std::errc::connection_refused ||
           e == std::errc::connection_reset || e == std::errc::broken_pipe ||
           e == std::errc::host_unreachable || e == std::errc::address_family_not_supported;
}

// The daemon's socket file, when EACCES came from connect() to it: connecting needs write
// permission on the socket and search permission on each directory above it. The library
// reports a refused connect() and a request the daemon refused (the queue's mode) with the same
// EACCES, so this asks the socket itself. Abstract and TIPC addresses have no file mode.
std::optional<std::string> socket_refusing(const queue_options& o) {
    auto given = o.daemon ? result<address>(*o.daemon) : daemon_address();
    if (!given)
        return std::nullopt;
    const address where = given->resolve();
    sockaddr_un sun{};
    if (where.family() != address_family::unix_path || where.name().size() >= sizeof sun.sun_path)
        return std::nullopt;
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, where.name().data(), where.name().size());
    // Non-blocking: a full backlog answers EAGAIN at once instead of making us wait.
    detail::unique_fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd)
        return std::nullopt;
    const int rc = detail::retry_eintr(
        [&] { return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun); });
    if (rc == 0 || errno != EACCES)
        return std::nullopt;
    return where.name();
}

int report(std::string_view command, std::string_view queue_name, const std::error_code& e,
           const queue_options& o) {
    std::string what(command);
    if (!queue_name.empty())
        what += " " + std::string(queue_name);
    if (e == std::errc::permission_denied) {
        if (auto path = socket_refusing(o)) {
            std::fprintf(stderr,
                         "seqmq %s: cannot connect to seqmqd: %s (the daemon's socket %s) — the "
                         "socket file's mode, or a directory above it, does not let your uid/gid "
                         "connect; seqmqd sets it with --socket-mode (default 0660: its user and "
                         "group)\n",
                         what.c_str(), e.message().c_str(), path->c_str());
            return int(failed);
        }
    }
    if (e == std::errc::no_such_file_or_directory && !queue_name.empty() && queue::info(o)) {
        std::fprintf(stderr,
                     "seqmq %s: no queue '%.*s' — create it with `seqmq send %.*s TEXT` or list "
                     "queues with `seqmq ls`\n",
                     what.c_str(), int(queue_name.size()), queue_name.data(),
                     int(queue_name.size()), queue_name.data());
        return int(failed);
    }
    if (is_unreachable(e)) {
        std::fprintf(stderr,
                     "seqmq %s: no daemon at %s (%s) — start it with `seqmqd`, or point "
                     "SEQMQ_DAEMON / --daemon at a running one\n",
                     what.c_str(), daemon_text(o).c_str(), e.message().c_str());
        return int(no_daemon);
    }
    std::string advice;
    if (e == std::errc::permission_denied)
        advice = " — the queue's mode does not let your uid/gid do this (seqmqd's socket let you "
                 "connect); the queue's owner can change it with `seqmq set QUEUE --mode 0666`";
    else if (e == std::errc::operation_not_permitted)
        advice = " — only the queue's owner, its creator or root may do this";
    else if (e == std::errc::identifier_removed)
        advice = " — the queue was removed";
    else if (e.value() == EUSERS && e.category() == std::system_category())
        advice = " — seqmqd serves its maximum number of clients (seqmqd --max-clients)";
    else if (e == std::errc::no_space_on_device)
        advice = " — seqmqd holds its maximum number of queues (seqmqd --max-queues); remove "
                 "some with `seqmq rm`";
    else if (e == std::errc::message_size)
        advice = " — larger than the daemon's maximum message size (seqmqd --max-message-size)";
    else if (e == std::errc::file_exists)
        advice = " — it exists already";
    std::fprintf(stderr, "seqmq %s: %s%s\n", what.c_str(), e.message().c_str(), advice.c_str());
    return int(failed);
}

// --- output --------------------------------------------------------------------------------------

std::string as_text(const std::vector<std::byte>& d) {
    return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// Text for a table cell: printable as is, else escaped, cut to `width`.
std::string cell(std::string_view s, std::size_t width) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n')
            out += "\\n";
        else if (c < 0x20 || c == 0x7f)
            out += '.';
        else
            out += char(c);
    }
    if (out.size() > width)
        out = out.substr(0, width - 3) + "...";
    return out;
}

std::string user_name(uid_t uid) {
    if (passwd* p = ::getpwuid(uid))
        return p->pw_name;
    return std::to_string(uid);
}
std::string group_name(gid_t gid) {
    if (group* g = ::getgrgid(gid))
        return g->gr_name;
    return std::to_string(gid);
}

std::string time_text(std::chrono::system_clock::time_point t) {
    if (t.time_since_epoch().count() == 0)
        return "never";
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&tt));
    return buf;
}

long long epoch_seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string queue_label(const queue_stat& s) {
    return s.name.empty() ? "#" + std::to_string(s.id) : s.name;
}

// The SysV key as `ipcs -q` shows it: a keyed queue's name is its key (the shim's rule,
// key_routing.hpp), a private queue's key is IPC_PRIVATE; other names have none.
std::optional<std::string> key_text(const queue_stat& s) {
    const std::optional<key_t> key =
        s.name.empty() ? std::optional<key_t>(IPC_PRIVATE) : shim::key_of_queue_name(s.name);
    if (!key)
        return std::nullopt;
    return shim::queue_name_of(*key);
}

json stat_json(const queue_stat& s) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", s.mode);
    json j;
    j["id"] = s.id;
    if (auto key = key_text(s))
        j["key"] = *key;
    else
        j["key"] = nullptr;
    put_bytes(j, "name", s.name);
    j["mode"] = mode;
    j["uid"] = s.uid;
    j["gid"] = s.gid;
    j["cuid"] = s.cuid;
    j["cgid"] = s.cgid;
    j["messages"] = s.count;
    j["bytes"] = s.bytes;
    j["capacity"] = s.capacity;
    j["max_message_size"] = s.max_message_size;
    j["last_send_pid"] = s.last_send_pid;
    j["last_receive_pid"] = s.last_receive_pid;
    j["last_send_time"] = epoch_seconds(s.last_send_time);
    j["last_receive_time"] = epoch_seconds(s.last_receive_time);
    j["change_time"] = epoch_seconds(s.change_time);
    j["waiting_receivers"] = s.waiting_receivers;
    j["waiting_senders"] = s.waiting_senders;
    return j;
}

json message_json(const message& m) {
    json j;
    j["type"] = m.type;
    j["size"] = m.data.size();
    j["sender_pid"] = m.sender_pid;
    j["arrival"] = m.arrival;
    put_bytes(j, "text", as_text(m.data));
    return j;
}

// --type, --except, --max-type: msgrcv's msgtyp, one of them at most.
struct selector_words {
    std::optional<long> type, except, max_type;
    bool given() const { return type || except || max_type; }
};

void add_selector(command_line& cl, selector_words& w) {
    cl.integer("--type", w.type, 0L, max_type, "a message type (0: any)");
    cl.integer("--except", w.except, 1L, max_type, "a message type");
    cl.integer("--max-type", w.max_type, 1L, max_type, "a message type");
}

selector selector_of(const selector_words& w) {
    if (int(bool(w.type)) + int(bool(w.except)) + int(bool(w.max_type)) > 1)
        throw usage_failure{"give one of --type, --except, --max-type"};
    if (w.type)
        return selector::of_type(*w.type);
    if (w.except)
        return selector::except_type(*w.except);
    if (w.max_type)
        return selector::lowest_up_to(*w.max_type);
    return selector::any();
}

std::string_view one_queue(const std::vector<std::string>& words, std::string_view command) {
    if (words.empty())
        throw usage_failure{"which queue? `seqmq " + std::string(command) + " QUEUE`"};
    if (words.size() > 1)
        throw usage_failure{"one QUEUE only, not '" + words[1] + "' too"};
    return words[0];
}

void no_words(const std::vector<std::string>& words, std::string_view why) {
    if (!words.empty())
        throw usage_failure{std::string(why)};
}

bool wants_help(args_type args) {
    for (auto a : args)
        if (a == "--help" || a == "-h")
            return true;
    return false;
}

int print_usage(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fwrite(exit_codes.data(), 1, exit_codes.size(), stdout);
    return done;
}

template <class F>
int guarded(std::string_view command, args_type args, std::string_view usage, F body) {
    if (wants_help(args))
        return print_usage(usage);
    try {
        return body();
    } catch (const usage_failure& u) {
        std::fprintf(stderr, "seqmq %.*s: %s\nTry `seqmq %.*s --help`.\n", int(command.size()),
                     command.data(), u.what.c_str(), int(command.size()), command.data());
        return usage_error;
    } catch (const json::exception& e) { // print_json refused a string: a bug, not bad output
        std::fprintf(stderr, "seqmq %.*s: cannot write JSON: %s\n", int(command.size()),
                     command.data(), e.what());
        return failed;
    }
}

// --- subcommands ---------------------------------------------------------------------------------

constexpr std::string_view send_usage =
    R"(Usage: seqmq send QUEUE [--type N] [--nowait] [--timeout S] [--mode M] [--no-create] [TEXT|-]

Sends one message of type N (default 1) to QUEUE: TEXT, or standard input with - or no TEXT.
Creates the queue (mode M, default 0660) unless --no-create. Waits while the queue is full,
unless --nowait (then fails) or until --timeout S seconds.
  --type N           1 to 9223372036854775807
  --timeout S        seconds, 0 to 1000000000 (decimals such as 1.5 too), or inf: for ever
  --mode M           octal permission bits, 0 to 0777
  --daemon ADDRESS   the daemon to use
A TEXT that begins with '-' follows `--`: seqmq send QUEUE -- -TEXT.
)";

constexpr std::string_view recv_usage =
    R"(Usage: seqmq recv QUEUE [--type N | --except N | --max-type N] [--nowait] [--timeout S] [--json]

Takes one message from QUEUE and prints its text: the first message (no selector), the first of
type N (--type), the first not of type N (--except), or the first of the lowest type <= N
(--max-type) — msgrcv's rules. Waits for one unless --nowait; gives up after --timeout S.
  --type N           0 (any) to 9223372036854775807
  --except N, --max-type N
                     1 to 9223372036854775807
  --timeout S        seconds, 0 to 1000000000 (decimals such as 1.5 too), or inf: for ever
  --json             print {"type", "size", "sender_pid", "arrival", "text"}; a payload that is
                     not UTF-8 comes as "text_base64" (RFC 4648) in place of "text"
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view peek_usage =
    R"(Usage: seqmq peek QUEUE [--type N | --except N | --max-type N | --at POSITION] [--json]

Prints the message recv would take (or the one at POSITION, 0 = oldest) and leaves it queued.
  --type N           0 (any) to 9223372036854775807
  --except N, --max-type N
                     1 to 9223372036854775807
  --at POSITION      0 to 18446744073709551615
  --json             print {"type", "size", "sender_pid", "arrival", "text"}; a payload that is
                     not UTF-8 comes as "text_base64" (RFC 4648) in place of "text"
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view ls_usage = R"(Usage: seqmq ls [--json]

Every queue you may read, as `ipcs -q` lists them (key, id, owner, mode, bytes, messages), then
its name, group, capacity and the receivers and senders waiting. KEY is the SysV key of a queue
the SysV shim made (its name, 0x%08x), 0x00000000 for a private queue, - for other names.
  --json             an array of objects with the fields of `seqmq stat --json`
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view stat_usage = R"(Usage: seqmq stat QUEUE [--json]

What msgctl(IPC_STAT) reports: owner, creator, mode, messages, bytes, capacity, last sender
and receiver and their times, change time; and the waiting receivers and senders.
QUEUE is a name or #ID.
  --json             one object; a name that is not UTF-8 comes as "name_base64" (RFC 4648) in
                     place of "name"; "key" is the SysV key as ipcs prints it, or null (see
                     `seqmq ls --help`)
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view set_usage =
    R"(Usage: seqmq set QUEUE [--bytes N] [--mode M] [--owner UID] [--group GID]

Changes what msgctl(IPC_SET) changes: the capacity in bytes (msg_qbytes), the mode (octal),
the owner. Only the owner, the creator or root may; above the daemon's --max-queue-bytes only
root.
  --bytes N          0 to 18446744073709551615
  --mode M           octal permission bits, 0 to 0777
  --owner UID, --group GID
                     numeric ids, 0 to 4294967294
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view rm_usage = R"(Usage: seqmq rm QUEUE

Removes QUEUE and its messages (msgctl IPC_RMID); processes waiting on it get EIDRM.
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view watch_usage = R"(Usage: seqmq watch QUEUE [--interval S] [--count N]

A live view of QUEUE: its counters and every waiting message, redrawn every S seconds (default
1) until interrupted, or N times.
  --interval S       seconds, 0.01 to 86400
  --count N          1 to 9223372036854775807
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view run_usage =
    R"(Usage: seqmq run [--daemon ADDRESS] [--keys LIST] -- PROGRAM [ARGS...]

Runs PROGRAM, an unmodified System V program, with libseqmq-sysv.so preloaded: its msgget,
msgsnd, msgrcv and msgctl go to seqmqd (keys become queues named 0x%08x, as ipcs prints them),
so `seqmq ls`, `seqmq peek` and `seqmq watch` show its queues from outside. Refuses to start
the program when no daemon answers. LD_PRELOAD, SEQMQ_DAEMON and SEQMQ_SYSV_KEYS are set for
it (an LD_PRELOAD already set is kept, ahead of the shim); the exit status is the program's.
  --keys LIST        only these keys go to seqmq, the others to the kernel: keys and ranges
                     LOW-HIGH separated by commas (0x5e9a0001,0x100-0x1ff), `all` (the
                     default) or `none`
  --daemon ADDRESS   the daemon to use
The shim is $SEQMQ_SYSV_LIBRARY, else the one built or installed with this tool.
Exit status: the program's; 2 usage error; 4 no daemon; 127 the program or the shim cannot run.
)";

constexpr std::string_view info_usage = R"(Usage: seqmq info [--json]

The daemon's totals (msgctl MSG_INFO: queues, messages, bytes), its clients, the connections it
cut for malformed records, its limits, and where it keeps its queues: the state directory
(seqmqd --state-dir), the sync policy and interval, the store's size and the last sync to the
disk, or "in memory".
  --json             one object; "daemon" (or "daemon_base64") is the address; "state" is
                     null in memory, else {"directory" (or "directory_base64"), "sync",
                     "sync_interval_ms", "file_bytes", "used_bytes", "last_sync" (ISO 8601
                     UTC, null if never)}
  --daemon ADDRESS   the daemon to use
)";

result<queue> open_existing(std::string_view name, const queue_options& o) {
    return queue::open(name, open_flags::none, 0, o);
}

int print_message(const message& m, bool as_json) {
    if (as_json) {
        print_json(message_json(m));
    } else {
        std::fwrite(m.data.data(), 1, m.data.size(), stdout);
        if (::isatty(1) && (m.data.empty() || m.data.back() != std::byte{'\n'}))
            std::fputc('\n', stdout);
    }
    return done;
}

void print_backlog(const std::vector<message>& all) {
    std::printf("%-6s %-8s %-7s %-8s %s\n", "#", "TYPE", "SIZE", "SENDER", "TEXT");
    std::size_t i = 0;
    for (const auto& m : all)
        std::printf("%-6zu %-8ld %-7zu %-8d %s\n", i++, m.type, m.data.size(), int(m.sender_pid),
                    cell(as_text(m.data), 60).c_str());
}

} // namespace

int send_command(args_type args) {
    return guarded("send", args, send_usage, [&] {
        command_line cl("seqmq send");
        std::vector<std::string> words;
        std::optional<long> type;
        std::optional<unsigned> mode;
        timeout limit;
        bool nowait = false, no_create = false;
        common_words c;
        cl.words(words);
        cl.integer("--type", type, 1L, max_type, "a message type");
        cl.flag("--nowait", nowait);
        cl.seconds("--timeout", limit, 0, max_seconds, forever::allowed);
        cl.integer("--mode", mode, 0u, max_mode, "permission bits in octal", 8);
        cl.flag("--no-create", no_create);
        add_common(cl, c);
        cl.parse(args);
        if (words.empty())
            throw usage_failure{"which queue? `seqmq send QUEUE`"};
        if (words.size() > 2)
            throw usage_failure{"one TEXT at most (quote it)"};
        const std::string_view name = words[0];
        std::string body;
        if (words.size() < 2 || words[1] == "-")
            body.assign(std::istreambuf_iterator<char>(std::cin), {});
        else
            body = words[1];
        auto o = daemon_options(c);
        auto q = queue::open(name, no_create ? open_flags::none : open_flags::create,
                             mode.value_or(0660u), o);
        if (!q)
            return report("send", name, q.error(), o);
        auto r = q->send(type.value_or(1), std::as_bytes(std::span(body)),
                         nowait ? send_flags::nowait : send_flags::none, limit);
        if (!r) {
            if (r.error() == std::errc::resource_unavailable_try_again) {
                std::fprintf(stderr, "seqmq send %.*s: the queue is full (--nowait)\n",
                             int(name.size()), name.data());
                return int(failed);
            }
            return report("send", name, r.error(), o);
        }
        if (auto f = q->flush(); !f)
            return report("send", name, f.error(), o);
        return int(done);
    });
}

int recv_command(args_type args) {
    return guarded("recv", args, recv_usage, [&] {
        command_line cl("seqmq recv");
        std::vector<std::string> words;
        selector_words which_words;
        timeout limit;
        bool nowait = false, as_json = false;
        common_words c;
        cl.words(words);
        add_selector(cl, which_words);
        cl.flag("--nowait", nowait);
        cl.seconds("--timeout", limit, 0, max_seconds, forever::allowed);
        cl.flag("--json", as_json);
        add_common(cl, c);
        cl.parse(args);
        auto name = one_queue(words, "recv");
        auto which = selector_of(which_words);
        auto o = daemon_options(c);
        auto q = open_existing(name, o);
        if (!q)
            return report("recv", name, q.error(), o);
        auto m = q->receive(which, nowait ? receive_flags::nowait : receive_flags::none, limit);
        if (!m) {
            if (m.error() == std::errc::no_message || m.error() == std::errc::timed_out)
                return int(nothing);
            return report("recv", name, m.error(), o);
        }
        return print_message(*m, as_json);
    });
}

int peek_command(args_type args) {
    return guarded("peek", args, peek_usage, [&] {
        command_line cl("seqmq peek");
        std::vector<std::string> words;
        selector_words which_words;
        std::optional<std::uint64_t> at;
        bool as_json = false;
        common_words c;
        cl.words(words);
        add_selector(cl, which_words);
        cl.integer("--at", at, std::uint64_t{0}, std::uint64_t{SIZE_MAX}, "a position");
        cl.flag("--json", as_json);
        add_common(cl, c);
        cl.parse(args);
        auto name = one_queue(words, "peek");
        if (at && which_words.given())
            throw usage_failure{"give --at or one of --type, --except, --max-type, not both"};
        auto which = selector_of(which_words);
        auto o = daemon_options(c);
        auto q = open_existing(name, o);
        if (!q)
            return report("peek", name, q.error(), o);
        auto m = at ? q->peek_at(std::size_t(*at)) : q->peek(which);
        if (!m) {
            if (m.error() == std::errc::no_message)
                return int(nothing);
            return report("peek", name, m.error(), o);
        }
        return print_message(*m, as_json);
    });
}

int ls_command(args_type args) {
    return guarded("ls", args, ls_usage, [&] {
        command_line cl("seqmq ls");
        std::vector<std::string> words;
        bool as_json = false;
        common_words c;
        cl.words(words);
        cl.flag("--json", as_json);
        add_common(cl, c);
        cl.parse(args);
        no_words(words, "ls takes no queue; `seqmq stat QUEUE` shows one");
        auto o = daemon_options(c);
        auto all = queue::list_queues(o);
        if (!all)
            return report("ls", "", all.error(), o);
        if (as_json) {
            json list = json::array();
            for (const auto& s : *all)
                list.push_back(stat_json(s));
            print_json(list);
            return int(done);
        }
        // ipcs -q's columns first (key, msqid, owner, perms, used-bytes, messages), then seqmq's.
        std::printf("%-10s %-10s %-10s %-5s %10s %8s  %-20s %-10s %9s %s\n", "KEY", "ID", "OWNER",
                    "MODE", "BYTES", "MESSAGES", "NAME", "GROUP", "CAPACITY", "WAITING(R/S)");
        for (const auto& s : *all)
            std::printf("%-10s %-10llu %-10s %04o  %10zu %8zu  %-20s %-10s %9zu %zu/%zu\n",
                        key_text(s).value_or("-").c_str(), static_cast<unsigned long long>(s.id),
                        cell(user_name(s.uid), 10).c_str(), s.mode, s.bytes, s.count,
                        cell(queue_label(s), 20).c_str(), cell(group_name(s.gid), 10).c_str(),
                        s.capacity, s.waiting_receivers, s.waiting_senders);
        return int(done);
    });
}

int stat_command(args_type args) {
    return guarded("stat", args, stat_usage, [&] {
        command_line cl("seqmq stat");
        std::vector<std::string> words;
        bool as_json = false;
        common_words c;
        cl.words(words);
        cl.flag("--json", as_json);
        add_common(cl, c);
        cl.parse(args);
        auto name = one_queue(words, "stat");
        auto o = daemon_options(c);
        auto q = open_existing(name, o);
        if (!q)
            return report("stat", name, q.error(), o);
        auto s = q->stat();
        if (!s)
            return report("stat", name, s.error(), o);
        if (as_json) {
            print_json(stat_json(*s));
            return int(done);
        }
        std::printf("queue        %s (id %llu, key %s)\n", queue_label(*s).c_str(),
                    static_cast<unsigned long long>(s->id), key_text(*s).value_or("none").c_str());
        std::printf("owner        %s:%s   creator %s:%s   mode %04o\n", user_name(s->uid).c_str(),
                    group_name(s->gid).c_str(), user_name(s->cuid).c_str(),
                    group_name(s->cgid).c_str(), s->mode);
        std::printf("messages     %zu   bytes %zu of %zu   max message %zu\n", s->count, s->bytes,
                    s->capacity, s->max_message_size);
        std::printf("last send    pid %d at %s\n", int(s->last_send_pid),
                    time_text(s->last_send_time).c_str());
        std::printf("last receive pid %d at %s\n", int(s->last_receive_pid),
                    time_text(s->last_receive_time).c_str());
        std::printf("changed      %s\n", time_text(s->change_time).c_str());
        std::printf("waiting      %zu receivers, %zu senders\n", s->waiting_receivers,
                    s->waiting_senders);
        return int(done);
    });
}

int set_command(args_type args) {
    return guarded("set", args, set_usage, [&] {
        command_line cl("seqmq set");
        std::vector<std::string> words;
        std::optional<std::uint64_t> bytes;
        queue_settings s;
        common_words c;
        cl.words(words);
        cl.integer("--bytes", bytes, std::uint64_t{0}, std::uint64_t{SIZE_MAX}, "a size in bytes");
        cl.integer("--mode", s.mode, 0u, max_mode, "permission bits in octal", 8);
        cl.integer("--owner", s.uid, uid_t{0}, max_id, "a numeric uid");
        cl.integer("--group", s.gid, gid_t{0}, gid_t(max_id), "a numeric gid");
        add_common(cl, c);
        cl.parse(args);
        auto name = one_queue(words, "set");
        if (bytes)
            s.capacity = std::size_t(*bytes);
        if (!s.capacity && !s.mode && !s.uid && !s.gid)
            throw usage_failure{"nothing to change: give --bytes, --mode, --owner or --group"};
        auto o = daemon_options(c);
        auto q = open_existing(name, o);
        if (!q)
            return report("set", name, q.error(), o);
        if (auto r = q->set(s); !r)
            return report("set", name, r.error(), o);
        return int(done);
    });
}

int rm_command(args_type args) {
    return guarded("rm", args, rm_usage, [&] {
        command_line cl("seqmq rm");
        std::vector<std::string> words;
        common_words c;
        cl.words(words);
        add_common(cl, c);
        cl.parse(args);
        if (words.empty())
            throw usage_failure{"which queue? `seqmq rm QUEUE...`"};
        auto o = daemon_options(c);
        int status = done;
        for (const auto& name : words) {
            auto q = open_existing(name, o);
            if (!q) {
                status = report("rm", name, q.error(), o);
                continue;
            }
            if (auto r = q->remove(); !r)
                status = report("rm", name, r.error(), o);
        }
        return status;
    });
}

int watch_command(args_type args) {
    return guarded("watch", args, watch_usage, [&] {
        command_line cl("seqmq watch");
        std::vector<std::string> words;
        timeout every = std::chrono::milliseconds(1000);
        std::optional<long> count; // none: until interrupted
        common_words c;
        cl.words(words);
        cl.seconds("--interval", every, min_interval, max_interval, forever::refused);
        cl.integer("--count", count, 1L, std::numeric_limits<long>::max(), "a number of views");
        add_common(cl, c);
        cl.parse(args);
        auto name = one_queue(words, "watch");
        auto o = daemon_options(c);
        auto q = open_existing(name, o);
        if (!q)
            return report("watch", name, q.error(), o);
        const bool tty = ::isatty(1);
        for (long i = 0; !count || i < *count; ++i) {
            auto s = q->stat();
            auto all = q->peek_all();
            if (!s)
                return report("watch", name, s.error(), o);
            if (!all)
                return report("watch", name, all.error(), o);
            if (tty)
                std::printf("\x1b[H\x1b[2J");
            std::printf("%s — %zu messages, %zu of %zu bytes, %zu receivers and %zu senders "
                        "waiting\n",
                        queue_label(*s).c_str(), s->count, s->bytes, s->capacity,
                        s->waiting_receivers, s->waiting_senders);
            print_backlog(*all);
            std::fflush(stdout);
            if (!count || i + 1 < *count)
                std::this_thread::sleep_for(*every);
        }
        return int(done);
    });
}

// A time as ISO 8601 UTC with milliseconds: 2026-12-03T12:00:00.123Z.
static std::string sync_time(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm utc{};
    ::gmtime_r(&secs, &utc);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    return std::string(text) + "." +
           std::to_string(1000 + ms.time_since_epoch().count() % 1000).substr(1) + "Z";
}

int info_command(args_type args) {
    return guarded("info", args, info_usage, [&] {
        command_line cl("seqmq info");
        std::vector<std::string> words;
        bool as_json = false;
        common_words c;
        cl.words(words);
        cl.flag("--json", as_json);
        add_common(cl, c);
        cl.parse(args);
        no_words(words, "info takes no queue; `seqmq stat QUEUE` shows one");
        auto o = daemon_options(c);
        auto i = queue::info(o);
        if (!i)
            return report("info", "", i.error(), o);
        if (as_json) {
            json j;
            put_bytes(j, "daemon", daemon_text(o));
            j["queues"] = i->queues;
            j["messages"] = i->messages;
            j["bytes"] = i->bytes;
            j["clients"] = i->clients;
            j["protocol_errors"] = i->protocol_errors;
            j["max_queues"] = i->max_queues;
            j["max_queue_bytes"] = i->max_queue_bytes;
            j["max_message_size"] = i->max_message_size;
            j["max_clients"] = i->max_clients;
            j["memory"] = i->memory;
            j["max_memory"] = i->max_memory;
            if (!i->state) {
                j["state"] = nullptr;
            } else {
                json st;
                put_bytes(st, "directory", i->state->path);
                st["sync"] = i->state->sync;
                st["sync_interval_ms"] = i->state->interval.count();
                st["file_bytes"] = i->state->file_bytes;
                st["used_bytes"] = i->state->used_bytes;
                st["last_sync"] = sync_time(i->state->last_sync);
                if (i->state->last_sync.time_since_epoch().count() == 0)
                    st["last_sync"] = nullptr;
                j["state"] = st;
            }
            print_json(j);
            return int(done);
        }
        std::printf("daemon           %s\n", daemon_text(o).c_str());
        std::printf("queues           %zu of %zu\n", i->queues, i->max_queues);
        std::printf("messages         %zu (%zu bytes)\n", i->messages, i->bytes);
        std::printf("clients          %zu of %zu\n", i->clients, i->max_clients);
        std::printf("protocol errors  %llu\n", static_cast<unsigned long long>(i->protocol_errors));
        std::printf("memory           %zu of %zu bytes\n", i->memory, i->max_memory);
        std::printf("limits           %zu bytes per message, %zu bytes per queue\n",
                    i->max_message_size, i->max_queue_bytes);
        if (!i->state) {
            std::printf("state            in memory (no --state-dir)\n");
        } else {
            std::printf("state directory  %s\n", i->state->path.c_str());
            if (i->state->sync == "batch")
                std::printf("sync             batch, every %lld ms\n",
                            static_cast<long long>(i->state->interval.count()));
            else
                std::printf("sync             %s\n", i->state->sync.c_str());
            std::printf("store            %llu bytes used, file %llu bytes\n",
                        static_cast<unsigned long long>(i->state->used_bytes),
                        static_cast<unsigned long long>(i->state->file_bytes));
            std::printf("last sync        %s\n", i->state->last_sync.time_since_epoch().count() == 0
                                                     ? "never"
                                                     : sync_time(i->state->last_sync).c_str());
        }
        return int(done);
    });
}

// The shim that goes with this tool: $SEQMQ_SYSV_LIBRARY; the build tree's when this is the
// build tree's tool; else the installed one.
static std::string shim_library() {
    if (const char* given = std::getenv("SEQMQ_SYSV_LIBRARY"); given && *given)
        return given;
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec && self == std::filesystem::path(SEQMQ_TOOL_BUILD_PATH))
        return SEQMQ_SHIM_BUILD_PATH;
    return SEQMQ_SHIM_INSTALL_PATH;
}

int run_command(args_type args) {
    return guarded("run", args, run_usage, [&] {
        command_line cl("seqmq run");
        std::vector<std::string> words;
        std::optional<std::string> keys;
        common_words c;
        cl.words(words);
        cl.text("--keys", keys);
        add_common(cl, c);
        cl.parse(args);
        if (words.empty())
            throw usage_failure{"which program? `seqmq run [--keys LIST] -- PROGRAM ARGS...`"};
        if (keys && !shim::key_routing::parse(*keys))
            throw usage_failure{"--keys '" + *keys +
                                "': keys and LOW-HIGH ranges separated by commas "
                                "(0x5e9a0001,0x100-0x1ff), `all` or `none`"};
        auto o = daemon_options(c);
        if (auto i = queue::info(o); !i)
            return report("run", "", i.error(), o); // says how to start one
        const std::string shim = shim_library();
        if (::access(shim.c_str(), R_OK) != 0) {
            std::fprintf(stderr,
                         "seqmq run: the shim %s cannot be read (%s): build it (target "
                         "seqmq_sysv) or install seqmq, or name it with SEQMQ_SYSV_LIBRARY\n",
                         shim.c_str(), std::strerror(errno));
            return 127;
        }
        // What was preloaded already stays first (a sanitizer's runtime must be).
        std::string preload = shim;
        if (const char* before = std::getenv("LD_PRELOAD"); before && *before)
            preload = std::string(before) + ":" + shim;
        ::setenv("LD_PRELOAD", preload.c_str(), 1);
        ::setenv("SEQMQ_DAEMON", daemon_text(o).c_str(), 1);
        if (keys)
            ::setenv("SEQMQ_SYSV_KEYS", keys->c_str(), 1);
        std::vector<char*> argv;
        for (auto& w : words)
            argv.push_back(w.data());
        argv.push_back(nullptr);
        std::fflush(nullptr);
        ::execvp(argv[0], argv.data());
        std::fprintf(stderr, "seqmq run: cannot run %s: %s\n", argv[0], std::strerror(errno));
        return 127;
    });
}

} // namespace seqmq::tool
