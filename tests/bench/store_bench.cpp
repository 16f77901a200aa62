// seqmq_store_bench: the store of seqmqd's state directory measured on its own workload (issue
// 12, item 4), to choose between LMDB and an append-only segment log. Peers, each behind one
// small interface (append a message, remove one by (queue, arrival), commit a turn, sync,
// recover):
//   memory         no store: only the in-memory queue every peer also keeps (the baseline)
//   lmdb           the project's own state_store (src/daemon/durable): LMDB, MDB_NOSYNC under
//                  batch and none, synced commits under always
//   lmdb-writemap  raw LMDB calls with state_store's tables, keys and values, plus MDB_WRITEMAP
//                  (state_store does not offer it), the data file kept allocated a reserve ahead
//                  as state_store does
//   lmdb-raw       the same raw calls without MDB_WRITEMAP: what LMDB costs without
//                  state_store's own work (its reserve checks, its counters)
//   log            an append-only segment log written for this comparison only — a benchmark
//                  peer, NOT a product format: records (CRC-32) appended to 1 MiB segment files,
//                  tombstones for removals, a sealed segment compacted (its live records copied
//                  forward, synced, the file unlinked) once its live fraction is below 1/2,
//                  fdatasync per policy, recovery by scanning every segment
// Workloads (one queue, 64-byte messages):
//   stream     append one + commit per message, then remove one + commit per message (FIFO), as
//              seqmqd's turn does under a client making one call per message
//   batch32    the same with 32 appends (then 32 removes) per commit
//   middle     selective receive from the middle of a 10,000-message queue: the 5,000 messages
//              of the wanted type sit in its middle, each taken with a commit of its own
//   always     append + commit with a synced commit: the latency of one durable send
//   space      bytes on disk per queued message (100,000 queued; then half of them dequeued,
//              the log before compaction)
//   recovery   reopening the store and loading 100,000 queued messages, page cache warm and cold
//              (the store's files dropped from it with POSIX_FADV_DONTNEED)
// Under batch the workload calls sync() every 100 ms, as seqmqd's --sync-interval timer does.
// Every figure is the median of --runs runs, each in a fresh directory under --dir (default:
// the current directory, so that the real file system is measured, not a tmpfs). A program that
// prints a table (and with --json a file); nothing here asserts a timing. What it does check:
// every recovery finds exactly the messages that were queued (count and arrivals), and throws
// otherwise — so the smoke test (ctest test_store_bench_smoke) can fail.

#include "daemon/durable/state_store.hpp"
#include "wire/byte_order.hpp"

#include <CLI/CLI.hpp>
#include <lmdb.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <linux/magic.h>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace durable = seqmq::daemon::durable;
using durable::sync_policy;
using seqmq::detail::get_big_endian;
using seqmq::detail::put_big_endian;
using clock_type = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what);
}
[[noreturn]] void fail_errno(const std::string& what) {
    fail(what + ": " + std::strerror(errno));
}
void check_lmdb(int rc, const char* what) {
    if (rc != 0)
        fail(std::string(what) + ": " + ::mdb_strerror(rc));
}

constexpr std::uint32_t queue_id = 1;
constexpr std::size_t payload_size = 64;

// What a recovery hands back, checked against what was queued.
struct recovered {
    std::size_t count = 0;
    std::uint64_t arrival_sum = 0;
    std::vector<std::byte> payloads; // copied, as seqmqd's model would
    void add(std::uint64_t arrival, std::span<const std::byte> data) {
        ++count;
        arrival_sum += arrival;
        payloads.insert(payloads.end(), data.begin(), data.end());
    }
};

// --- the interface every peer fills -----------------------------------------------------------

class store_peer {
public:
    virtual ~store_peer() = default;
    virtual void append(std::uint32_t queue, std::uint64_t arrival, std::int64_t type,
                        std::span<const std::byte> payload) = 0;
    virtual void remove(std::uint32_t queue, std::uint64_t arrival) = 0;
    /// The end of an event-loop turn.
    virtual void commit() = 0;
    /// batch's timer.
    virtual void sync() = 0;
    /// Bytes on disk the store occupies (without a reserve allocated ahead).
    virtual std::uint64_t disk_bytes() = 0;
    /// Closes the store (everything committed synced) and reopens it, loading every message.
    virtual recovered recover() = 0;
    /// The log only: whether compaction runs (off to measure space before compaction).
    virtual void set_compaction(bool) {}
    /// False for memory, which recovers nothing.
    virtual bool keeps_messages() const { return true; }
    /// What the peer did besides the workload (the log: its compactions), for the report.
    virtual std::string notes() const { return {}; }
};

using peer_factory = std::function<std::unique_ptr<store_peer>(const fs::path&, sync_policy)>;

// --- memory: no store --------------------------------------------------------------------------

class memory_peer final : public store_peer {
public:
    void append(std::uint32_t, std::uint64_t, std::int64_t, std::span<const std::byte>) override {}
    void remove(std::uint32_t, std::uint64_t) override {}
    void commit() override {}
    void sync() override {}
    std::uint64_t disk_bytes() override { return 0; }
    recovered recover() override { return {}; }
    bool keeps_messages() const override { return false; }
};

// --- lmdb: the project's state_store -----------------------------------------------------------

