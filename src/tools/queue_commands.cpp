// `seqmq send|recv|peek|ls|stat|set|rm|watch|info`: queues hosted by seqmqd, from the shell.
#include "tools/commands.hpp"
#include "tools/json.hpp"

#include <seqmq/queue.hpp>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <grp.h>
#include <iostream>
#include <iterator>
#include <optional>
#include <pwd.h>
#include <string>
#include <string_view>
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

// The words of a subcommand: positionals and --flags (with a value or not).
struct parsed {
    std::vector<std::string_view> positional;
    std::vector<std::pair<std::string_view, std::optional<std::string_view>>> flags;

    bool has(std::string_view name) const {
        for (auto& f : flags)
            if (f.first == name)
                return true;
        return false;
    }
    std::optional<std::string_view> value(std::string_view name) const {
        for (auto& f : flags)
            if (f.first == name)
                return f.second;
        return std::nullopt;
    }
};

struct flag_spec {
    std::string_view name;
    bool takes_value;
};

struct usage_failure {
    std::string what;
};

parsed parse(args_type args, std::initializer_list<flag_spec> specs) {
    parsed p;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (a.size() < 2 || !a.starts_with("--")) {
            p.positional.push_back(a);
            continue;
        }
        std::optional<std::string_view> inline_value;
        if (auto eq = a.find('='); eq != std::string_view::npos) {
            inline_value = a.substr(eq + 1);
            a = a.substr(0, eq);
        }
        const flag_spec* spec = nullptr;
        for (auto& s : specs)
            if (s.name == a)
                spec = &s;
        if (!spec)
            throw usage_failure{"unknown option " + std::string(a)};
        if (spec->takes_value) {
            if (!inline_value) {
                if (i + 1 >= args.size())
                    throw usage_failure{std::string(a) + " needs a value"};
                inline_value = args[++i];
            }
            p.flags.emplace_back(a, inline_value);
        } else {
            if (inline_value)
                throw usage_failure{std::string(a) + " takes no value"};
            p.flags.emplace_back(a, std::nullopt);
        }
    }
    return p;
}

long to_long(std::string_view flag, std::string_view s, int base = 10) {
    long v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || end != s.data() + s.size())
        throw usage_failure{std::string(flag) + " takes a number, not '" + std::string(s) + "'"};
    return v;
}

std::chrono::milliseconds to_duration(std::string_view flag, std::string_view s) {
    char* end = nullptr;
    std::string copy(s);
    double secs = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size() || secs < 0)
        throw usage_failure{std::string(flag) + " takes seconds, such as 1.5"};
    return std::chrono::milliseconds(static_cast<long long>(secs * 1000));
}

