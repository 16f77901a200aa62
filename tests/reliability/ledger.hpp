// The bookkeeping of the reliability tests: numbered messages that say who sent them, the line
// logs that producers and consumers keep (one write() per line, right after the call it
// records, so that a SIGKILL leaves every line that was due or none), the worker processes the
// tests kill and restart, and the accounting that holds the logs against what was received.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace reliability {

using namespace std::chrono_literals;

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of a test.
inline std::int64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline long elapsed_ms(std::int64_t since_ns) {
    return long((now_ns() - since_ns) / 1'000'000);
}

/// The seed of a test's random choices: $SEQMQ_CHAOS_SEED if set, else a fresh one. Printed by
/// the tests, so that a failing run's choices can be made again.
inline std::uint32_t chaos_seed() {
    if (const char* s = std::getenv("SEQMQ_CHAOS_SEED"); s && *s)
        return std::uint32_t(std::strtoul(s, nullptr, 0));
    return std::random_device{}();
}

// --- numbered messages ------------------------------------------------------------------------

/// Who sent a message: the producer's slot, which start of it (a restarted producer is a new
/// incarnation, so ids stay unique however often it is killed), and its sequence number.
struct message_id {
    std::uint32_t slot = 0;
    std::uint32_t incarnation = 0;
    std::uint32_t sequence = 0;

    friend auto operator<=>(const message_id&, const message_id&) = default;

    /// One word, for memory shared with the parent: slot 8 bits, incarnation 24, sequence 32.
    std::uint64_t key() const {
        return std::uint64_t(slot) << 56 | std::uint64_t(incarnation & 0xffffff) << 32 | sequence;
    }
    static message_id from_key(std::uint64_t k) {
        return {std::uint32_t(k >> 56), std::uint32_t(k >> 32) & 0xffffff, std::uint32_t(k)};
    }

    std::string text() const {
        return std::to_string(slot) + "." + std::to_string(incarnation) + "#" +
               std::to_string(sequence);
    }
};

/// What a message starts with; the rest is filler, a function of the id.
struct payload_head {
    std::uint32_t slot, incarnation, sequence, size;
};
constexpr std::size_t min_payload = sizeof(payload_head);
constexpr std::size_t max_payload = 240;

/// A message's length and type, functions of its id (so a receiver can check them).
inline std::size_t payload_size(const message_id& id) {
    const std::uint32_t h = id.sequence * 2654435761u ^ id.incarnation * 40503u ^ id.slot * 97u;
    return min_payload + h % (max_payload - min_payload + 1);
}
inline long message_type(const message_id& id) {
    return long(1 + (id.sequence + id.slot) % 3);
}

inline std::byte filler(const message_id& id, std::size_t at) {
    return std::byte((id.sequence * 131u + id.incarnation * 31u + id.slot * 7u + at) & 0xff);
}

/// Writes the payload of `id` into `out` (at least max_payload bytes); returns its length.
inline std::size_t compose(const message_id& id, std::span<std::byte> out) {
    const std::size_t size = payload_size(id);
    const payload_head h{id.slot, id.incarnation, id.sequence, std::uint32_t(size)};
    std::memcpy(out.data(), &h, sizeof h);
    for (std::size_t at = sizeof h; at < size; ++at)
        out[at] = filler(id, at);
    return size;
}

/// The id of a received payload of type `type`, if it is exactly what its producer sent.
inline std::optional<message_id> verify(long type, std::span<const std::byte> got) {
    if (got.size() < sizeof(payload_head))
        return std::nullopt;
    payload_head h;
    std::memcpy(&h, got.data(), sizeof h);
    const message_id id{h.slot, h.incarnation, h.sequence};
    if (h.size != got.size() || payload_size(id) != got.size() || message_type(id) != type)
        return std::nullopt;
    for (std::size_t at = sizeof h; at < got.size(); ++at)
        if (got[at] != filler(id, at))
            return std::nullopt;
    return id;
}

// --- line logs --------------------------------------------------------------------------------

/// A log of lines appended with one write() each, no buffering: what a SIGKILL leaves is every
/// line whose write() returned. Used in the worker processes.
class line_log {
public:
    explicit line_log(const std::string& path)
        : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644)) {}
    ~line_log() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    line_log(const line_log&) = delete;
    line_log& operator=(const line_log&) = delete;

    bool ok() const { return fd_ >= 0; }

    /// Appends `line` and a newline in one write(). False if that failed.
    bool write(std::string_view line) {
        char buf[256];
        const std::size_t n = std::min(line.size(), sizeof buf - 1);
        std::memcpy(buf, line.data(), n);
        buf[n] = '\n';
        return ::write(fd_, buf, n + 1) == ssize_t(n + 1);
    }