class state_store_peer final : public store_peer {
public:
    state_store_peer(fs::path dir, sync_policy sync) : dir_(std::move(dir)), sync_(sync) {
        open();
        durable::stored_queue q;
        q.id = queue_id;
        q.name = "bench";
        q.mode = 0600;
        q.capacity = 1 << 30;
        if (!store_->put_queue(q) || !store_->commit())
            fail("state_store: put_queue");
    }
    void append(std::uint32_t queue, std::uint64_t arrival, std::int64_t type,
                std::span<const std::byte> payload) override {
        durable::stored_message m;
        m.arrival = arrival;
        m.type = type;
        m.sender_pid = 1;
        m.time = 1;
        m.data = payload;
        if (auto r = store_->put_message(queue, m); !r)
            fail("state_store::put_message: " + r.error().message());
    }
    void remove(std::uint32_t queue, std::uint64_t arrival) override {
        if (auto r = store_->remove_message(queue, arrival); !r)
            fail("state_store::remove_message: " + r.error().message());
    }
    void commit() override {
        if (auto r = store_->commit(); !r)
            fail("state_store::commit: " + r.error().message());
    }
    void sync() override {
        if (auto r = store_->sync(); !r)
            fail("state_store::sync: " + r.error().message());
    }
    std::uint64_t disk_bytes() override { return store_->info().used_bytes; }
    recovered recover() override {
        sync();
        store_.reset(); // closes
        drop_cache();
        recovered got;
        const auto start = clock_type::now();
        open();
        auto r = store_->load(
            [](const durable::stored_queue&) -> seqmq::result<void> { return {}; },
            [&](std::uint32_t, const durable::stored_message& m) -> seqmq::result<void> {
                got.add(m.arrival, m.data);
                return {};
            });
        if (!r)
            fail("state_store::load: " + r.error().message());
        last_recovery_ = clock_type::now() - start;
        return got;
    }
    std::function<void()> drop_cache = [] {};
    clock_type::duration last_recovery_{};

private:
    void open() {
        durable::store_options o;
        o.sync = sync_;
        auto s = durable::state_store::open(dir_, o);
        if (!s)
            fail("state_store::open: " + s.error().explanation);
        store_.emplace(std::move(*s));
    }
    fs::path dir_;
    sync_policy sync_;
    std::optional<durable::state_store> store_;
};

// --- lmdb-writemap: raw LMDB with state_store's layout and MDB_WRITEMAP -------------------------

class writemap_peer final : public store_peer {
public:
    static constexpr std::size_t map_bytes = std::size_t(8) << 30; // state_store's max_bytes
    static constexpr std::uint64_t reserve_bytes = 32u << 20;      // and its reserve

    writemap_peer(fs::path dir, sync_policy sync, bool writemap = true)
        : dir_(std::move(dir)), sync_(sync), writemap_(writemap) {
        fs::create_directories(dir_);
        open();
        begin();
        static constexpr std::string_view format_key = "format";
        std::array<std::byte, 4> f;
        put_big_endian(f.data(), durable::store_format);
        MDB_val k{format_key.size(), const_cast<char*>(format_key.data())};
        MDB_val v{f.size(), f.data()};
        check_lmdb(::mdb_put(txn_, meta_, &k, &v, 0), "mdb_put format");
        commit();
    }
    ~writemap_peer() override { close(); }

    void append(std::uint32_t queue, std::uint64_t arrival, std::int64_t type,
                std::span<const std::byte> payload) override {
        begin();
        std::array<std::byte, 12> key;
        put_big_endian(key.data(), queue);
        put_big_endian(key.data() + 4, arrival);
        MDB_val k{key.size(), key.data()};
        MDB_val v{20 + payload.size(), nullptr};
        check_lmdb(::mdb_put(txn_, messages_, &k, &v, MDB_RESERVE), "mdb_put");
        auto* out = static_cast<std::byte*>(v.mv_data);
        put_big_endian(out, type);
        put_big_endian(out + 8, std::int32_t(1));
        put_big_endian(out + 12, std::int64_t(1));
        std::memcpy(out + 20, payload.data(), payload.size());
    }
    void remove(std::uint32_t queue, std::uint64_t arrival) override {
        begin();
        std::array<std::byte, 12> key;
        put_big_endian(key.data(), queue);
        put_big_endian(key.data() + 4, arrival);
        MDB_val k{key.size(), key.data()};
        const int rc = ::mdb_del(txn_, messages_, &k, nullptr);
        if (rc != MDB_NOTFOUND)
            check_lmdb(rc, "mdb_del");
    }
    void commit() override {
        if (!txn_)
            return;
        MDB_txn* t = std::exchange(txn_, nullptr);
        check_lmdb(::mdb_txn_commit(t), "mdb_txn_commit");
        keep_reserve();
    }
    void sync() override { check_lmdb(::mdb_env_sync(env_, 1), "mdb_env_sync"); }
    std::uint64_t disk_bytes() override { return used_bytes(); }
    recovered recover() override {
        sync();
        close();
        drop_cache();
        recovered got;
        const auto start = clock_type::now();
        open();
        MDB_txn* t = nullptr;
        check_lmdb(::mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t), "mdb_txn_begin");
        MDB_cursor* c = nullptr;
        check_lmdb(::mdb_cursor_open(t, messages_, &c), "mdb_cursor_open");
        MDB_val k, v;
        for (int rc = ::mdb_cursor_get(c, &k, &v, MDB_FIRST); rc != MDB_NOTFOUND;
             rc = ::mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            check_lmdb(rc, "mdb_cursor_get");
            const auto* val = static_cast<const std::byte*>(v.mv_data);
            got.add(get_big_endian<std::uint64_t>(static_cast<const std::byte*>(k.mv_data) + 4),
                    {val + 20, v.mv_size - 20});
        }
        ::mdb_cursor_close(c);
        ::mdb_txn_abort(t);
        last_recovery_ = clock_type::now() - start;
        return got;
    }
    std::function<void()> drop_cache = [] {};
    clock_type::duration last_recovery_{};
    /// What the data file looks like: its size and its allocated bytes.
    std::pair<std::uint64_t, std::uint64_t> file_size_and_blocks() const {
        struct stat st {};
        mdb_filehandle_t fd = -1;
        ::mdb_env_get_fd(env_, &fd);
        ::fstat(fd, &st);
        return {std::uint64_t(st.st_size), std::uint64_t(st.st_blocks) * 512};
    }

