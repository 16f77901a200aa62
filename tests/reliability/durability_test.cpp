// seqmqd with a state directory (issue 12): real seqmqd processes killed with SIGKILL and
// restarted on their directory.
//  - a stream of 4 producers and 4 consumers, seqmqd killed -9 mid-stream and restarted, 10
//    times, under --sync always and under --sync batch: every message whose send returned (a
//    send on credit: once a flush after it returned) is received; none twice on one handle; a
//    message received twice was in a consumer's hands (taken, not yet known taken by seqmqd)
//    when seqmqd died, and came back: such repeats are counted and printed;
//  - queues of every kind (named, keyed, private), modes, owners, capacities, messages, the id
//    allocator, and a queue removed just before the kill: all as before, the removed one gone;
//  - damage: a truncated store, a store of a newer format, a locked directory, a full disk
//    (a small tmpfs: root only) — seqmqd's message and exit status;
//  - the time to start on 100,000 queued messages, printed (a figure, not an assertion).
#define BOOST_TEST_MODULE seqmqd state directory
#include "daemon_fixture.hpp"
#include "ledger.hpp"

#include "daemon/durable/state_store.hpp"

#include <array>
#include <atomic>
#include <fstream>
#include <lmdb.h>
#include <set>
#include <sstream>
#include <sys/mount.h>

using namespace daemon_test;
using namespace reliability;
using seqmq::open_flags;
using seqmq::queue;
using seqmq::receive_flags;
using seqmq::selector;

namespace {

// A seqmqd on a state directory that outlives it: started, killed -9 and started again on the
// same directory and socket.
class durable_daemon {
public:
    durable_daemon() {
        char tmpl[] = "/tmp/seqmqd-durable-XXXXXX";
        BOOST_TEST_REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir_ = tmpl;
        state_ = dir_ + "/state";
        socket_ = dir_ + "/seqmqd.sock";
        log_ = dir_ + "/seqmqd.log";
        ::setenv("SEQMQ_DAEMON", ("unix:" + socket_).c_str(), 1);
    }
    ~durable_daemon() {
        if (pid_ > 0)
            stop();
        std::error_code ec;
        if (!keep_)
            std::filesystem::remove_all(dir_, ec);
    }
    durable_daemon(const durable_daemon&) = delete;
    durable_daemon& operator=(const durable_daemon&) = delete;

    void start(std::vector<std::string> extra = {}) {
        std::vector<std::string> args{SEQMQD_PATH,   "--listen", "unix:" + socket_,
                                      "--state-dir", state_,     "--log-level",
                                      "debug"};
        args.insert(args.end(), extra.begin(), extra.end());
        pid_ = ::fork();
        BOOST_TEST_REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            ::dup2(fd, 2);
            std::vector<char*> argv;
            for (auto& a : args)
                argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(SEQMQD_PATH, argv.data());
            ::_exit(127);
        }
        BOOST_TEST_REQUIRE(eventually([&] { return accepting(); }),
                           "seqmqd did not come up; its log:\n"
                               << log_text());
    }
    void kill9() {
        ::kill(pid_, SIGKILL);
        ::waitpid(std::exchange(pid_, -1), nullptr, 0);
    }
    void stop() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(std::exchange(pid_, -1), &status, 0);
        BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0),
                   "seqmqd did not stop cleanly on SIGTERM; log:\n"
                       << log_text());
    }
    pid_t pid() const { return pid_; }
    const std::string& state() const { return state_; }
    const std::string& dir() const { return dir_; }
    void keep() { keep_ = true; }
    seqmq::queue_options options() const {
        seqmq::queue_options o;
        o.daemon = *seqmq::address::parse("unix:" + socket_);
        return o;
    }
    std::string log_text() const {
        std::ifstream f(log_);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    }

private:
    bool accepting() const {
        int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::strncpy(sun.sun_path, socket_.c_str(), sizeof sun.sun_path - 1);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
        ::close(fd);
        return ok;
    }

    std::string dir_, state_, socket_, log_;
    pid_t pid_ = -1;
    bool keep_ = false;
};

