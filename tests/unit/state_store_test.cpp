// The state directory's store (src/daemon/durable): what it writes is what a reopen loads, in
// order; turns commit or abort as a whole; and every damaged or foreign directory is refused
// with the documented errno and a sentence naming the file — never loaded as an empty start.
#define BOOST_TEST_MODULE state_store
#include <boost/test/unit_test.hpp>

#include "daemon/durable/state_store.hpp"

#include <lmdb.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <sys/mount.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using namespace seqmq::daemon::durable;

namespace {

// A fresh directory, removed afterwards.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string t = (fs::temp_directory_path() / "seqmq-store-XXXXXX").string();
        BOOST_TEST_REQUIRE(::mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path state() const { return path / "state"; }
};

struct loaded {
    std::vector<stored_queue> queues;
    std::vector<std::tuple<std::uint32_t, std::uint64_t, std::int64_t, std::int32_t, std::int64_t,
                           std::string>>
        messages; // queue, arrival, type, pid, time, text
};

loaded load_all(const state_store& s) {
    loaded l;
    auto r = s.load(
        [&](const stored_queue& q) -> seqmq::result<void> {
            l.queues.push_back(q);
            return {};
        },
        [&](std::uint32_t id, const stored_message& m) -> seqmq::result<void> {
            l.messages.emplace_back(
                id, m.arrival, m.type, m.sender_pid, m.time,
                std::string(reinterpret_cast<const char*>(m.data.data()), m.data.size()));
            return {};
        });
    if (!r)
        BOOST_FAIL("load: " << r.error().message());
    return l;
}

stored_queue queue(std::uint32_t id, std::string name) {
    stored_queue q;
    q.id = id;
    q.name = std::move(name);
    q.uid = 1000, q.gid = 100, q.cuid = 0, q.cgid = 0, q.mode = 0640;
    q.capacity = 16384;
    q.next_arrival = 7;
    q.last_send_pid = 42, q.last_receive_pid = 43;
    q.send_time = 1'700'000'000'000'000'000, q.receive_time = 1, q.change_time = 2;
    return q;
}

stored_message message(std::uint64_t arrival, std::int64_t type, const std::string& text) {
    stored_message m;
    m.arrival = arrival;
    m.type = type;
    m.sender_pid = 4242;
    m.time = 123456789;
    m.data = std::as_bytes(std::span(text.data(), text.size()));
    return m;
}

void require_ok(const seqmq::result<void>& r, const char* what) {
    if (!r)
        BOOST_FAIL(what << ": " << r.error().message());
}

state_store open_ok(const fs::path& dir, store_options o = {}) {
    auto s = state_store::open(dir, o);
    if (!s)
        BOOST_FAIL("open: " << s.error().explanation);
    return std::move(*s);
}

// Writes a raw record into one of the store's tables, as damage or another version would.
void raw_put(const fs::path& dir, const char* table, std::string_view key,
             std::span<const std::byte> value) {
    MDB_env* e = nullptr;
    BOOST_TEST_REQUIRE(::mdb_env_create(&e) == 0);
    ::mdb_env_set_maxdbs(e, 4);
    BOOST_TEST_REQUIRE(::mdb_env_open(e, dir.c_str(), MDB_NOLOCK, 0600) == 0);
    MDB_txn* t = nullptr;
    BOOST_TEST_REQUIRE(::mdb_txn_begin(e, nullptr, 0, &t) == 0);
    MDB_dbi dbi;
    BOOST_TEST_REQUIRE(::mdb_dbi_open(t, table, 0, &dbi) == 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<std::byte*>(value.data())};
    BOOST_TEST_REQUIRE(::mdb_put(t, dbi, &k, &v, 0) == 0);
    BOOST_TEST_REQUIRE(::mdb_txn_commit(t) == 0);
    ::mdb_env_close(e);
}

} // namespace