queue_options daemon_options(const parsed& p) {
    queue_options o;
    if (auto d = p.value("--daemon")) {
        auto a = address::parse(*d);
        if (!a)
            throw usage_failure{"--daemon " + std::string(*d) + ": " + a.error().message()};
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

int report(std::string_view command, std::string_view queue_name, const std::error_code& e,
           const queue_options& o) {
    std::string what(command);
    if (!queue_name.empty())
        what += " " + std::string(queue_name);
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
        advice = " — the queue's mode does not let your uid/gid do this; its owner can change it "
                 "with `seqmq set QUEUE --mode 0666`";
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

std::string stat_json(const queue_stat& s) {
    char buf[1024];
    std::snprintf(buf, sizeof buf,
                  "{\"id\":%llu,\"name\":%s,\"mode\":\"%04o\",\"uid\":%u,\"gid\":%u,\"cuid\":%u,"
                  "\"cgid\":%u,\"messages\":%zu,\"bytes\":%zu,\"capacity\":%zu,"
                  "\"max_message_size\":%zu,\"last_send_pid\":%d,\"last_receive_pid\":%d,"
                  "\"last_send_time\":%lld,\"last_receive_time\":%lld,\"change_time\":%lld,"
                  "\"waiting_receivers\":%zu,\"waiting_senders\":%zu}",
                  static_cast<unsigned long long>(s.id), json_string(s.name).c_str(), s.mode,
                  unsigned(s.uid), unsigned(s.gid), unsigned(s.cuid), unsigned(s.cgid), s.count,
                  s.bytes, s.capacity, s.max_message_size, int(s.last_send_pid),
                  int(s.last_receive_pid), epoch_seconds(s.last_send_time),
                  epoch_seconds(s.last_receive_time), epoch_seconds(s.change_time),
                  s.waiting_receivers, s.waiting_senders);
    return buf;
}

std::string message_json(const message& m) {
    return "{\"type\":" + std::to_string(m.type) + ",\"size\":" + std::to_string(m.data.size()) +
           ",\"sender_pid\":" + std::to_string(m.sender_pid) +
           ",\"arrival\":" + std::to_string(m.arrival) +
           ",\"text\":" + json_string(as_text(m.data)) + "}";
}

selector selector_of(const parsed& p) {
    int given = int(p.has("--type")) + int(p.has("--except")) + int(p.has("--max-type"));
    if (given > 1)
        throw usage_failure{"give one of --type, --except, --max-type"};
    if (auto t = p.value("--type")) {
        long v = to_long("--type", *t);
        if (v < 0)
            throw usage_failure{"--type takes a type >= 0 (0: any)"};
        return selector::of_type(v);
    }
    if (auto t = p.value("--except")) {
        long v = to_long("--except", *t);
        if (v < 1)
            throw usage_failure{"--except takes a type >= 1"};
        return selector::except_type(v);
    }
    if (auto t = p.value("--max-type")) {
        long v = to_long("--max-type", *t);
        if (v < 1)
            throw usage_failure{"--max-type takes a type >= 1"};
        return selector::lowest_up_to(v);
    }
    return selector::any();
}

std::string_view one_queue(const parsed& p, std::string_view command) {
    if (p.positional.empty())
        throw usage_failure{"which queue? `seqmq " + std::string(command) + " QUEUE`"};
    return p.positional[0];
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
    }
}

// --- subcommands ---------------------------------------------------------------------------------

constexpr std::string_view send_usage =
    R"(Usage: seqmq send QUEUE [--type N] [--nowait] [--timeout S] [--mode M] [--no-create] [TEXT|-]

Sends one message of type N (default 1) to QUEUE: TEXT, or standard input with - or no TEXT.
Creates the queue (mode M, default 0660) unless --no-create. Waits while the queue is full,
unless --nowait (then fails) or until --timeout S seconds.
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view recv_usage =
    R"(Usage: seqmq recv QUEUE [--type N | --except N | --max-type N] [--nowait] [--timeout S] [--json]

Takes one message from QUEUE and prints its text: the first message (no selector), the first of
type N (--type), the first not of type N (--except), or the first of the lowest type <= N
(--max-type) — msgrcv's rules. Waits for one unless --nowait; gives up after --timeout S.
  --json             print {"type", "size", "sender_pid", "arrival", "text"}
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view peek_usage =
    R"(Usage: seqmq peek QUEUE [--type N | --except N | --max-type N | --at POSITION] [--json]

Prints the message recv would take (or the one at POSITION, 0 = oldest) and leaves it queued.
  --json             print {"type", "size", "sender_pid", "arrival", "text"}
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view ls_usage = R"(Usage: seqmq ls [--json]

Every queue you may read, as `ipcs -q` lists them: id, name, owner, mode, messages, bytes,
capacity and the receivers and senders waiting.
  --json             an array of objects with the fields of `seqmq stat --json`
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view stat_usage = R"(Usage: seqmq stat QUEUE [--json]

What msgctl(IPC_STAT) reports: owner, creator, mode, messages, bytes, capacity, last sender
and receiver and their times, change time; and the waiting receivers and senders.
QUEUE is a name or #ID.
  --json             one object
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view set_usage =
    R"(Usage: seqmq set QUEUE [--bytes N] [--mode M] [--owner UID] [--group GID]

Changes what msgctl(IPC_SET) changes: the capacity in bytes (msg_qbytes), the mode (octal),
the owner. Only the owner, the creator or root may; above the daemon's --max-queue-bytes only
root.
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view rm_usage = R"(Usage: seqmq rm QUEUE

Removes QUEUE and its messages (msgctl IPC_RMID); processes waiting on it get EIDRM.
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view watch_usage = R"(Usage: seqmq watch QUEUE [--interval S] [--count N]

A live view of QUEUE: its counters and every waiting message, redrawn every S seconds (default
1) until interrupted, or N times.
  --daemon ADDRESS   the daemon to use
)";

constexpr std::string_view info_usage = R"(Usage: seqmq info [--json]

The daemon's totals (msgctl MSG_INFO: queues, messages, bytes), its clients, the connections it
cut for malformed records, and its limits.
  --daemon ADDRESS   the daemon to use
)";