// seqmqd run on `state_dir` expected to refuse it: its exit status (-1 if it started and
// had to be killed) and what it wrote to stderr.
struct refused {
    int status = -1;
    std::string stderr_text;
};
refused run_refused(const std::string& state_dir, const std::string& socket) {
    const std::string err = state_dir + ".stderr";
    pid_t pid = ::fork();
    if (pid == 0) {
        int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ::dup2(fd, 2);
        ::execl(SEQMQD_PATH, SEQMQD_PATH, "--listen", ("unix:" + socket).c_str(), "--state-dir",
                state_dir.c_str(), nullptr);
        ::_exit(127);
    }
    refused r;
    r.status = seqmq::test::exit_code(seqmq::test::wait_for_child(pid, 5s));
    std::ifstream f(err);
    std::stringstream s;
    s << f.rdbuf();
    r.stderr_text = s.str();
    return r;
}

seqmq::result<queue> reopen(const std::string& name, const seqmq::queue_options& base, bool exact) {
    seqmq::queue_options o = base;
    o.wait_for_daemon = 10s;
    o.exact_sysv = exact;
    o.capacity = 65536;
    return queue::open(name, open_flags::create, 0666, o);
}

// --- (a) the stream -----------------------------------------------------------------------------

constexpr std::uint32_t producers = 4, consumers = 4;
constexpr int restarts = 10;
constexpr std::uint32_t flush_every = 16; // sends on credit confirmed by a flush
const std::array<selector, consumers> consumer_selectors{
    selector::any(), selector::any(), selector::lowest_up_to(3), selector::except_type(9)};

struct stream_state {
    std::atomic<bool> stop_producing{false};
    std::atomic<bool> stop_consuming{false};
    std::array<std::atomic<std::uint64_t>, producers> sent{};
    std::array<std::atomic<std::uint64_t>, consumers> got{};
};

// Producer `slot`: numbered messages; the even slots send on credit and confirm by flush()
// every flush_every sends, the odd ones with exact_sysv (a send returns once queued). Logs
// "ok FIRST LAST" once FIRST..LAST are confirmed. After an error it opens a new handle (waiting
// for the daemon) and goes on with the next number: what was not confirmed may be lost.
int produce(std::uint32_t slot, const std::string& log_path, const seqmq::queue_options& o,
            stream_state& st) {
    line_log log(log_path);
    const bool exact = slot % 2 == 1;
    std::array<std::byte, max_payload> buf{};
    std::uint32_t seq = 0;
    while (!st.stop_producing) {
        auto q = reopen("stream", o, exact);
        if (!q) {
            log.write("open " + q.error().message());
            continue;
        }
        std::uint32_t first = seq;
        bool broken = false;
        while (!st.stop_producing && !broken) {
            const message_id id{slot, 0, seq};
            const std::size_t n = compose(id, buf);
            if (auto r = q->send(message_type(id), std::span(buf).first(n)); !r) {
                broken = true;
                break;
            }
            ++seq;
            st.sent[slot] = seq;
            if (exact || seq - first == flush_every) {
                if (!exact && !q->flush()) {
                    broken = true;
                    break;
                }
                log.write("ok " + std::to_string(first) + " " + std::to_string(seq - 1));
                first = seq;
            }
        }
        if (!broken && !exact && seq != first && q->flush())
            log.write("ok " + std::to_string(first) + " " + std::to_string(seq - 1));
        seq += 1; // a send in flight at an error may or may not have gone: never reuse it
    }
    return 0;
}

// Consumer `slot`: receives with its selector and logs "got SLOT SEQ HANDLE" after each, the
// handle counting the consumer's opens (a handle belongs to one run of seqmqd).
int consume(std::uint32_t slot, const std::string& log_path, const seqmq::queue_options& o,
            stream_state& st) {
    line_log log(log_path);
    std::uint32_t handle = 0;
    std::array<std::byte, max_payload> buf{};
    for (;;) {
        auto q = reopen("stream", o, false);
        if (!q) {
            if (st.stop_consuming)
                return 0;
            continue;
        }
        ++handle;
        for (;;) {
            auto r = q->receive(buf, consumer_selectors[slot], receive_flags::none, 200ms);
            if (!r) {
                if (r.error() == std::errc::timed_out) {
                    if (st.stop_consuming)
                        return 0;
                    continue;
                }
                break; // the daemon went away: a new handle
            }
            auto id = verify(r->type, std::span(buf).first(r->size));
            if (!id) {
                log.write("bad");
                continue;
            }
            st.got[slot]++;
            log.write("got " + std::to_string(id->slot) + " " + std::to_string(id->sequence) + " " +
                      std::to_string(handle));
        }
    }
}