private:
    void open() {
        check_lmdb(::mdb_env_create(&env_), "mdb_env_create");
        ::mdb_env_set_mapsize(env_, map_bytes);
        ::mdb_env_set_maxdbs(env_, 4);
        unsigned flags = MDB_NOLOCK | MDB_NOTLS | MDB_NORDAHEAD;
        if (writemap_)
            flags |= MDB_WRITEMAP;
        if (sync_ != sync_policy::always)
            flags |= MDB_NOSYNC;
        check_lmdb(::mdb_env_open(env_, dir_.c_str(), flags, 0600), "mdb_env_open");
        MDB_txn* t = nullptr;
        check_lmdb(::mdb_txn_begin(env_, nullptr, 0, &t), "mdb_txn_begin");
        check_lmdb(::mdb_dbi_open(t, "meta", MDB_CREATE, &meta_), "mdb_dbi_open");
        check_lmdb(::mdb_dbi_open(t, "queues", MDB_CREATE, &queues_), "mdb_dbi_open");
        check_lmdb(::mdb_dbi_open(t, "messages", MDB_CREATE, &messages_), "mdb_dbi_open");
        check_lmdb(::mdb_txn_commit(t), "mdb_txn_commit");
        MDB_stat st{};
        ::mdb_env_stat(env_, &st);
        page_size_ = st.ms_psize;
        // With MDB_WRITEMAP, LMDB ftruncate()s the file to the whole map size at open: a sparse
        // file, whose st_size says nothing about what is allocated. The reserve is therefore
        // counted from 0 and made real with fallocate, or a full disk would be SIGBUS on a
        // write into a hole rather than ENOSPC.
        allocated_ = 0;
        keep_reserve();
    }
    void close() {
        if (txn_)
            ::mdb_txn_abort(std::exchange(txn_, nullptr));
        if (env_)
            ::mdb_env_close(std::exchange(env_, nullptr));
    }
    void begin() {
        if (!txn_)
            check_lmdb(::mdb_txn_begin(env_, nullptr, 0, &txn_), "mdb_txn_begin");
    }
    std::uint64_t used_bytes() const {
        MDB_envinfo info{};
        ::mdb_env_info(env_, &info);
        return (std::uint64_t(info.me_last_pgno) + 1) * page_size_;
    }
    void keep_reserve() {
        const std::uint64_t used = used_bytes();
        if (used + reserve_bytes / 2 <= allocated_)
            return;
        mdb_filehandle_t fd = -1;
        ::mdb_env_get_fd(env_, &fd);
        const std::uint64_t want = used + reserve_bytes;
        if (::fallocate(fd, 0, 0, off_t(want)) < 0)
            fail_errno("fallocate");
        allocated_ = want;
    }

    fs::path dir_;
    sync_policy sync_;
    bool writemap_;
    MDB_env* env_ = nullptr;
    MDB_txn* txn_ = nullptr;
    MDB_dbi meta_ = 0, queues_ = 0, messages_ = 0;
    std::size_t page_size_ = 4096;
    std::uint64_t allocated_ = 0;
};

// --- log: an append-only segment log (a benchmark peer, not a product format) -------------------
//
// A record: crc32 (u32, of everything after it), length (u32, of everything after it), kind (u8),
// then for a message: queue (u32), arrival (u64), type (i64), sender pid (i32), time (i64), the
// payload; for a tombstone: queue (u32), arrival (u64), the segment of the removed record (u32).
// A tombstone stays live while the segment of the record it removes exists; a record stays live
// until removed. All big-endian. Files DIR/NNNNNNNN.seg, scanned in number order at recovery;
// a torn record at the end of the last segment is cut off there.

class segment_log_peer final : public store_peer {
public:
    static constexpr std::uint64_t segment_bytes = 1u << 20;
    static constexpr double compact_below = 0.5; // live fraction of a sealed segment
    static constexpr std::size_t header_size = 4 + 4 + 1;
    static constexpr std::size_t message_fixed = 4 + 8 + 8 + 4 + 8;
    static constexpr std::size_t tombstone_body = 4 + 8 + 4;
    enum class kind : std::uint8_t { message = 1, tombstone = 2 };

    segment_log_peer(fs::path dir, sync_policy sync) : dir_(std::move(dir)), sync_(sync) {
        fs::create_directories(dir_);
        roll();
    }
    ~segment_log_peer() override { close(); }

    void set_compaction(bool on) override { compaction_ = on; }
    std::string notes() const override {
        return std::to_string(compactions_) + " segments compacted, " + std::to_string(copied_) +
               " records copied forward";
    }