BOOST_AUTO_TEST_CASE(what_is_committed_comes_back_in_order) {
    temp_dir d;
    {
        state_store s = open_ok(d.state());
        require_ok(s.put_queue(queue(5, "karaoke")), "put_queue 5");
        require_ok(s.put_queue(queue(32768, "")), "put_queue 32768 (private)");
        require_ok(s.put_message(5, message(3, 2, "third")), "put 5/3");
        require_ok(s.put_message(5, message(1, 1, "first")), "put 5/1");
        require_ok(s.put_message(32768, message(1, 9, "other queue")), "put 32768/1");
        require_ok(s.put_message(5, message(2, 1, "")), "put 5/2 (empty)");
        const std::vector<std::byte> reg{std::byte{1}, std::byte{2}, std::byte{3}};
        require_ok(s.put_registry(reg), "put_registry");
        BOOST_TEST(s.pending());
        require_ok(s.commit(), "commit");
        BOOST_TEST(!s.pending());
        require_ok(s.remove_message(5, 3), "remove 5/3");
        require_ok(s.remove_message(5, 99), "remove of a message never written");
        require_ok(s.commit(), "commit 2");
    }
    state_store s = open_ok(d.state());
    const loaded l = load_all(s);
    BOOST_TEST_REQUIRE(l.queues.size() == 2u);
    BOOST_TEST(l.queues[0].id == 5u);
    BOOST_TEST(l.queues[0].name == "karaoke");
    BOOST_TEST(l.queues[0].mode == 0640u);
    BOOST_TEST(l.queues[0].uid == 1000u);
    BOOST_TEST(l.queues[0].capacity == 16384u);
    BOOST_TEST(l.queues[0].next_arrival == 7u);
    BOOST_TEST(l.queues[0].last_receive_pid == 43);
    BOOST_TEST(l.queues[0].send_time == 1'700'000'000'000'000'000);
    BOOST_TEST(l.queues[1].id == 32768u);
    BOOST_TEST(l.queues[1].name.empty());
    BOOST_TEST_REQUIRE(l.messages.size() == 3u);
    BOOST_TEST((l.messages[0] == std::tuple(5u, 1u, 1, 4242, 123456789, "first")));
    BOOST_TEST((l.messages[1] == std::tuple(5u, 2u, 1, 4242, 123456789, "")));
    BOOST_TEST((l.messages[2] == std::tuple(32768u, 1u, 9, 4242, 123456789, "other queue")));
    auto reg = s.registry();
    BOOST_TEST_REQUIRE(reg.has_value());
    BOOST_TEST(reg->size() == 3u);
}

BOOST_AUTO_TEST_CASE(an_aborted_turn_leaves_nothing) {
    temp_dir d;
    {
        state_store s = open_ok(d.state());
        require_ok(s.put_queue(queue(1, "a")), "put_queue");
        require_ok(s.commit(), "commit");
        require_ok(s.put_message(1, message(1, 1, "lost")), "put");
        require_ok(s.put_queue(queue(2, "b")), "put_queue 2");
        s.abort();
        BOOST_TEST(!s.pending());
    }
    state_store s = open_ok(d.state());
    const loaded l = load_all(s);
    BOOST_TEST(l.queues.size() == 1u);
    BOOST_TEST(l.messages.empty());
}

BOOST_AUTO_TEST_CASE(removing_a_queue_removes_its_messages_only) {
    temp_dir d;
    {
        state_store s = open_ok(d.state());
        for (std::uint32_t id : {1u, 2u, 3u}) {
            require_ok(s.put_queue(queue(id, "q" + std::to_string(id))), "put_queue");
            for (std::uint64_t a = 1; a <= 100; ++a)
                require_ok(s.put_message(id, message(a, 1, "m")), "put");
        }
        require_ok(s.commit(), "commit");
        require_ok(s.remove_queue(2), "remove_queue");
        require_ok(s.commit(), "commit 2");
    }
    state_store s = open_ok(d.state());
    const loaded l = load_all(s);
    BOOST_TEST_REQUIRE(l.queues.size() == 2u);
    BOOST_TEST(l.queues[0].id == 1u);
    BOOST_TEST(l.queues[1].id == 3u);
    BOOST_TEST(l.messages.size() == 200u);
    for (const auto& m : l.messages)
        BOOST_TEST(std::get<0>(m) != 2u);
}