void stream_under(const std::string& policy) {
    const std::uint32_t seed = chaos_seed();
    BOOST_TEST_MESSAGE("--sync " << policy << ", seed " << seed);
    std::mt19937 random(seed);
    durable_daemon d;
    log_directory logs;
    BOOST_TEST_REQUIRE(logs.ok());
    const std::vector<std::string> args{"--sync", policy, "--max-queue-bytes", "1048576"};
    d.start(args);
    shared_memory<stream_state> st;
    BOOST_TEST_REQUIRE(st.ok());
    const auto o = d.options();
    {
        auto q = reopen("stream", o, true); // made before the workers, with its capacity
        BOOST_TEST_REQUIRE(q.has_value(), why(q));
    }
    std::vector<worker> workers;
    for (std::uint32_t p = 0; p < producers; ++p)
        workers.emplace_back([&, p] { return produce(p, logs.file("producer", p, 0), o, *st); });
    for (std::uint32_t c = 0; c < consumers; ++c)
        workers.emplace_back([&, c] { return consume(c, logs.file("consumer", c, 0), o, *st); });
    std::uint64_t sent_total = 0;
    for (int k = 0; k < restarts; ++k) {
        // Let the stream run a while (some hundred messages each), then kill seqmqd mid-stream.
        const std::uint64_t before = [&] {
            std::uint64_t s = 0;
            for (auto& n : st->sent)
                s += n;
            return s;
        }();
        const auto want = before + 400 + random() % 800;
        BOOST_TEST_REQUIRE(eventually(
            [&] {
                std::uint64_t s = 0;
                for (auto& n : st->sent)
                    s += n;
                sent_total = s;
                return s >= want;
            },
            20s));
        std::this_thread::sleep_for(std::chrono::microseconds(random() % 3000));
        d.kill9();
        d.start(args);
    }
    st->stop_producing = true;
    for (std::uint32_t p = 0; p < producers; ++p)
        BOOST_TEST(workers[p].wait(20s).has_value(), "producer " << p << " did not stop");
    // Drain: consumers go on until the queue is empty, then stop.
    {
        auto q = reopen("stream", o, false);
        BOOST_TEST_REQUIRE(q.has_value(), why(q));
        BOOST_TEST(eventually([&] { return q->stat() && q->stat()->count == 0; }, 30s));
    }
    st->stop_consuming = true;
    for (std::uint32_t c = 0; c < consumers; ++c)
        BOOST_TEST(workers[producers + c].wait(20s).has_value(),
                   "consumer " << c << " did not stop");

    // The accounting.
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::pair<std::uint32_t,
                                                                            std::uint32_t>>>
        received; // (producer, seq) -> (consumer, handle) of each receipt
    std::size_t bad = 0;
    for (std::uint32_t c = 0; c < consumers; ++c)
        for (const std::string& l : read_lines(logs.file("consumer", c, 0))) {
            unsigned slot = 0, seq = 0, handle = 0;
            if (std::sscanf(l.c_str(), "got %u %u %u", &slot, &seq, &handle) == 3)
                received[{slot, seq}].push_back({c, handle});
            else if (l == "bad")
                ++bad;
        }
    std::size_t confirmed = 0, missing = 0, repeats = 0, same_handle = 0;
    for (std::uint32_t p = 0; p < producers; ++p)
        for (const std::string& l : read_lines(logs.file("producer", p, 0))) {
            unsigned first = 0, last = 0;
            if (std::sscanf(l.c_str(), "ok %u %u", &first, &last) != 2)
                continue;
            for (unsigned s = first; s <= last; ++s) {
                ++confirmed;
                if (!received.contains({p, s})) {
                    if (++missing <= 10)
                        BOOST_TEST_MESSAGE("missing: producer " << p << " message " << s);
                }
            }
        }
    for (const auto& [id, got] : received) {
        repeats += got.size() - 1;
        std::set<std::pair<std::uint32_t, std::uint32_t>> handles(got.begin(), got.end());
        same_handle += got.size() - handles.size();
    }
    BOOST_TEST_MESSAGE("--sync " << policy << ": " << restarts << " kills of seqmqd, " << sent_total
                                 << " sends returned, " << confirmed << " confirmed, "
                                 << received.size() << " distinct received, " << repeats
                                 << " received again after a restart (in a consumer's hands "
                                    "at the kill)");
    BOOST_TEST(bad == 0u);
    BOOST_TEST(missing == 0u);
    BOOST_TEST(same_handle == 0u); // one handle never gets a message twice
    BOOST_TEST(confirmed > std::size_t(restarts) * 400);
    // A repeat is a message out of seqmqd's hands at the kill: in a consumer's delivery socket
    // or acknowledgement not yet read; a consumer holds at most a window's worth of those.
    BOOST_TEST(repeats <= std::size_t(restarts) * consumers * 4096);
    if (missing || same_handle || bad)
        d.keep(), logs.keep();
}

} // namespace