result<queue> open_existing(std::string_view name, const queue_options& o) {
    return queue::open(name, open_flags::none, 0, o);
}

int print_message(const message& m, bool json) {
    if (json) {
        std::printf("%s\n", message_json(m).c_str());
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
        auto p = parse(args, {{"--type", true},
                              {"--nowait", false},
                              {"--timeout", true},
                              {"--mode", true},
                              {"--no-create", false},
                              {"--daemon", true}});
        auto name = one_queue(p, "send");
        if (p.positional.size() > 2)
            throw usage_failure{"one TEXT at most (quote it)"};
        long type = p.value("--type") ? to_long("--type", *p.value("--type")) : 1;
        if (type < 1)
            throw usage_failure{"--type takes a type >= 1"};
        unsigned mode =
            p.value("--mode") ? unsigned(to_long("--mode", *p.value("--mode"), 8)) : 0660u;
        if (mode > 0777)
            throw usage_failure{"--mode takes permission bits, 0 to 0777"};
        std::string body;
        if (p.positional.size() < 2 || p.positional[1] == "-")
            body.assign(std::istreambuf_iterator<char>(std::cin), {});
        else
            body = p.positional[1];
        timeout limit;
        if (auto t = p.value("--timeout"))
            limit = to_duration("--timeout", *t);
        auto o = daemon_options(p);
        auto q = queue::open(name, p.has("--no-create") ? open_flags::none : open_flags::create,
                             mode, o);
        if (!q)
            return report("send", name, q.error(), o);
        auto r = q->send(type, std::as_bytes(std::span(body)),
                         p.has("--nowait") ? send_flags::nowait : send_flags::none, limit);
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
        auto p = parse(args, {{"--type", true},
                              {"--except", true},
                              {"--max-type", true},
                              {"--nowait", false},
                              {"--timeout", true},
                              {"--json", false},
                              {"--daemon", true}});
        auto name = one_queue(p, "recv");
        auto which = selector_of(p);
        timeout limit;
        if (auto t = p.value("--timeout"))
            limit = to_duration("--timeout", *t);
        auto o = daemon_options(p);
        auto q = open_existing(name, o);
        if (!q)
            return report("recv", name, q.error(), o);
        auto m = q->receive(which, p.has("--nowait") ? receive_flags::nowait : receive_flags::none,
                            limit);
        if (!m) {
            if (m.error() == std::errc::no_message || m.error() == std::errc::timed_out)
                return int(nothing);
            return report("recv", name, m.error(), o);
        }
        return print_message(*m, p.has("--json"));
    });
}

int peek_command(args_type args) {
    return guarded("peek", args, peek_usage, [&] {
        auto p = parse(args, {{"--type", true},
                              {"--except", true},
                              {"--max-type", true},
                              {"--at", true},
                              {"--json", false},
                              {"--daemon", true}});
        auto name = one_queue(p, "peek");
        auto which = selector_of(p);
        auto o = daemon_options(p);
        auto q = open_existing(name, o);
        if (!q)
            return report("peek", name, q.error(), o);
        result<message> m = std::unexpected(std::error_code());
        if (auto at = p.value("--at")) {
            long pos = to_long("--at", *at);
            if (pos < 0)
                throw usage_failure{"--at takes a position >= 0"};
            m = q->peek_at(std::size_t(pos));
        } else {
            m = q->peek(which);
        }
        if (!m) {
            if (m.error() == std::errc::no_message)
                return int(nothing);
            return report("peek", name, m.error(), o);
        }
        return print_message(*m, p.has("--json"));
    });
}

int ls_command(args_type args) {
    return guarded("ls", args, ls_usage, [&] {
        auto p = parse(args, {{"--json", false}, {"--daemon", true}});
        if (!p.positional.empty())
            throw usage_failure{"ls takes no queue; `seqmq stat QUEUE` shows one"};
        auto o = daemon_options(p);
        auto all = queue::list_queues(o);
        if (!all)
            return report("ls", "", all.error(), o);
        if (p.has("--json")) {
            std::printf("[");
            for (std::size_t i = 0; i < all->size(); ++i)
                std::printf("%s%s", i ? "," : "", stat_json((*all)[i]).c_str());
            std::printf("]\n");
            return int(done);
        }
        std::printf("%-6s %-20s %-10s %-10s %-5s %8s %8s %9s %s\n", "ID", "NAME", "OWNER", "GROUP",
                    "MODE", "MESSAGES", "BYTES", "CAPACITY", "WAITING(R/S)");
        for (const auto& s : *all)
            std::printf("%-6llu %-20s %-10s %-10s %04o  %8zu %8zu %9zu %zu/%zu\n",
                        static_cast<unsigned long long>(s.id), cell(queue_label(s), 20).c_str(),
                        cell(user_name(s.uid), 10).c_str(), cell(group_name(s.gid), 10).c_str(),
                        s.mode, s.count, s.bytes, s.capacity, s.waiting_receivers,
                        s.waiting_senders);
        return int(done);
    });
}