BOOST_AUTO_TEST_CASE(sync_policies_count_their_syncs) {
    temp_dir d;
    for (auto p : {sync_policy::always, sync_policy::batch, sync_policy::none}) {
        store_options o;
        o.sync = p;
        state_store s = open_ok(d.path / to_string(p), o);
        for (int i = 1; i <= 3; ++i) {
            require_ok(s.put_queue(queue(std::uint32_t(i), "q")), "put_queue");
            require_ok(s.commit(), "commit");
        }
        const store_info before = s.info();
        BOOST_TEST(before.commits == 3u);
        BOOST_TEST(before.syncs == (p == sync_policy::always ? 3u : 0u));
        BOOST_TEST(before.used_bytes <= before.file_bytes);
        require_ok(s.sync(), "sync");
        BOOST_TEST(s.info().syncs == (p == sync_policy::always ? 3u : 1u),
                   "sync() syncs only what was not synced");
        BOOST_TEST(s.info().last_sync.time_since_epoch().count() > 0);
    }
    BOOST_TEST((parse_sync_policy("batch") == sync_policy::batch));
    BOOST_TEST(!parse_sync_policy("Always").has_value());
}

BOOST_AUTO_TEST_CASE(a_directory_in_use_is_refused) {
    temp_dir d;
    state_store first = open_ok(d.state());
    auto second = state_store::open(d.state(), {});
    BOOST_TEST_REQUIRE(!second.has_value());
    BOOST_TEST((second.error().code == std::errc::resource_unavailable_try_again));
    const std::string& why = second.error().explanation;
    BOOST_TEST(why.find("seqmqd.lock") != std::string::npos, why);
    BOOST_TEST(why.find("pid " + std::to_string(::getpid())) != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(a_newer_format_is_refused) {
    temp_dir d;
    { state_store s = open_ok(d.state()); }
    const std::byte newer[4] = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{2}};
    raw_put(d.state(), "meta", "format", newer);
    auto s = state_store::open(d.state(), {});
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST((s.error().code == std::errc::protocol_not_supported));
    BOOST_TEST(s.error().explanation.find("newer seqmqd (format 2") != std::string::npos,
               s.error().explanation);
}

BOOST_AUTO_TEST_CASE(a_truncated_store_is_refused_not_emptied) {
    temp_dir d;
    {
        state_store s = open_ok(d.state());
        require_ok(s.put_queue(queue(1, "q")), "put_queue");
        const std::string big(4000, 'x');
        for (std::uint64_t a = 1; a <= 2000; ++a)
            require_ok(s.put_message(1, message(a, 1, big)), "put");
        require_ok(s.commit(), "commit");
    }
    const fs::path data = d.state() / "data.mdb";
    for (std::uintmax_t size : {std::uintmax_t(1) << 20, std::uintmax_t(0)}) {
        fs::resize_file(data, size);
        auto s = state_store::open(d.state(), {});
        BOOST_TEST_REQUIRE(!s.has_value(), "a store truncated to " << size << " opened");
        BOOST_TEST((s.error().code == std::errc::bad_message));
        BOOST_TEST(s.error().explanation.find(data.string()) != std::string::npos,
                   s.error().explanation);
        BOOST_TEST(s.error().explanation.find("move") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_store_is_refused) {
    temp_dir d;
    fs::create_directories(d.state());
    std::ofstream(d.state() / "data.mdb") << std::string(8192, 'z');
    auto s = state_store::open(d.state(), {});
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST((s.error().code == std::errc::bad_message));
    BOOST_TEST(s.error().explanation.find("not an LMDB store") != std::string::npos,
               s.error().explanation);
}

BOOST_AUTO_TEST_CASE(a_damaged_record_stops_loading) {
    temp_dir d;
    {
        state_store s = open_ok(d.state());
        require_ok(s.put_queue(queue(1, "q")), "put_queue");
        require_ok(s.commit(), "commit");
    }
    const std::byte key[4] = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};
    const std::byte junk[3] = {std::byte{0xff}, std::byte{0x00}, std::byte{0x13}};
    raw_put(d.state(), "queues", std::string_view(reinterpret_cast<const char*>(key), 4), junk);
    state_store s = open_ok(d.state());
    auto r = s.load([](const stored_queue&) -> seqmq::result<void> { return {}; },
                    [](std::uint32_t, const stored_message&) -> seqmq::result<void> { return {}; });
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error() == std::errc::bad_message));
}