BOOST_AUTO_TEST_CASE(stream_survives_kill9_under_sync_always) {
    stream_under("always");
}

BOOST_AUTO_TEST_CASE(stream_survives_kill9_under_sync_batch) {
    stream_under("batch");
}

// --- (b) every kind of queue --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(queues_of_every_kind_survive_kill9) {
    durable_daemon d;
    d.start({"--sync", "batch"});
    auto o = d.options();
    o.capacity = 4000;
    auto named = queue::open("named", open_flags::create, 0640, o);
    BOOST_TEST_REQUIRE(named.has_value(), why(named));
    o.capacity = 0;
    auto keyed = queue::open("0x5e9a0001", open_flags::create, 0604, o);
    BOOST_TEST_REQUIRE(keyed.has_value(), why(keyed));
    auto priv = queue::create_private(0600, o);
    BOOST_TEST_REQUIRE(priv.has_value(), why(priv));
    auto doomed = queue::open("doomed", open_flags::create, 0666, o);
    BOOST_TEST_REQUIRE(doomed.has_value(), why(doomed));
    for (int i = 1; i <= 5; ++i) {
        BOOST_TEST_REQUIRE(named->send(i, bytes("named " + std::to_string(i))).has_value());
        BOOST_TEST_REQUIRE(priv->send(10 + i, bytes("private " + std::to_string(i))).has_value());
    }
    BOOST_TEST_REQUIRE(keyed->send(7, bytes("")).has_value());
    BOOST_TEST_REQUIRE(doomed->send(1, bytes("gone")).has_value());
    // The first named message is received (acknowledged: gone for good).
    auto first = named->receive();
    BOOST_TEST_REQUIRE(first.has_value(), why(first));
    seqmq::queue_settings set;
    set.mode = 0660;
    set.uid = 1234;
    set.capacity = 3000;
    BOOST_TEST_REQUIRE(named->set(set).has_value());
    BOOST_TEST_REQUIRE(named->flush().has_value());
    BOOST_TEST_REQUIRE(priv->flush().has_value());
    BOOST_TEST_REQUIRE(keyed->flush().has_value());
    const auto doomed_id = doomed->stat()->id;
    const auto priv_id = priv->stat()->id;
    BOOST_TEST_REQUIRE(doomed->remove().has_value());
    std::map<std::string, seqmq::queue_stat> before;
    auto all = queue::list_queues(o);
    BOOST_TEST_REQUIRE(all.has_value());
    for (const auto& s : *all)
        before[s.name.empty() ? "#" + std::to_string(s.id) : s.name] = s;
    const auto named_list = named->list();
    const auto info_before = queue::info(o);
    BOOST_TEST_REQUIRE(info_before.has_value());

    d.kill9();
    // The old handles: the connection is gone.
    auto old = named->stat();
    BOOST_TEST(!old.has_value());
    if (!old)
        BOOST_TEST(
            (old.error() == std::errc::connection_reset || old.error() == std::errc::broken_pipe),
            old.error().message());
    // A new open waits for the restart (wait_for_daemon).
    child later([&] {
        auto w = o;
        w.wait_for_daemon = 10s;
        auto q = queue::open("named", open_flags::none, 0, w);
        return q && q->stat() && q->stat()->count == 4 ? 0 : 1;
    });
    std::this_thread::sleep_for(200ms);
    d.start({"--sync", "batch"});
    BOOST_TEST(later.wait() == 0, "an open waiting for the daemon (wait_for_daemon) failed");

    auto after_all = queue::list_queues(o);
    BOOST_TEST_REQUIRE(after_all.has_value());
    BOOST_TEST(after_all->size() == before.size());
    for (const auto& s : *after_all) {
        const std::string key = s.name.empty() ? "#" + std::to_string(s.id) : s.name;
        BOOST_TEST_REQUIRE(before.contains(key), key);
        const auto& b = before[key];
        BOOST_TEST(s.id == b.id, key);
        BOOST_TEST(s.mode == b.mode, key);
        BOOST_TEST(s.uid == b.uid, key);
        BOOST_TEST(s.gid == b.gid, key);
        BOOST_TEST(s.cuid == b.cuid, key);
        BOOST_TEST(s.cgid == b.cgid, key);
        BOOST_TEST(s.capacity == b.capacity, key);
        BOOST_TEST(s.count == b.count, key);
        BOOST_TEST(s.bytes == b.bytes, key);
        BOOST_TEST(s.last_send_pid == b.last_send_pid, key);
        BOOST_TEST(s.last_receive_pid == b.last_receive_pid, key);
        BOOST_TEST((s.last_send_time == b.last_send_time), key);
        BOOST_TEST((s.last_receive_time == b.last_receive_time), key);
        BOOST_TEST((s.change_time == b.change_time), key);
    }
    BOOST_TEST(!before.contains("doomed"));
    BOOST_TEST(before.at("named").uid == 1234u);
    BOOST_TEST(before.at("named").capacity == 3000u);
    auto gone = queue::open("doomed", open_flags::none, 0, o);
    BOOST_TEST((!gone && gone.error() == std::errc::no_such_file_or_directory));
    // The messages, in order, with their types and senders.
    auto n2 = queue::open("named", open_flags::none, 0, o);
    BOOST_TEST_REQUIRE(n2.has_value());
    const auto named_after = n2->list();
    BOOST_TEST_REQUIRE(named_after.has_value());
    BOOST_TEST_REQUIRE(named_after->size() == named_list->size());
    for (std::size_t i = 0; i < named_after->size(); ++i) {
        BOOST_TEST((*named_after)[i].type == (*named_list)[i].type);
        BOOST_TEST((*named_after)[i].arrival == (*named_list)[i].arrival);
        BOOST_TEST((*named_after)[i].sender_pid == (*named_list)[i].sender_pid);
    }
    for (int i = 2; i <= 5; ++i) {
        auto m = n2->receive(selector::any(), receive_flags::nowait);
        BOOST_TEST_REQUIRE(m.has_value(), why(m));
        BOOST_TEST(m->type == i);
        BOOST_TEST(text(m->data) == "named " + std::to_string(i));
    }
    auto p2 = queue::open("#" + std::to_string(priv_id), open_flags::none, 0, o);
    BOOST_TEST_REQUIRE(p2.has_value(), why(p2));
    auto p_first = p2->receive(selector::any(), receive_flags::nowait);
    BOOST_TEST_REQUIRE(p_first.has_value());
    BOOST_TEST(text(p_first->data) == "private 1");
    // The removed queue's id stays invalid; a new queue does not get it, nor an id before it.
    auto stale = queue::open("#" + std::to_string(doomed_id), open_flags::none, 0, o);
    BOOST_TEST(!stale.has_value());
    auto fresh = queue::open("fresh", open_flags::create, 0600, o);
    BOOST_TEST_REQUIRE(fresh.has_value());
    BOOST_TEST(fresh->stat()->id != doomed_id);
    BOOST_TEST(fresh->stat()->id > doomed_id); // the allocator went on where it stopped
    // seqmq info shows the state directory.
    auto info = queue::info(o);
    BOOST_TEST_REQUIRE(info.has_value());
    BOOST_TEST_REQUIRE(info->state.has_value());
    BOOST_TEST(info->state->path == d.state());
    BOOST_TEST(info->state->sync == "batch");
    BOOST_TEST(info->state->interval.count() == 100);
    BOOST_TEST(info->state->used_bytes > 0u);
    BOOST_TEST(info->state->file_bytes >= info->state->used_bytes);
}