int stat_command(args_type args) {
    return guarded("stat", args, stat_usage, [&] {
        auto p = parse(args, {{"--json", false}, {"--daemon", true}});
        auto name = one_queue(p, "stat");
        auto o = daemon_options(p);
        auto q = open_existing(name, o);
        if (!q)
            return report("stat", name, q.error(), o);
        auto s = q->stat();
        if (!s)
            return report("stat", name, s.error(), o);
        if (p.has("--json")) {
            std::printf("%s\n", stat_json(*s).c_str());
            return int(done);
        }
        std::printf("queue        %s (id %llu)\n", queue_label(*s).c_str(),
                    static_cast<unsigned long long>(s->id));
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
        auto p = parse(args, {{"--bytes", true},
                              {"--mode", true},
                              {"--owner", true},
                              {"--group", true},
                              {"--daemon", true}});
        auto name = one_queue(p, "set");
        queue_settings s;
        if (auto v = p.value("--bytes")) {
            long n = to_long("--bytes", *v);
            if (n < 0)
                throw usage_failure{"--bytes takes a size >= 0"};
            s.capacity = std::size_t(n);
        }
        if (auto v = p.value("--mode")) {
            long m = to_long("--mode", *v, 8);
            if (m < 0 || m > 0777)
                throw usage_failure{"--mode takes permission bits in octal, 0 to 0777"};
            s.mode = unsigned(m);
        }
        if (auto v = p.value("--owner"))
            s.uid = uid_t(to_long("--owner", *v));
        if (auto v = p.value("--group"))
            s.gid = gid_t(to_long("--group", *v));
        if (!s.capacity && !s.mode && !s.uid && !s.gid)
            throw usage_failure{"nothing to change: give --bytes, --mode, --owner or --group"};
        auto o = daemon_options(p);
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
        auto p = parse(args, {{"--daemon", true}});
        if (p.positional.empty())
            throw usage_failure{"which queue? `seqmq rm QUEUE...`"};
        auto o = daemon_options(p);
        int status = done;
        for (auto name : p.positional) {
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
        auto p = parse(args, {{"--interval", true}, {"--count", true}, {"--daemon", true}});
        auto name = one_queue(p, "watch");
        auto every = p.value("--interval") ? to_duration("--interval", *p.value("--interval"))
                                           : std::chrono::milliseconds(1000);
        long count = p.value("--count") ? to_long("--count", *p.value("--count")) : -1;
        auto o = daemon_options(p);
        auto q = open_existing(name, o);
        if (!q)
            return report("watch", name, q.error(), o);
        const bool tty = ::isatty(1);
        for (long i = 0; count < 0 || i < count; ++i) {
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
            if (count < 0 || i + 1 < count)
                std::this_thread::sleep_for(every);
        }
        return int(done);
    });
}

int info_command(args_type args) {
    return guarded("info", args, info_usage, [&] {
        auto p = parse(args, {{"--json", false}, {"--daemon", true}});
        auto o = daemon_options(p);
        auto i = queue::info(o);
        if (!i)
            return report("info", "", i.error(), o);
        if (p.has("--json")) {
            std::printf("{\"daemon\":%s,\"queues\":%zu,\"messages\":%zu,\"bytes\":%zu,"
                        "\"clients\":%zu,\"protocol_errors\":%llu,\"max_queues\":%zu,"
                        "\"max_queue_bytes\":%zu,\"max_message_size\":%zu,\"max_clients\":%zu,"
                        "\"memory\":%zu,\"max_memory\":%zu}\n",
                        json_string(daemon_text(o)).c_str(), i->queues, i->messages, i->bytes,
                        i->clients, static_cast<unsigned long long>(i->protocol_errors),
                        i->max_queues, i->max_queue_bytes, i->max_message_size, i->max_clients,
                        i->memory, i->max_memory);
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
        return int(done);
    });
}

} // namespace seqmq::tool