BOOST_AUTO_TEST_CASE(a_message_of_no_queue_stops_loading) {
    temp_dir d;
    {
        state_store s = open_ok(d.state());
        require_ok(s.put_message(9, message(1, 1, "orphan")), "put");
        require_ok(s.commit(), "commit");
    }
    state_store s = open_ok(d.state());
    auto r = s.load([](const stored_queue&) -> seqmq::result<void> { return {}; },
                    [](std::uint32_t, const stored_message&) -> seqmq::result<void> { return {}; });
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error() == std::errc::bad_message));
}

namespace {
// A precondition: a small tmpfs can be mounted (root).
struct can_mount {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result ok(::geteuid() == 0);
        ok.message() << "needs root to mount a 4 MiB tmpfs (a full disk)";
        return ok;
    }
};
} // namespace

BOOST_AUTO_TEST_CASE(a_full_disk_refuses_sends_and_keeps_what_is_queued,
                     *boost::unit_test::precondition(can_mount())) {
    temp_dir d;
    BOOST_TEST_REQUIRE(::mount("seqmq-full", d.path.c_str(), "tmpfs", 0, "size=4m") == 0,
                       "mount tmpfs: " << std::strerror(errno));
    struct unmount {
        fs::path at;
        ~unmount() { ::umount2(at.c_str(), MNT_DETACH); }
    } undo{d.path};
    store_options o;
    o.reserve_bytes = 512 * 1024;
    o.max_bytes = 64u << 20; // more than the disk: the disk fills first
    std::uint64_t queued = 0;
    {
        state_store s = open_ok(d.state(), o);
        require_ok(s.put_queue(queue(1, "q")), "put_queue");
        require_ok(s.commit(), "commit");
        const std::string text(1000, 'y');
        std::error_code refused;
        for (std::uint64_t a = 1; a <= 100000 && !refused; ++a) {
            auto r = s.put_message(1, message(a, 1, text));
            if (!r) {
                refused = r.error();
                break;
            }
            if (a % 16 == 0) {
                require_ok(s.commit(), "a commit inside the reserve");
            }
            queued = a;
        }
        BOOST_TEST_REQUIRE(bool(refused), "4 MiB took 100 MB of messages");
        BOOST_TEST((refused == std::errc::no_space_on_device));
        BOOST_TEST(!s.room());
        require_ok(s.commit(), "the turn before the refusal commits");
        // Receives go on on a full disk: they free pages.
        for (std::uint64_t a = 1; a <= 10; ++a)
            require_ok(s.remove_message(1, a), "remove");
        require_ok(s.commit(), "commit of removals");
    }
    BOOST_TEST(queued > 1000u);
    state_store s = open_ok(d.state(), o);
    const loaded l = load_all(s);
    BOOST_TEST(l.messages.size() == queued - 10);
    BOOST_TEST(std::get<1>(l.messages.front()) == 11u);
}