// --- (c) damage ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_locked_directory_is_refused) {
    durable_daemon d;
    d.start();
    const auto r = run_refused(d.state(), d.dir() + "/second.sock");
    BOOST_TEST(r.status == 3, r.stderr_text);
    BOOST_TEST(r.stderr_text.find("in use by another seqmqd (pid " + std::to_string(d.pid())) !=
                   std::string::npos,
               r.stderr_text);
    BOOST_TEST(r.stderr_text.find("seqmqd.lock") != std::string::npos, r.stderr_text);
}

namespace {
// Writes a raw record into one of the store's tables, as another version would.
void raw_put(const std::string& dir, const char* table, std::string_view key,
             std::span<const std::byte> value) {
    MDB_env* e = nullptr;
    BOOST_TEST_REQUIRE(::mdb_env_create(&e) == 0);
    ::mdb_env_set_maxdbs(e, 4);
    ::mdb_env_set_mapsize(e, std::size_t(8) << 30);
    BOOST_TEST_REQUIRE(::mdb_env_open(e, dir.c_str(), MDB_NOLOCK, 0600) == 0);
    MDB_txn* t = nullptr;
    BOOST_TEST_REQUIRE(::mdb_txn_begin(e, nullptr, 0, &t) == 0);
    MDB_dbi dbi;
    BOOST_TEST_REQUIRE(::mdb_dbi_open(t, table, 0, &dbi) == 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val val{value.size(), const_cast<std::byte*>(value.data())};
    BOOST_TEST_REQUIRE(::mdb_put(t, dbi, &k, &val, 0) == 0);
    BOOST_TEST_REQUIRE(::mdb_txn_commit(t) == 0);
    ::mdb_env_close(e);
}

// A state directory with a queue and messages in it, seqmqd stopped.
void make_state(durable_daemon& d) {
    d.start();
    auto q = queue::open("kept", open_flags::create, 0600, d.options());
    BOOST_TEST_REQUIRE(q.has_value());
    for (int i = 0; i < 20; ++i) // 10,000 bytes: within the default capacity
        BOOST_TEST_REQUIRE(q->send(1, bytes(std::string(500, 'x'))).has_value());
    BOOST_TEST_REQUIRE(q->flush().has_value());
    d.stop();
}
} // namespace

BOOST_AUTO_TEST_CASE(a_truncated_store_is_refused) {
    durable_daemon d;
    make_state(d);
    const std::string data = d.state() + "/data.mdb";
    std::filesystem::resize_file(data, 8192);
    const auto r = run_refused(d.state(), d.dir() + "/second.sock");
    BOOST_TEST(r.status == 3, r.stderr_text);
    BOOST_TEST(r.stderr_text.find("data.mdb") != std::string::npos, r.stderr_text);
    BOOST_TEST(r.stderr_text.find("refused") != std::string::npos, r.stderr_text);
    BOOST_TEST(std::filesystem::file_size(data) == 8192u); // left as it was, for inspection
}

BOOST_AUTO_TEST_CASE(a_store_of_a_newer_format_is_refused) {
    durable_daemon d;
    make_state(d);
    // The format record a later seqmqd would write (big-endian u32 under "format" in meta).
    const auto v = seqmq::daemon::durable::store_format + 1;
    const std::byte newer[4] = {std::byte(v >> 24), std::byte(v >> 16), std::byte(v >> 8),
                                std::byte(v)};
    raw_put(d.state(), "meta", "format", newer);
    const auto r = run_refused(d.state(), d.dir() + "/second.sock");
    BOOST_TEST(r.status == 3, r.stderr_text);
    BOOST_TEST(r.stderr_text.find("newer") != std::string::npos, r.stderr_text);
    BOOST_TEST(r.stderr_text.find("data.mdb") != std::string::npos, r.stderr_text);
}

BOOST_AUTO_TEST_CASE(a_full_disk_refuses_sends_with_enospc_and_keeps_the_queue) {
    if (::geteuid() != 0) {
        BOOST_TEST_MESSAGE("SKIP: mounting a small tmpfs needs root");
        return;
    }
    durable_daemon d;
    const std::string mnt = d.dir() + "/small";
    std::filesystem::create_directory(mnt);
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=48m") != 0) {
        BOOST_TEST_MESSAGE("SKIP: cannot mount a tmpfs: " << std::strerror(errno));
        return;
    }
    struct unmount {
        std::string at;
        ~unmount() { ::umount2(at.c_str(), MNT_DETACH); }
    } unmount_at{mnt};
    // The state directory on the tmpfs (a symlink from where the fixture looks).
    std::filesystem::create_directory(mnt + "/state");
    std::filesystem::create_directory_symlink(mnt + "/state", d.state());
    const std::vector<std::string> args{"--sync", "always", "--max-queue-bytes", "100000000"};
    d.start(args);
    auto o = d.options();
    o.exact_sysv = true;
    o.capacity = 64 << 20; // the disk fills before the queue
    auto q = queue::open("full", open_flags::create, 0600, o);
    BOOST_TEST_REQUIRE(q.has_value());
    // Fill the rest of the tmpfs with a file, as another program would.
    {
        std::ofstream filler(mnt + "/filler", std::ios::binary);
        std::string mb(1 << 20, 'f');
        while (filler.write(mb.data(), std::streamsize(mb.size())))
            ;
    }
    int refused_count = 0, queued = 0;
    const std::string payload(4000, 'p');
    for (int i = 0; i < 20000 && refused_count == 0; ++i) {
        auto r = q->send(1, bytes(payload), seqmq::send_flags::nowait);
        if (r) {
            ++queued;
            continue;
        }
        BOOST_TEST((r.error() == std::errc::no_space_on_device), r.error().message());
        ++refused_count;
    }
    BOOST_TEST(refused_count == 1, "no send was refused with ENOSPC; log:\n"
                                       << d.log_text().substr(0, 3000));
    BOOST_TEST(d.log_text().find("no room on the disk") != std::string::npos,
               d.log_text().substr(d.log_text().find(" error: ") == std::string::npos
                                       ? 0
                                       : d.log_text().find(" error: "),
                                   600));
    const auto st = q->stat();
    BOOST_TEST_REQUIRE(st.has_value());
    // Receives go on, and what was queued is there after a kill.
    const std::size_t count = st->count;
    BOOST_TEST(count == std::size_t(queued));
    auto one = q->receive(selector::any(), receive_flags::nowait);
    BOOST_TEST_REQUIRE(one.has_value(), why(one)); // receives go on
    // A receive from the delivery socket returns before seqmqd has read the handle's report of
    // it; a request after it on the same connection is answered only once the report is
    // committed (replies wait for the turn's commit), so the removal is on disk before the kill.
    const auto after = q->stat();
    BOOST_TEST_REQUIRE(after.has_value());
    BOOST_TEST(after->count == count - 1);
    d.kill9();
    std::filesystem::remove(mnt + "/filler");
    d.start(args);
    auto q2 = queue::open("full", open_flags::none, 0, o);
    BOOST_TEST_REQUIRE(q2.has_value());
    BOOST_TEST(q2->stat()->count == count - 1);
    BOOST_TEST(q2->receive(selector::any(), receive_flags::nowait).has_value()); // receives go on
}