    void append(std::uint32_t queue, std::uint64_t arrival, std::int64_t type,
                std::span<const std::byte> payload) override {
        const std::size_t size = header_size + message_fixed + payload.size();
        const std::size_t at = start_record(size);
        std::byte* r = pending_.data() + at;
        r[8] = std::byte(kind::message);
        put_big_endian(r + 9, queue);
        put_big_endian(r + 13, arrival);
        put_big_endian(r + 21, type);
        put_big_endian(r + 29, std::int32_t(1));
        put_big_endian(r + 33, std::int64_t(1));
        std::memcpy(r + 41, payload.data(), payload.size());
        finish_record(at, size);
        auto& seg = segments_.at(active_);
        index_[key_of(queue, arrival)] = {active_, std::uint32_t(seg.bytes + at),
                                          std::uint32_t(size)};
        seg.live += size;
    }

    void remove(std::uint32_t queue, std::uint64_t arrival) override {
        const auto key = key_of(queue, arrival);
        auto it = index_.find(key);
        if (it == index_.end())
            return; // idempotent, as state_store::remove_message
        const location loc = it->second;
        index_.erase(it);
        segments_.at(loc.segment).live -= loc.size;
        write_tombstone(queue, arrival, loc.segment);
    }

    void commit() override {
        flush();
        if (sync_ == sync_policy::always)
            sync();
        if (compaction_)
            compact_one();
    }

    void sync() override {
        for (auto& [n, seg] : segments_)
            if (seg.dirty) {
                if (::fdatasync(seg.fd) < 0)
                    fail_errno("fdatasync");
                seg.dirty = false;
            }
    }

    std::uint64_t disk_bytes() override {
        std::uint64_t total = 0;
        for (auto& [n, seg] : segments_)
            total += seg.bytes;
        return total;
    }

    recovered recover() override {
        flush();
        sync();
        close();
        drop_cache();
        const auto start = clock_type::now();
        recovered got = scan();
        last_recovery_ = clock_type::now() - start;
        return got;
    }
    std::function<void()> drop_cache = [] {};
    clock_type::duration last_recovery_{};

private:
    struct location {
        std::uint32_t segment, offset, size;
    };
    struct segment {
        int fd = -1;
        std::uint64_t bytes = 0; // written to the file
        std::uint64_t live = 0;  // bytes of live records and live tombstones
        bool dirty = false;
        std::unordered_map<std::uint32_t, std::uint64_t> tombstones_for; // target → bytes
    };
    struct message_key {
        std::uint32_t queue;
        std::uint64_t arrival;
        bool operator==(const message_key&) const = default;
    };
    struct key_hash {
        std::size_t operator()(const message_key& k) const noexcept {
            return std::hash<std::uint64_t>()(k.arrival * 0x9E3779B97F4A7C15ull ^ k.queue);
        }
    };
    static message_key key_of(std::uint32_t q, std::uint64_t a) { return {q, a}; }

    fs::path path_of(std::uint32_t n) const {
        char name[32];
        std::snprintf(name, sizeof name, "%08u.seg", n);
        return dir_ / name;
    }

    // Room for a record in the pending buffer (rolling to a new segment if it would not fit).
    std::size_t start_record(std::size_t size) {
        if (segments_.at(active_).bytes + pending_.size() + size > segment_bytes)
            roll();
        const std::size_t at = pending_.size();
        pending_.resize(at + size);
        return at;
    }
    void finish_record(std::size_t at, std::size_t size) {
        std::byte* r = pending_.data() + at;
        put_big_endian(r + 4, std::uint32_t(size - 8));
        const auto crc = ::crc32(0, reinterpret_cast<const Bytef*>(r + 4), uInt(size - 4));
        put_big_endian(r, std::uint32_t(crc));
    }

    void write_tombstone(std::uint32_t queue, std::uint64_t arrival, std::uint32_t target) {
        const std::size_t size = header_size + tombstone_body;
        const std::size_t at = start_record(size);
        std::byte* r = pending_.data() + at;
        r[8] = std::byte(kind::tombstone);
        put_big_endian(r + 9, queue);
        put_big_endian(r + 13, arrival);
        put_big_endian(r + 21, target);
        finish_record(at, size);
        if (target != active_) { // a tombstone in its record's own segment goes with it
            auto& seg = segments_.at(active_);
            seg.live += size;
            seg.tombstones_for[target] += size;
        }
    }

    void flush() {
        if (pending_.empty())
            return;
        auto& seg = segments_.at(active_);
        const std::byte* p = pending_.data();
        std::size_t left = pending_.size();
        while (left > 0) {
            const ssize_t n = ::pwrite(seg.fd, p, left, off_t(seg.bytes));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                fail_errno("pwrite " + path_of(active_).string());
            p += n;
            left -= std::size_t(n);
            seg.bytes += std::uint64_t(n);
        }
        seg.dirty = true;
        pending_.clear();
    }