private:
    int fd_;
};

/// The whole lines of a log (a last line without its newline, torn by a kill, is left out).
inline std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> lines;
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f)
        return lines;
    std::string all;
    char buf[65536];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
        all.append(buf, n);
    std::fclose(f);
    for (std::size_t at = 0;;) {
        const auto nl = all.find('\n', at);
        if (nl == std::string::npos)
            break;
        lines.push_back(all.substr(at, nl - at));
        at = nl + 1;
    }
    return lines;
}

/// A fresh directory for a test's logs; removed at the end unless the test failed (then its
/// path is in the output, to look at the logs).
class log_directory {
public:
    log_directory() {
        char tmpl[] = "/tmp/seqmq-chaos-XXXXXX";
        if (::mkdtemp(tmpl))
            path_ = tmpl;
    }
    ~log_directory() {
        if (!keep_ && !path_.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(path_, ec);
        }
    }
    log_directory(const log_directory&) = delete;
    log_directory& operator=(const log_directory&) = delete;

    bool ok() const { return !path_.empty(); }
    const std::string& path() const { return path_; }
    std::string file(const std::string& role, std::uint32_t slot, std::uint32_t incarnation) const {
        return path_ + "/" + role + "-" + std::to_string(slot) + "-" + std::to_string(incarnation) +
               ".log";
    }
    void keep() { keep_ = true; }

private:
    std::string path_;
    bool keep_ = false;
};

// --- memory shared with the workers ---------------------------------------------------------

/// A T (of lock-free atomics) in anonymous MAP_SHARED memory: made before the workers are
/// forked, it is the same memory in each; a worker's last stores are there after it died.
template <class T>
class shared_memory {
public:
    shared_memory() {
        void* p =
            ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED)
            t_ = new (p) T{};
    }
    ~shared_memory() {
        if (t_)
            ::munmap(t_, sizeof(T));
    }
    shared_memory(const shared_memory&) = delete;
    shared_memory& operator=(const shared_memory&) = delete;

    bool ok() const { return t_ != nullptr; }
    T& operator*() const { return *t_; }
    T* operator->() const { return t_; }

private:
    T* t_ = nullptr;
};

// --- worker processes -------------------------------------------------------------------------

/// A forked worker running `body` (its return value is the exit status), killed and reaped by
/// the test. The destructor kills and reaps one still running.
class worker {
public:
    worker() = default;
    explicit worker(const std::function<int()>& body) {
        pid_ = ::fork();
        if (pid_ == 0) {
            int status = 98;
            try {
                status = body();
            } catch (...) {
                status = 99;
            }
            ::_exit(status);
        }
    }
    worker(worker&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
    worker& operator=(worker&& o) noexcept {
        std::swap(pid_, o.pid_);
        return *this;
    }
    worker(const worker&) = delete;
    ~worker() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    pid_t pid() const { return pid_; }
    bool running() const { return pid_ > 0; }

    /// The wait status if it has ended (it is then reaped), else nullopt.
    std::optional<int> poll() {
        int status = 0;
        if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) != pid_)
            return std::nullopt;
        pid_ = -1;
        return status;
    }

    /// Sends `sig`.
    void signal(int sig) const {
        if (pid_ > 0)
            ::kill(pid_, sig);
    }

    /// SIGKILL, then reaps it; returns the wait status (it may have ended by itself first).
    int kill() {
        ::kill(pid_, SIGKILL);
        return reap();
    }

    /// Waits for it to end and reaps it; returns the wait status.
    int reap() {
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        return status;
    }

    /// Waits up to `limit` for it to end; past it, kills it. Returns the wait status, or nullopt
    /// if it had to be killed.
    std::optional<int> wait(std::chrono::milliseconds limit) {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (running()) {
            if (auto s = poll())
                return s;
            if (std::chrono::steady_clock::now() > until) {
                kill();
                return std::nullopt;
            }
            std::this_thread::sleep_for(1ms);
        }
        return std::nullopt;
    }

private:
    pid_t pid_ = -1;
};