// --- (d) recovery time --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(recovery_of_100000_messages_is_timed) {
    durable_daemon d;
    const std::vector<std::string> args{"--sync",    "none",         "--max-queue-bytes",
                                        "100000000", "--max-memory", "1000000000"};
    d.start(args);
    auto o = d.options();
    o.capacity = 64 * 1024 * 1024;
    auto q = queue::open("deep", open_flags::create, 0600, o);
    BOOST_TEST_REQUIRE(q.has_value(), why(q));
    std::vector<seqmq::outgoing_message> batch;
    const std::string payload(64, 'm');
    for (int i = 0; i < 1000; ++i)
        batch.push_back({1 + i % 5, bytes(payload)});
    for (int k = 0; k < 100; ++k) {
        auto n = q->send_many(batch);
        BOOST_TEST_REQUIRE(n.has_value(), why(n));
        BOOST_TEST_REQUIRE(*n == batch.size());
    }
    BOOST_TEST_REQUIRE(q->flush().has_value());
    BOOST_TEST_REQUIRE(q->stat()->count == 100000u);
    const auto used = queue::info(o)->state->used_bytes;
    d.kill9();
    const auto t0 = std::chrono::steady_clock::now();
    d.start(args); // returns once it accepts connections: it loaded before listening
    const auto ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    auto q2 = queue::open("deep", open_flags::none, 0, o);
    BOOST_TEST_REQUIRE(q2.has_value());
    BOOST_TEST(q2->stat()->count == 100000u);
    BOOST_TEST_MESSAGE("recovery: seqmqd accepting " << ms << " ms after its start on 100000 "
                                                     << "queued 64-byte messages; store " << used
                                                     << " bytes used (" << double(used) / 100000
                                                     << " bytes per message)");
}