    void roll() {
        if (!segments_.empty())
            flush();
        const std::uint32_t n = segments_.empty() ? 1 : segments_.rbegin()->first + 1;
        const int fd = ::open(path_of(n).c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            fail_errno("open " + path_of(n).string());
        segments_[n].fd = fd;
        active_ = n;
    }

    // The sealed segment with the lowest live fraction below compact_below, if any, compacted.
    void compact_one() {
        std::optional<std::uint32_t> worst;
        double lowest = compact_below;
        for (auto& [n, seg] : segments_) {
            if (n == active_ || seg.bytes == 0)
                continue;
            const double f = double(seg.live) / double(seg.bytes);
            if (f < lowest) {
                lowest = f;
                worst = n;
            }
        }
        if (worst)
            compact(*worst);
    }

    void compact(std::uint32_t victim) {
        auto& old = segments_.at(victim);
        ++compactions_;
        if (old.live > 0) {
            const auto bytes = read_file(old.fd, old.bytes, path_of(victim));
            for (std::size_t at = 0; at + header_size <= bytes.size();) {
                const std::byte* r = bytes.data() + at;
                const std::size_t size = 8 + get_big_endian<std::uint32_t>(r + 4);
                const auto k = kind(r[8]);
                const auto q = get_big_endian<std::uint32_t>(r + 9);
                const auto a = get_big_endian<std::uint64_t>(r + 13);
                if (k == kind::message) {
                    auto it = index_.find(key_of(q, a));
                    if (it != index_.end() && it->second.segment == victim &&
                        it->second.offset == at) {
                        const std::size_t into = start_record(size);
                        std::memcpy(pending_.data() + into, r, size);
                        auto& seg = segments_.at(active_);
                        it->second = {active_, std::uint32_t(seg.bytes + into),
                                      std::uint32_t(size)};
                        seg.live += size;
                        ++copied_;
                    }
                } else {
                    const auto target = get_big_endian<std::uint32_t>(r + 21);
                    if (target != victim && segments_.contains(target))
                        write_tombstone(q, a, target);
                }
                at += size;
            }
            flush();
            // The copies are on the disk before the original goes, whatever the policy: a
            // crash must never lose an old message because it was compacted.
            sync();
        }
        ::close(old.fd);
        if (::unlink(path_of(victim).c_str()) < 0)
            fail_errno("unlink " + path_of(victim).string());
        segments_.erase(victim);
        for (auto& [n, seg] : segments_)
            if (auto t = seg.tombstones_for.find(victim); t != seg.tombstones_for.end()) {
                seg.live -= t->second;
                seg.tombstones_for.erase(t);
            }
    }

    static std::vector<std::byte> read_file(int fd, std::uint64_t size, const fs::path& path) {
        std::vector<std::byte> bytes(size);
        std::size_t got = 0;
        while (got < size) {
            const ssize_t n = ::pread(fd, bytes.data() + got, size - got, off_t(got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                fail_errno("pread " + path.string());
            got += std::size_t(n);
        }
        return bytes;
    }

    void close() {
        for (auto& [n, seg] : segments_)
            ::close(seg.fd);
        segments_.clear();
        index_.clear();
        pending_.clear();
    }

    recovered scan() {
        std::vector<std::uint32_t> numbers;
        for (const auto& e : fs::directory_iterator(dir_))
            if (e.path().extension() == ".seg")
                numbers.push_back(std::uint32_t(std::stoul(e.path().stem().string())));
        std::sort(numbers.begin(), numbers.end());
        std::unordered_map<std::uint32_t, std::vector<std::byte>> contents;
        for (const std::uint32_t n : numbers) {
            const int fd = ::open(path_of(n).c_str(), O_RDWR | O_CLOEXEC);
            if (fd < 0)
                fail_errno("open " + path_of(n).string());
            struct stat st {};
            ::fstat(fd, &st);
            auto bytes = read_file(fd, std::uint64_t(st.st_size), path_of(n));
            auto& seg = segments_[n];
            seg.fd = fd;
            std::size_t at = 0;
            while (at + header_size <= bytes.size()) {
                const std::byte* r = bytes.data() + at;
                const std::size_t size = 8 + get_big_endian<std::uint32_t>(r + 4);
                if (size < header_size + tombstone_body || at + size > bytes.size() ||
                    get_big_endian<std::uint32_t>(r) !=
                        ::crc32(0, reinterpret_cast<const Bytef*>(r + 4), uInt(size - 4)))
                    break;
                const auto q = get_big_endian<std::uint32_t>(r + 9);
                const auto a = get_big_endian<std::uint64_t>(r + 13);
                if (kind(r[8]) == kind::message) {
                    auto [it, fresh] = index_.try_emplace(key_of(q, a));
                    if (!fresh) // a compaction's copy whose original was not unlinked
                        segments_.at(it->second.segment).live -= it->second.size;
                    it->second = {n, std::uint32_t(at), std::uint32_t(size)};
                    seg.live += size;
                } else {
                    const auto target = get_big_endian<std::uint32_t>(r + 21);
                    if (auto it = index_.find(key_of(q, a)); it != index_.end()) {
                        segments_.at(it->second.segment).live -= it->second.size;
                        index_.erase(it);
                    }
                    if (target != n && segments_.contains(target)) {
                        seg.live += size;
                        seg.tombstones_for[target] += size;
                    }
                }
                at += size;
            }
            if (at != bytes.size()) {
                if (n != numbers.back())
                    fail("damaged segment " + path_of(n).string() + " at " + std::to_string(at));
                if (::ftruncate(fd, off_t(at)) < 0) // a torn tail: cut it off
                    fail_errno("ftruncate");
                bytes.resize(at);
            }
            seg.bytes = at;
            contents.emplace(n, std::move(bytes));
        }
        // seqmqd wants each queue's messages in arrival order.
        std::vector<std::pair<message_key, location>> live(index_.begin(), index_.end());
        std::sort(live.begin(), live.end(), [](const auto& x, const auto& y) {
            return std::pair(x.first.queue, x.first.arrival) <
                   std::pair(y.first.queue, y.first.arrival);
        });
        recovered got;
        got.payloads.reserve(live.size() * payload_size);
        for (const auto& [k, loc] : live) {
            const std::byte* r = contents.at(loc.segment).data() + loc.offset;
            got.add(k.arrival,
                    {r + header_size + message_fixed, loc.size - header_size - message_fixed});
        }
        roll(); // appends go to a fresh segment
        return got;
    }

    fs::path dir_;
    sync_policy sync_;
    bool compaction_ = true;
    std::size_t compactions_ = 0, copied_ = 0;
    std::map<std::uint32_t, segment> segments_;
    std::uint32_t active_ = 0;
    std::vector<std::byte> pending_;
    std::unordered_map<message_key, location, key_hash> index_;
};

// --- the in-memory queue every peer keeps (seqmqd's model, reduced) ----------------------------

struct queue_model {
    std::map<std::uint64_t, std::vector<std::byte>> messages; // by arrival
    std::map<std::int64_t, std::deque<std::uint64_t>> by_type;
    std::uint64_t next_arrival = 1;

    std::uint64_t add(std::int64_t type, std::span<const std::byte> payload) {
        const std::uint64_t a = next_arrival++;
        messages.emplace(a, std::vector<std::byte>(payload.begin(), payload.end()));
        by_type[type].push_back(a);
        return a;
    }
    // The first message of `type`.
    std::uint64_t take(std::int64_t type) {
        auto& d = by_type.at(type);
        const std::uint64_t a = d.front();
        d.pop_front();
        messages.erase(a);
        return a;
    }
};

// --- workloads ---------------------------------------------------------------------------------

struct settings {
    fs::path dir;
    int runs = 5;
    std::size_t stream_messages = 20000;
    std::size_t middle_depth = 10000;
    std::size_t always_ops = 200;
    std::size_t recovery_messages = 100000;
};

// batch's timer, as seqmqd's --sync-interval (100 ms).
struct sync_timer {
    store_peer& peer;
    bool on;
    clock_type::time_point next = clock_type::now() + std::chrono::milliseconds(100);
    void tick() {
        if (!on)
            return;
        const auto now = clock_type::now();
        if (now >= next) {
            peer.sync();
            next = now + std::chrono::milliseconds(100);
        }
    }
};

const std::array<std::byte, payload_size> payload = [] {
    std::array<std::byte, payload_size> p{};
    for (std::size_t i = 0; i < p.size(); ++i)
        p[i] = std::byte(i * 7 + 1);
    return p;
}();

void expect(const recovered& got, std::size_t count, std::uint64_t arrival_sum, const char* when) {
    if (got.count != count || got.arrival_sum != arrival_sum)
        fail(std::string("recovery ") + when + ": " + std::to_string(got.count) +
             " messages (arrival sum " + std::to_string(got.arrival_sum) + "), expected " +
             std::to_string(count) + " (" + std::to_string(arrival_sum) + ")");
    for (std::size_t i = 0; i < got.count; ++i)
        if (std::memcmp(got.payloads.data() + i * payload_size, payload.data(), payload_size) != 0)
            fail(std::string("recovery ") + when + ": a payload differs");
}

double us_per_op(clock_type::duration d, std::size_t ops) {
    return std::chrono::duration<double, std::micro>(d).count() / double(ops);
}

// append + commit per `per_commit` messages, then remove likewise; µs per operation (an append
// or a removal), and a check that the store ends empty.
double stream(store_peer& peer, sync_policy policy, std::size_t n, std::size_t per_commit) {
    queue_model q;
    sync_timer timer{peer, policy == sync_policy::batch};
    const auto start = clock_type::now();
    for (std::size_t i = 0; i < n; ++i) {
        const auto a = q.add(1, payload);
        peer.append(queue_id, a, 1, payload);
        if ((i + 1) % per_commit == 0 || i + 1 == n) {
            peer.commit();
            timer.tick();
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        peer.remove(queue_id, q.take(1));
        if ((i + 1) % per_commit == 0 || i + 1 == n) {
            peer.commit();
            timer.tick();
        }
    }
    return us_per_op(clock_type::now() - start, 2 * n);
}

// A queue of `depth` messages whose middle half is of type 2, the rest type 1; every type-2
// message taken (msgrcv(type 2)) with a commit each. µs per receive.
double middle(store_peer& peer, sync_policy policy, std::size_t depth) {
    queue_model q;
    for (std::size_t i = 0; i < depth; ++i) {
        const std::int64_t type = (i >= depth / 4 && i < depth - depth / 4) ? 2 : 1;
        peer.append(queue_id, q.add(type, payload), type, payload);
        if ((i + 1) % 256 == 0)
            peer.commit();
    }
    peer.commit();
    peer.sync();
    sync_timer timer{peer, policy == sync_policy::batch};
    const std::size_t takes = q.by_type.at(2).size();
    const auto start = clock_type::now();
    for (std::size_t i = 0; i < takes; ++i) {
        peer.remove(queue_id, q.take(2));
        peer.commit();
        timer.tick();
    }
    const double us = us_per_op(clock_type::now() - start, takes);
    if (peer.keeps_messages()) {
        std::uint64_t sum = 0;
        for (const auto& [a, data] : q.messages)
            sum += a;
        expect(peer.recover(), q.messages.size(), sum, "after the middle workload");
    }
    return us;
}

// One durable send: append + a synced commit. µs per send.
double always(store_peer& peer, std::size_t n) {
    queue_model q;
    const auto start = clock_type::now();
    for (std::size_t i = 0; i < n; ++i) {
        peer.append(queue_id, q.add(1, payload), 1, payload);
        peer.commit();
    }
    return us_per_op(clock_type::now() - start, n);
}

struct space_and_recovery {
    double bytes_full = 0, bytes_half = 0, bytes_half_compacted = 0; // per queued message
    double warm_ms = 0, cold_ms = 0, half_warm_ms = 0;
};

template <class Peer>
double recovery_ms(Peer& peer, std::size_t count, std::uint64_t sum, const char* when) {
    expect(peer.recover(), count, sum, when);
    return std::chrono::duration<double, std::milli>(peer.last_recovery_).count();
}

// Drops every file of `dir` from the page cache (after a sync), for a cold recovery.
void drop_cache_of(const fs::path& dir) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file())
            continue;
        const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ::fdatasync(fd);
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ::close(fd);
    }
}

template <class Peer>
space_and_recovery measure_space_and_recovery(Peer& peer, const fs::path& dir, std::size_t n) {
    space_and_recovery out;
    queue_model q;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto a = q.add(1, payload);
        sum += a;
        peer.append(queue_id, a, 1, payload);
        if ((i + 1) % 1000 == 0)
            peer.commit();
    }
    peer.commit();
    out.bytes_full = double(peer.disk_bytes()) / double(n);
    out.warm_ms = recovery_ms(peer, n, sum, "of the full queue (warm)");
    peer.drop_cache = [&] { drop_cache_of(dir); };
    out.cold_ms = recovery_ms(peer, n, sum, "of the full queue (cold)");
    peer.drop_cache = [] {};
    peer.set_compaction(false);
    for (std::size_t i = 0; i < n / 2; ++i) {
        const auto a = q.take(1);
        sum -= a;
        peer.remove(queue_id, a);
        if ((i + 1) % 1000 == 0)
            peer.commit();
    }
    peer.commit();
    const std::size_t left = n - n / 2;
    out.bytes_half = double(peer.disk_bytes()) / double(left);
    out.half_warm_ms = recovery_ms(peer, left, sum, "after half dequeued");
    peer.set_compaction(true);
    peer.commit(); // compacts one segment per commit
    for (std::size_t i = 0; i < 1000; ++i)
        peer.commit();
    out.bytes_half_compacted = double(peer.disk_bytes()) / double(left);
    return out;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

std::string file_system_of(const fs::path& dir) {
    struct statfs s {};
    if (::statfs(dir.c_str(), &s) < 0)
        return "?";
    switch (static_cast<unsigned long>(s.f_type)) {
    case EXT4_SUPER_MAGIC:
        return "ext4 (or ext2/ext3)";
    case XFS_SUPER_MAGIC:
        return "xfs";
    case BTRFS_SUPER_MAGIC:
        return "btrfs";
    case TMPFS_MAGIC:
        return "tmpfs";
    case OVERLAYFS_SUPER_MAGIC:
        return "overlayfs";
    default: {
        char hex[32];
        std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(s.f_type));
        return hex;
    }
    }
}