inline bool killed_by_sigkill(int status) {
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

inline bool exited_ok(int status) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

inline std::string describe_status(int status) {
    if (WIFEXITED(status))
        return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return std::string("signal ") + ::strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

// --- the producers' side ----------------------------------------------------------------------

/// The line a producer logs once send returned: "sent SEQ T0", T0 the now_ns() before the send.
inline std::string sent_line(std::uint32_t sequence, std::int64_t started_ns) {
    return "sent " + std::to_string(sequence) + " " + std::to_string(started_ns);
}

/// The line a consumer logs once receive returned: "got SLOT INCARNATION SEQ".
inline std::string got_line(const message_id& id) {
    return "got " + std::to_string(id.slot) + " " + std::to_string(id.incarnation) + " " +
           std::to_string(id.sequence);
}

/// One start of a producer: where its sequence began, what its log says it sent, how it ended.
struct producer_run {
    std::uint32_t slot = 0, incarnation = 0;
    std::uint32_t first = 0;                    ///< the sequence it started at
    std::map<std::uint32_t, std::int64_t> sent; ///< sequence -> T0, from its log
    std::vector<std::string> errors;            ///< lines of its log that are not "sent"
    pid_t pid = 0;                              ///< from its log's "pid N" line
    bool killed = false;                        ///< SIGKILLed (else it ended by itself)
    int status = 0;                             ///< its wait status

    /// Reads the log at `path`.
    void read_log(const std::string& path) {
        for (const std::string& l : read_lines(path)) {
            unsigned long long seq = 0;
            long long t0 = 0;
            int pid = 0;
            if (std::sscanf(l.c_str(), "sent %llu %lld", &seq, &t0) == 2)
                sent[std::uint32_t(seq)] = t0;
            else if (std::sscanf(l.c_str(), "pid %d", &pid) == 1)
                this->pid = pid;
            else
                errors.push_back(l);
        }
    }

    /// The sequence after the last it logged: where a restart goes on, and the one message
    /// that may have gone without being logged if it was killed.
    std::uint32_t next() const { return sent.empty() ? first : sent.rbegin()->first + 1; }
};

// --- the accounting ---------------------------------------------------------------------------

/// Where a message was found.
enum class found_by {
    consumer_log,    ///< a consumer's log
    killed_consumer, ///< the memory of a consumer killed after its receive returned, unlogged
    drain,           ///< left in the queue at the end
    owner,           ///< received by a mailbox's owner
};

/// Holds what producers logged as sent against what was received, exactly:
///  - every received message is as sent (verify() passed: the caller counts those that did not);
///  - no message is received twice;
///  - a received message was logged as sent, or is the one message in flight when its producer
///    was killed (its send may or may not have returned): "sent but unlogged", at most one per
///    producer kill;
///  - a message logged as sent and never found was lost with a consumer killed inside a receive
///    (after the library took it, before the call returned). At most one per such kill, and
///    each was sent (T0) before a kill of its own (a matching, checked by Hall's rule): so a
///    message sent after the last such kill is never missing.
class ledger {
public:
    void add_run(producer_run run) { runs_.push_back(std::move(run)); }
    /// A consumer was killed inside a receive call at `when_ns`: one message may be lost.
    void killed_in_receive_at(std::int64_t when_ns) { receive_kills_.push_back(when_ns); }

    void received(const message_id& id, found_by where) {
        auto& n = found_[id];
        ++n.times;
        n.where |= 1u << unsigned(where);
        switch (where) {
        case found_by::consumer_log:
            ++by_consumers_;
            break;
        case found_by::killed_consumer:
            ++by_killed_;
            break;
        case found_by::drain:
            ++by_drain_;
            break;
        case found_by::owner:
            ++by_owner_;
            break;
        }
    }

    struct outcome {
        std::size_t logged = 0;              ///< messages logged as sent
        std::size_t found = 0;               ///< distinct messages received
        std::size_t duplicates = 0;          ///< messages received more than once
        std::size_t unknown = 0;             ///< received, neither logged nor in flight at a kill
        std::size_t sent_unlogged = 0;       ///< received, in flight when its producer was killed
        std::size_t missing = 0;             ///< logged, never received
        std::size_t missing_unexplained = 0; ///< of them, more than the kills can explain
        std::size_t producer_kills = 0;
        std::size_t kills_in_receive = 0; ///< consumers killed inside a receive call
        std::size_t after_last_kill = 0;  ///< logged messages sent after the last of those
        std::string duplicate_ids, unknown_ids, sent_unlogged_ids, missing_ids;
        /// The producer runs that missing messages came from: "SLOT.INCARNATION pid P: N
        /// missing, the last K it logged among them;". Sends lost with their (killed) sender
        /// show as its last ones missing; a consumer's loss is one message anywhere.
        std::string missing_by_run;
        std::vector<pid_t> missing_pids;
        std::size_t by_consumers = 0, by_killed = 0, by_drain = 0, by_owner = 0;
        std::size_t producer_errors = 0;
        std::string first_errors;
    };

    outcome settle() const {
        outcome o;
        o.by_consumers = by_consumers_;
        o.by_killed = by_killed_;
        o.by_drain = by_drain_;
        o.by_owner = by_owner_;
        o.kills_in_receive = receive_kills_.size();
        std::map<std::pair<std::uint32_t, std::uint32_t>, const producer_run*> run_of;
        for (const producer_run& r : runs_) {
            run_of[{r.slot, r.incarnation}] = &r;
            o.logged += r.sent.size();
            o.producer_kills += r.killed;
            for (const auto& e : r.errors)
                if (o.producer_errors++ < 5)
                    o.first_errors += "\n  producer " + std::to_string(r.slot) + "." +
                                      std::to_string(r.incarnation) + ": " + e;
        }
        auto note = [](std::string& list, std::size_t n, const std::string& what) {
            if (n <= 12)
                list += " " + what;
        };
        for (const auto& [id, n] : found_) {
            ++o.found;
            if (n.times > 1)
                note(o.duplicate_ids, ++o.duplicates,
                     id.text() + "(x" + std::to_string(n.times) + where_text(n.where) + ")");
            auto r = run_of.find({id.slot, id.incarnation});
            if (r != run_of.end() && r->second->sent.contains(id.sequence))
                continue;
            if (r != run_of.end() && r->second->killed && id.sequence == r->second->next())
                note(o.sent_unlogged_ids, ++o.sent_unlogged, id.text());
            else
                note(o.unknown_ids, ++o.unknown, id.text());
        }
        // Missing messages, latest sent first: the k-th of them needs k consumer kills after
        // its T0 (Hall's condition for matching each to a kill of its own after it was sent).
        std::vector<std::pair<std::int64_t, message_id>> missing;
        for (const producer_run& r : runs_)
            for (const auto& [seq, t0] : r.sent)
                if (message_id id{r.slot, r.incarnation, seq}; !found_.contains(id))
                    missing.emplace_back(t0, id);
        std::sort(missing.begin(), missing.end(), std::greater<>());
        std::vector<std::int64_t> kills = receive_kills_;
        std::sort(kills.begin(), kills.end());
        const std::int64_t last_kill = kills.empty() ? 0 : kills.back();
        for (const producer_run& r : runs_)
            for (const auto& [seq, t0] : r.sent)
                o.after_last_kill += t0 > last_kill;
        for (const producer_run& r : runs_) {
            std::size_t lost = 0, last = 0;
            for (const auto& [seq, t0] : r.sent)
                lost += !found_.contains({r.slot, r.incarnation, seq});
            for (auto it = r.sent.rbegin();
                 it != r.sent.rend() && !found_.contains({r.slot, r.incarnation, it->first}); ++it)
                ++last;
            if (lost > 0 && o.missing_pids.size() < 12) {
                o.missing_by_run += " " + std::to_string(r.slot) + "." +
                                    std::to_string(r.incarnation) + " pid " +
                                    std::to_string(r.pid) + (r.killed ? " (killed)" : "") + ": " +
                                    std::to_string(lost) + " missing, the last " +
                                    std::to_string(last) + " it logged among them;";
                o.missing_pids.push_back(r.pid);
            }
        }
        for (std::size_t k = 0; k < missing.size(); ++k) {
            const auto later = std::size_t(
                kills.end() - std::upper_bound(kills.begin(), kills.end(), missing[k].first));
            const bool explained = later >= k + 1;
            o.missing_unexplained += !explained;
            note(o.missing_ids, ++o.missing,
                 missing[k].second.text() + (explained ? "" : "(unexplained)"));
        }
        return o;
    }

private:
    struct times_found {
        std::size_t times = 0;
        unsigned where = 0; // bit found_by
    };

    static std::string where_text(unsigned where) {
        static const char* const names[] = {"consumer log", "killed consumer", "drain", "owner"};
        std::string t;
        for (unsigned b = 0; b < 4; ++b)
            if (where & (1u << b))
                t += std::string(t.empty() ? " in " : "+") + names[b];
        return t;
    }
    std::vector<producer_run> runs_;
    std::vector<std::int64_t> receive_kills_;
    std::map<message_id, times_found> found_;
    std::size_t by_consumers_ = 0, by_killed_ = 0, by_drain_ = 0, by_owner_ = 0;
};

} // namespace reliability