std::unique_ptr<store_peer> make_peer(const std::string& name, const fs::path& dir,
                                      sync_policy policy) {
    if (name == "memory")
        return std::make_unique<memory_peer>();
    if (name == "lmdb")
        return std::make_unique<state_store_peer>(dir, policy);
    if (name == "lmdb-writemap")
        return std::make_unique<writemap_peer>(dir, policy);
    if (name == "lmdb-raw")
        return std::make_unique<writemap_peer>(dir, policy, false);
    if (name == "log")
        return std::make_unique<segment_log_peer>(dir, policy);
    fail("unknown peer " + name);
}

// A fresh directory for one run of one peer.
fs::path fresh(const fs::path& base, const std::string& peer) {
    const fs::path dir = base / peer;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

} // namespace

int main(int argc, char** argv) try {
    CLI::App app{"seqmq_store_bench: seqmqd's state directory store, LMDB against a segment log"};
    settings s;
    std::string base = "store-bench.data";
    std::string json_path;
    std::vector<std::string> peers{"memory", "lmdb", "lmdb-raw", "lmdb-writemap", "log"};
    app.add_option("--dir", base,
                   "where the stores are made (a directory removed at the end; default "
                   "./store-bench.data: the file system of the current directory)");
    app.add_option("--runs", s.runs, "runs per figure (the median is shown)")
        ->check(CLI::PositiveNumber);
    app.add_option("--messages", s.stream_messages, "messages of the stream and batch32 workloads")
        ->check(CLI::PositiveNumber);
    app.add_option("--depth", s.middle_depth, "queue depth of the middle workload")
        ->check(CLI::Range(std::size_t(8), std::size_t(1) << 30));
    app.add_option("--always-ops", s.always_ops, "synced sends of the always workload")
        ->check(CLI::PositiveNumber);
    app.add_option("--recovery", s.recovery_messages,
                   "queued messages of the space and recovery workloads")
        ->check(CLI::Range(std::size_t(2), std::size_t(1) << 30));
    app.add_option("--peers", peers, "peers (memory, lmdb, lmdb-raw, lmdb-writemap, log)")
        ->delimiter(',');
    app.add_option("--json", json_path, "also write the medians as JSON to this file");
    CLI11_PARSE(app, argc, argv);

    s.dir = fs::absolute(base);
    fs::create_directories(s.dir);
    const std::string file_system = file_system_of(s.dir);
    std::cout << "directory " << s.dir.string() << " on " << file_system << "; " << s.runs
              << " runs per figure (medians); 64-byte messages\n";
    // Other work on the machine shows in every figure (the always row most: it waits for the
    // disk): say how busy it was.
    if (std::ifstream load("/proc/loadavg"); load) {
        double one = 0;
        load >> one;
        std::cout << "load average at start " << one << " on " << ::sysconf(_SC_NPROCESSORS_ONLN)
                  << " CPUs\n";
    }

    // Every figure: workload → peer → samples.
    std::map<std::string, std::map<std::string, std::vector<double>>> samples;
    const std::vector<std::pair<std::string, sync_policy>> policies{{"batch", sync_policy::batch},
                                                                    {"none", sync_policy::none}};
    for (int run = 0; run < s.runs; ++run) {
        for (const auto& peer : peers) {
            for (const auto& [pname, policy] : policies) {
                {
                    auto p = make_peer(peer, fresh(s.dir, peer), policy);
                    samples["stream, " + pname][peer].push_back(
                        stream(*p, policy, s.stream_messages, 1));
                    if (p->recover().count != 0)
                        fail(peer + ": the stream left messages behind");
                }
                {
                    auto p = make_peer(peer, fresh(s.dir, peer), policy);
                    samples["batch32, " + pname][peer].push_back(
                        stream(*p, policy, s.stream_messages, 32));
                }
                {
                    auto p = make_peer(peer, fresh(s.dir, peer), policy);
                    samples["middle, " + pname][peer].push_back(middle(*p, policy, s.middle_depth));
                    if (run == 0 && !p->notes().empty())
                        std::cout << peer << ", middle, " << pname << ": " << p->notes() << "\n";
                }
            }
            if (peer != "memory") {
                auto p = make_peer(peer, fresh(s.dir, peer), sync_policy::always);
                samples["always, 1 op/txn"][peer].push_back(always(*p, s.always_ops));
                space_and_recovery r;
                const fs::path dir = fresh(s.dir, peer);
                if (peer == "lmdb") {
                    state_store_peer sp(dir, sync_policy::batch);
                    r = measure_space_and_recovery(sp, dir, s.recovery_messages);
                } else if (peer == "lmdb-raw") {
                    writemap_peer rp(dir, sync_policy::batch, false);
                    r = measure_space_and_recovery(rp, dir, s.recovery_messages);
                } else if (peer == "lmdb-writemap") {
                    writemap_peer wp(dir, sync_policy::batch);
                    r = measure_space_and_recovery(wp, dir, s.recovery_messages);
                    if (run == 0) {
                        const auto [size, blocks] = wp.file_size_and_blocks();
                        std::cout << "lmdb-writemap data file: " << size << " bytes long, "
                                  << blocks << " allocated (sparse: the reserve is fallocate's)\n";
                    }
                } else {
                    segment_log_peer lp(dir, sync_policy::batch);
                    r = measure_space_and_recovery(lp, dir, s.recovery_messages);
                }
                samples["space B/msg, queued"][peer].push_back(r.bytes_full);
                samples["space B/msg, half dequeued"][peer].push_back(r.bytes_half);
                samples["space B/msg, half dequeued, compacted"][peer].push_back(
                    r.bytes_half_compacted);
                samples["recovery ms, warm"][peer].push_back(r.warm_ms);
                samples["recovery ms, cold"][peer].push_back(r.cold_ms);
                samples["recovery ms, half dequeued, warm"][peer].push_back(r.half_warm_ms);
            }
            fs::remove_all(s.dir / peer);
        }
        std::cerr << "run " << run + 1 << "/" << s.runs << " done\n";
    }
    fs::remove_all(s.dir);

    // The table: µs per operation (or bytes, or ms), and the ratio to memory where it has one.
    const std::vector<std::string> order{"stream, batch",
                                         "stream, none",
                                         "batch32, batch",
                                         "batch32, none",
                                         "middle, batch",
                                         "middle, none",
                                         "always, 1 op/txn",
                                         "space B/msg, queued",
                                         "space B/msg, half dequeued",
                                         "space B/msg, half dequeued, compacted",
                                         "recovery ms, warm",
                                         "recovery ms, cold",
                                         "recovery ms, half dequeued, warm"};
    nlohmann::json json = nlohmann::json::object();
    std::printf("\n%-38s", "workload (µs/op unless named)");
    for (const auto& peer : peers)
        std::printf(" %22s", peer.c_str());
    std::printf("\n");
    for (const auto& row : order) {
        if (!samples.contains(row))
            continue;
        std::printf("%-38s", row.c_str());
        const auto& by_peer = samples.at(row);
        const bool timed =
            row.find("B/msg") == std::string::npos && row.find("ms,") == std::string::npos;
        const auto mem = by_peer.find("memory");
        const double base_us = mem != by_peer.end() ? median(mem->second) : 0;
        for (const auto& peer : peers) {
            auto it = by_peer.find(peer);
            if (it == by_peer.end()) {
                std::printf(" %22s", "—");
                continue;
            }
            const double m = median(it->second);
            json[row][peer] = m;
            char cell[64];
            if (timed && base_us > 0 && peer != "memory")
                std::snprintf(cell, sizeof cell, "%.2f (%.0f×)", m, m / base_us);
            else if (row.find("B/msg") != std::string::npos)
                std::snprintf(cell, sizeof cell, "%.0f", m);
            else
                std::snprintf(cell, sizeof cell, "%.3g", m);
            std::printf(" %22s", cell);
        }
        std::printf("\n");
    }
    if (!json_path.empty()) {
        json["file_system"] = file_system;
        json["runs"] = s.runs;
        std::ofstream(json_path) << json.dump(2) << "\n";
    }
    return 0;
} catch (const std::exception& e) {
    std::cerr << "seqmq_store_bench: " << e.what() << "\n";
    return 1;
}
