#include "daemon/durable/state_store.hpp"

#include "sys/fd.hpp"
#include "sys/syscall.hpp"
#include "wire/byte_order.hpp"

#include <lmdb.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace seqmq::daemon::durable {

using detail::get_big_endian;
using detail::put_big_endian;
using detail::unique_fd;
namespace fs = std::filesystem;

// --- errors ------------------------------------------------------------------------------------

namespace {

class lmdb_error_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "lmdb"; }
    std::string message(int value) const override { return ::mdb_strerror(value); }
    std::error_condition default_error_condition(int value) const noexcept override {
        switch (value) {
        case MDB_MAP_FULL:
            return std::errc::no_space_on_device;
        case MDB_CORRUPTED:
        case MDB_PAGE_NOTFOUND:
        case MDB_INVALID:
        case MDB_VERSION_MISMATCH:
            return std::errc::bad_message;
        default:
            return {value, *this};
        }
    }
};

// LMDB answers errno values (ENOSPC, EIO, ...) as they are and its own as negative MDB_* codes.
std::error_code lmdb_code(int rc) noexcept {
    return rc > 0 ? std::error_code(rc, std::system_category())
                  : std::error_code(rc, lmdb_category());
}
std::unexpected<std::error_code> lmdb_fail(int rc) noexcept {
    return std::unexpected(lmdb_code(rc));
}
std::unexpected<std::error_code> fail(std::errc e) noexcept {
    return std::unexpected(std::make_error_code(e));
}

} // namespace

const std::error_category& lmdb_category() noexcept {
    static const lmdb_error_category instance;
    return instance;
}

std::optional<sync_policy> parse_sync_policy(std::string_view word) noexcept {
    if (word == "always")
        return sync_policy::always;
    if (word == "batch")
        return sync_policy::batch;
    if (word == "none")
        return sync_policy::none;
    return std::nullopt;
}

const char* to_string(sync_policy p) noexcept {
    switch (p) {
    case sync_policy::always:
        return "always";
    case sync_policy::batch:
        return "batch";
    case sync_policy::none:
        return "none";
    }
    return "?";
}

// --- records -----------------------------------------------------------------------------------

namespace {

constexpr std::size_t message_key_size = 4 + 8;
constexpr std::size_t message_head_size = 8 + 4 + 8; // type, sender pid, time

using message_key = std::array<std::byte, message_key_size>;

message_key key_of(std::uint32_t queue_id, std::uint64_t arrival) noexcept {
    message_key k;
    put_big_endian(k.data(), queue_id);
    put_big_endian(k.data() + 4, arrival);
    return k;
}

std::array<std::byte, 4> key_of(std::uint32_t queue_id) noexcept {
    std::array<std::byte, 4> k;
    put_big_endian(k.data(), queue_id);
    return k;
}

template <class Bytes>
MDB_val val_of(Bytes& b) noexcept {
    return MDB_val{b.size(), const_cast<void*>(static_cast<const void*>(b.data()))};
}

std::span<const std::byte> bytes_of(const MDB_val& v) noexcept {
    return {static_cast<const std::byte*>(v.mv_data), v.mv_size};
}

std::vector<std::uint8_t> encode_queue(const stored_queue& q) {
    const nlohmann::json j = {{"id", q.id},
                              {"name", q.name},
                              {"uid", q.uid},
                              {"gid", q.gid},
                              {"cuid", q.cuid},
                              {"cgid", q.cgid},
                              {"mode", q.mode},
                              {"capacity", q.capacity},
                              {"next_arrival", q.next_arrival},
                              {"last_send_pid", q.last_send_pid},
                              {"last_receive_pid", q.last_receive_pid},
                              {"send_time", q.send_time},
                              {"receive_time", q.receive_time},
                              {"change_time", q.change_time}};
    return nlohmann::json::to_cbor(j);
}

// The queue record, or nullopt if it is not one this format wrote.
std::optional<stored_queue> decode_queue(std::span<const std::byte> bytes) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    const nlohmann::json j = nlohmann::json::from_cbor(data, data + bytes.size(), true, false);
    if (!j.is_object())
        return std::nullopt;
    try {
        stored_queue q;
        j.at("id").get_to(q.id);
        j.at("name").get_to(q.name);
        j.at("uid").get_to(q.uid);
        j.at("gid").get_to(q.gid);
        j.at("cuid").get_to(q.cuid);
        j.at("cgid").get_to(q.cgid);
        j.at("mode").get_to(q.mode);
        j.at("capacity").get_to(q.capacity);
        j.at("next_arrival").get_to(q.next_arrival);
        j.at("last_send_pid").get_to(q.last_send_pid);
        j.at("last_receive_pid").get_to(q.last_receive_pid);
        j.at("send_time").get_to(q.send_time);
        j.at("receive_time").get_to(q.receive_time);
        j.at("change_time").get_to(q.change_time);
        // get_to() of a number into an unsigned field accepts a negative one: refuse it.
        for (const char* f :
             {"id", "uid", "gid", "cuid", "cgid", "mode", "capacity", "next_arrival"})
            if (!j.at(f).is_number_unsigned())
                return std::nullopt;
        return q;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

// A transaction that aborts unless committed.
struct txn_deleter {
    void operator()(MDB_txn* t) const noexcept { ::mdb_txn_abort(t); }
};
using txn_ptr = std::unique_ptr<MDB_txn, txn_deleter>;

struct env_deleter {
    void operator()(MDB_env* e) const noexcept { ::mdb_env_close(e); }
};
using env_ptr = std::unique_ptr<MDB_env, env_deleter>;

} // namespace

// --- the store ---------------------------------------------------------------------------------

struct state_store::impl {
    fs::path dir;
    store_options options;
    unique_fd lock;
    env_ptr env;
    MDB_dbi meta = 0, queues = 0, messages = 0;
    txn_ptr turn; // the turn's write transaction, once a write opened it
    std::size_t page_size = 4096;
    // Disk space (see the header): the data file's allocated size, what the turn may add to
    // LMDB's use at most (a generous estimate), and whether the last growth failed.
    std::uint64_t allocated = 0;
    std::uint64_t turn_estimate = 0;
    bool disk_full = false;
    std::uint64_t commits = 0, syncs = 0, unsynced = 0;
    std::chrono::system_clock::time_point last_sync{};

    result<MDB_txn*> write_txn() {
        if (!turn) {
            MDB_txn* t = nullptr;
            if (int rc = ::mdb_txn_begin(env.get(), nullptr, 0, &t))
                return lmdb_fail(rc);
            turn.reset(t);
            turn_estimate = 64 * page_size; // the paths a commit copies, the free list
        }
        return turn.get();
    }

    std::uint64_t used_bytes() const noexcept {
        MDB_envinfo info{};
        ::mdb_env_info(env.get(), &info);
        return (std::uint64_t(info.me_last_pgno) + 1) * page_size;
    }

    int data_fd() const noexcept {
        mdb_filehandle_t fd = -1;
        ::mdb_env_get_fd(env.get(), &fd);
        return fd;
    }

    // Keeps the data file allocated `reserve` ahead of LMDB's use; false if the disk is full.
    bool grow_reserve(std::uint64_t need) noexcept {
        const std::uint64_t want = need + options.reserve_bytes;
        const int fd = data_fd();
        int rc = detail::retry_eintr([&] { return ::fallocate(fd, 0, 0, off_t(want)); });
        if (rc < 0 && errno == EOPNOTSUPP)
            rc = ::posix_fallocate(fd, 0, off_t(want)) == 0 ? 0 : -1;
        if (rc == 0) {
            allocated = want;
            disk_full = false;
            return true;
        }
        disk_full = true;
        return false;
    }

    bool room(std::uint64_t adding) noexcept {
        turn_estimate += adding;
        const std::uint64_t need = used_bytes() + turn_estimate;
        if (need + options.reserve_bytes / 2 <= allocated && !disk_full)
            return true;
        if (grow_reserve(need))
            return true;
        // The reserve did not grow, but what is allocated may still hold this turn.
        return need + options.reserve_bytes / 8 <= allocated;
    }
};

state_store::state_store(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
state_store::state_store(state_store&&) noexcept = default;
state_store& state_store::operator=(state_store&&) noexcept = default;
state_store::~state_store() {
    if (impl_ && impl_->env) {
        if (impl_->turn)
            (void)commit();
        if (impl_->options.sync != sync_policy::none)
            (void)sync();
    }
}

namespace {

store_refusal refusal(std::error_code code, std::string explanation) {
    return {code, std::move(explanation)};
}

std::string quoted(const fs::path& p) {
    return "\"" + p.string() + "\"";
}

// Takes DIR/seqmqd.lock for this process and writes its pid there.
std::expected<unique_fd, store_refusal> take_lock(const fs::path& dir) {
    const fs::path path = dir / "seqmqd.lock";
    unique_fd fd(detail::retry_eintr(
        [&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600); }));
    if (!fd)
        return std::unexpected(
            refusal(detail::last_error(), "cannot open the state directory's lock " + quoted(path) +
                                              ": " + std::strerror(errno)));
    if (detail::retry_eintr([&] { return ::flock(fd.get(), LOCK_EX | LOCK_NB); }) < 0) {
        const auto why = detail::last_error();
        char text[32] = {};
        const ssize_t n = ::pread(fd.get(), text, sizeof text - 1, 0);
        std::string pid = n > 0 ? std::string(text, std::size_t(n)) : "";
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
            pid.pop_back();
        const std::string holder = pid.empty() ? "" : " (pid " + pid + ")";
        return std::unexpected(
            refusal(why, "the state directory " + quoted(dir) + " is in use by another seqmqd" +
                             holder + ", which holds " + quoted(path) +
                             ": stop that daemon, or give this one another --state-dir"));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) < 0 ||
        ::pwrite(fd.get(), pid.data(), pid.size(), 0) != ssize_t(pid.size()))
        return std::unexpected(
            refusal(detail::last_error(),
                    "cannot write the lock " + quoted(path) + ": " + std::strerror(errno)));
    return fd;
}

} // namespace

std::expected<state_store, store_refusal> state_store::open(const fs::path& dir,
                                                            const store_options& options) {
    auto s = std::make_unique<impl>();
    s->dir = dir;
    s->options = options;
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        if (!fs::create_directories(dir, ec) && ec)
            return std::unexpected(refusal(ec, "cannot make the state directory " + quoted(dir) +
                                                   ": " + ec.message()));
        fs::permissions(dir, fs::perms::owner_all, ec);
    } else if (!fs::is_directory(dir, ec)) {
        return std::unexpected(
            refusal(std::make_error_code(std::errc::not_a_directory),
                    "the state directory " + quoted(dir) + " is not a directory"));
    }
    auto lock = take_lock(dir);
    if (!lock)
        return std::unexpected(lock.error());
    s->lock = std::move(*lock);

    // LMDB makes a new, empty store out of a data file of length 0: a file that existed is
    // checked for seqmq's format record below, so that a damaged one is never an empty start.
    const fs::path data = dir / "data.mdb";
    struct stat st {};
    const bool existed = ::lstat(data.c_str(), &st) == 0;
    if (existed && !S_ISREG(st.st_mode))
        return std::unexpected(refusal(std::make_error_code(std::errc::bad_message),
                                       quoted(data) + " is not a regular file: move it away"));
    const std::string way_out = ": restore the directory from a copy, or move " + quoted(dir) +
                                " away to start with no queues";

    MDB_env* e = nullptr;
    if (int rc = ::mdb_env_create(&e))
        return std::unexpected(
            refusal(lmdb_code(rc), std::string("mdb_env_create: ") + ::mdb_strerror(rc)));
    s->env.reset(e);
    std::size_t map = options.max_bytes;
    if (existed && std::uint64_t(st.st_size) > map)
        map = std::size_t(st.st_size);
    ::mdb_env_set_mapsize(e, map);
    ::mdb_env_set_maxdbs(e, 4);
    // One writer (the lock above), one thread: no LMDB lock file. Under batch and none the
    // commits are not synced (see the header).
    unsigned flags = MDB_NOLOCK | MDB_NOTLS | MDB_NORDAHEAD;
    if (options.sync != sync_policy::always)
        flags |= MDB_NOSYNC;
    if (int rc = ::mdb_env_open(e, dir.c_str(), flags, 0600)) {
        std::string what = ::mdb_strerror(rc);
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
            what = "not an LMDB store this version reads (" + what + ")";
        return std::unexpected(refusal(lmdb_code(rc), "cannot open the store " + quoted(data) +
                                                          ": " + what + way_out));
    }
    MDB_stat env_stat{};
    ::mdb_env_stat(e, &env_stat);
    s->page_size = env_stat.ms_psize;

    // A data file shorter than its pages: truncated. (Reading past its end would be SIGBUS.)
    if (::fstat(s->data_fd(), &st) < 0)
        return std::unexpected(refusal(detail::last_error(), "fstat " + quoted(data)));
    const std::uint64_t used = s->used_bytes();
    if (existed && std::uint64_t(st.st_size) < used)
        return std::unexpected(
            refusal(std::make_error_code(std::errc::bad_message),
                    "the store " + quoted(data) + " is truncated: " + std::to_string(st.st_size) +
                        " bytes, its pages need " + std::to_string(used) + way_out));
    s->allocated = std::uint64_t(st.st_size);

    MDB_txn* t = nullptr;
    if (int rc = ::mdb_txn_begin(e, nullptr, 0, &t))
        return std::unexpected(
            refusal(lmdb_code(rc),
                    "cannot begin a transaction on " + quoted(data) + ": " + ::mdb_strerror(rc)));
    txn_ptr txn(t);
    for (auto [name, dbi] : {std::pair{"meta", &s->meta}, std::pair{"queues", &s->queues},
                             std::pair{"messages", &s->messages}})
        if (int rc = ::mdb_dbi_open(t, name, MDB_CREATE, dbi))
            return std::unexpected(
                refusal(lmdb_code(rc), "cannot open the table " + std::string(name) + " in " +
                                           quoted(data) + ": " + ::mdb_strerror(rc) + way_out));
    static constexpr std::string_view format_key = "format";
    MDB_val k = val_of(format_key), v{};
    int rc = ::mdb_get(t, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        if (existed)
            return std::unexpected(refusal(
                std::make_error_code(std::errc::bad_message),
                "the store " + quoted(data) +
                    " has no seqmq format record: it is damaged (truncated to nothing?) or not "
                    "a seqmq state directory" +
                    way_out));
        std::array<std::byte, 4> f;
        put_big_endian(f.data(), store_format);
        MDB_val fv = val_of(f);
        rc = ::mdb_put(t, s->meta, &k, &fv, 0);
    } else if (rc == 0) {
        if (v.mv_size != 4)
            return std::unexpected(
                refusal(std::make_error_code(std::errc::bad_message),
                        "the store " + quoted(data) + " has a malformed format record" + way_out));
        const auto format = get_big_endian<std::uint32_t>(static_cast<const std::byte*>(v.mv_data));
        if (format > store_format)
            return std::unexpected(refusal(
                std::make_error_code(std::errc::protocol_not_supported),
                "the store " + quoted(data) + " was written by a newer seqmqd (format " +
                    std::to_string(format) + "; this one reads format " +
                    std::to_string(store_format) +
                    "): run that version, or move the directory away to start with no queues"));
    }
    if (rc != 0)
        return std::unexpected(refusal(lmdb_code(rc), "cannot read " + quoted(data) + ": " +
                                                          ::mdb_strerror(rc) + way_out));
    rc = ::mdb_txn_commit(txn.release());
    if (rc == 0 && options.sync != sync_policy::always)
        rc = ::mdb_env_sync(e, 1);
    if (rc != 0)
        return std::unexpected(
            refusal(lmdb_code(rc), "cannot write " + quoted(data) + ": " + ::mdb_strerror(rc)));
    s->last_sync = std::chrono::system_clock::now();
    if (!s->grow_reserve(s->used_bytes()) && s->allocated < s->used_bytes() + (1u << 20))
        return std::unexpected(
            refusal(std::make_error_code(std::errc::no_space_on_device),
                    "no room on the disk for the store " + quoted(data) + ": free some space"));
    return state_store(std::move(s));
}

result<void> state_store::load(
    const std::function<result<void>(const stored_queue&)>& queue,
    const std::function<result<void>(std::uint32_t, const stored_message&)>& message) const {
    MDB_txn* t = nullptr;
    if (int rc = ::mdb_txn_begin(impl_->env.get(), nullptr, MDB_RDONLY, &t))
        return lmdb_fail(rc);
    txn_ptr txn(t);
    std::vector<std::uint32_t> ids; // ascending: the key order
    {
        MDB_cursor* c = nullptr;
        if (int rc = ::mdb_cursor_open(t, impl_->queues, &c))
            return lmdb_fail(rc);
        std::unique_ptr<MDB_cursor, decltype(&::mdb_cursor_close)> hold(c, &::mdb_cursor_close);
        MDB_val k, v;
        for (int rc = ::mdb_cursor_get(c, &k, &v, MDB_FIRST); rc != MDB_NOTFOUND;
             rc = ::mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (rc != 0)
                return lmdb_fail(rc);
            auto q = decode_queue(bytes_of(v));
            if (k.mv_size != 4 || !q ||
                q->id != get_big_endian<std::uint32_t>(static_cast<const std::byte*>(k.mv_data)))
                return fail(std::errc::bad_message);
            ids.push_back(q->id);
            if (auto r = queue(*q); !r)
                return r;
        }
    }
    MDB_cursor* c = nullptr;
    if (int rc = ::mdb_cursor_open(t, impl_->messages, &c))
        return lmdb_fail(rc);
    std::unique_ptr<MDB_cursor, decltype(&::mdb_cursor_close)> hold(c, &::mdb_cursor_close);
    MDB_val k, v;
    std::size_t at = 0; // ids[at]: the queue of the last message seen
    for (int rc = ::mdb_cursor_get(c, &k, &v, MDB_FIRST); rc != MDB_NOTFOUND;
         rc = ::mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (rc != 0)
            return lmdb_fail(rc);
        if (k.mv_size != message_key_size || v.mv_size < message_head_size)
            return fail(std::errc::bad_message);
        const auto* key = static_cast<const std::byte*>(k.mv_data);
        const auto* val = static_cast<const std::byte*>(v.mv_data);
        const auto id = get_big_endian<std::uint32_t>(key);
        while (at < ids.size() && ids[at] < id)
            ++at;
        if (at == ids.size() || ids[at] != id)
            return fail(std::errc::bad_message); // a message of no queue
        stored_message m;
        m.arrival = get_big_endian<std::uint64_t>(key + 4);
        m.type = get_big_endian<std::int64_t>(val);
        m.sender_pid = get_big_endian<std::int32_t>(val + 8);
        m.time = get_big_endian<std::int64_t>(val + 12);
        m.data = bytes_of(v).subspan(message_head_size);
        if (auto r = message(id, m); !r)
            return r;
    }
    return {};
}

result<std::vector<std::byte>> state_store::registry() const {
    MDB_txn* t = nullptr;
    if (int rc = ::mdb_txn_begin(impl_->env.get(), nullptr, MDB_RDONLY, &t))
        return lmdb_fail(rc);
    txn_ptr txn(t);
    static constexpr std::string_view registry_key = "registry";
    MDB_val k = val_of(registry_key), v{};
    const int rc = ::mdb_get(t, impl_->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return std::vector<std::byte>{};
    if (rc != 0)
        return lmdb_fail(rc);
    auto b = bytes_of(v);
    return std::vector<std::byte>(b.begin(), b.end());
}

bool state_store::room() noexcept {
    if (impl_->turn)
        return impl_->room(0);
    // Before the turn's first write: count what that write's transaction will (write_txn), and
    // a large message, so that a send this lets in does not meet ENOSPC in its own put.
    const bool ok = impl_->room(64 * impl_->page_size + (64u << 10));
    impl_->turn_estimate = 0;
    return ok;
}

result<void> state_store::put_queue(const stored_queue& q) {
    auto t = impl_->write_txn();
    if (!t)
        return std::unexpected(t.error());
    const auto record = encode_queue(q);
    if (!impl_->room(record.size() + 64))
        return fail(std::errc::no_space_on_device);
    const auto key = key_of(q.id);
    MDB_val k = val_of(key), v = val_of(record);
    if (int rc = ::mdb_put(*t, impl_->queues, &k, &v, 0))
        return lmdb_fail(rc);
    return {};
}

result<void> state_store::remove_queue(std::uint32_t id) {
    auto t = impl_->write_txn();
    if (!t)
        return std::unexpected(t.error());
    const auto key = key_of(id);
    MDB_val k = val_of(key);
    if (int rc = ::mdb_del(*t, impl_->queues, &k, nullptr); rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_fail(rc);
    MDB_cursor* c = nullptr;
    if (int rc = ::mdb_cursor_open(*t, impl_->messages, &c))
        return lmdb_fail(rc);
    std::unique_ptr<MDB_cursor, decltype(&::mdb_cursor_close)> hold(c, &::mdb_cursor_close);
    const auto first = key_of(id, 0);
    MDB_val mk = val_of(first), mv;
    for (int rc = ::mdb_cursor_get(c, &mk, &mv, MDB_SET_RANGE); rc != MDB_NOTFOUND;
         rc = ::mdb_cursor_get(c, &mk, &mv, MDB_NEXT)) {
        if (rc != 0)
            return lmdb_fail(rc);
        if (mk.mv_size < 4 ||
            get_big_endian<std::uint32_t>(static_cast<const std::byte*>(mk.mv_data)) != id)
            break;
        if (int d = ::mdb_cursor_del(c, 0))
            return lmdb_fail(d);
    }
    return {};
}

result<void> state_store::put_message(std::uint32_t queue_id, const stored_message& m) {
    auto t = impl_->write_txn();
    if (!t)
        return std::unexpected(t.error());
    if (!impl_->room(message_key_size + message_head_size + m.data.size() + 64))
        return fail(std::errc::no_space_on_device);
    const auto key = key_of(queue_id, m.arrival);
    MDB_val k = val_of(key);
    MDB_val v{message_head_size + m.data.size(), nullptr};
    // MDB_RESERVE: LMDB makes the room and the record is written there, without a copy of ours.
    if (int rc = ::mdb_put(*t, impl_->messages, &k, &v, MDB_RESERVE))
        return lmdb_fail(rc);
    auto* out = static_cast<std::byte*>(v.mv_data);
    put_big_endian(out, m.type);
    put_big_endian(out + 8, m.sender_pid);
    put_big_endian(out + 12, m.time);
    if (!m.data.empty())
        std::memcpy(out + message_head_size, m.data.data(), m.data.size());
    return {};
}

result<void> state_store::remove_message(std::uint32_t queue_id, std::uint64_t arrival) {
    auto t = impl_->write_txn();
    if (!t)
        return std::unexpected(t.error());
    impl_->turn_estimate += 64;
    const auto key = key_of(queue_id, arrival);
    MDB_val k = val_of(key);
    if (int rc = ::mdb_del(*t, impl_->messages, &k, nullptr); rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_fail(rc);
    return {};
}

result<void> state_store::put_registry(std::span<const std::byte> state) {
    auto t = impl_->write_txn();
    if (!t)
        return std::unexpected(t.error());
    if (!impl_->room(state.size() + 64))
        return fail(std::errc::no_space_on_device);
    static constexpr std::string_view registry_key = "registry";
    MDB_val k = val_of(registry_key), v = val_of(state);
    if (int rc = ::mdb_put(*t, impl_->meta, &k, &v, 0))
        return lmdb_fail(rc);
    return {};
}

bool state_store::pending() const noexcept {
    return bool(impl_->turn);
}

result<void> state_store::commit() {
    if (!impl_->turn)
        return {};
    const int rc = ::mdb_txn_commit(impl_->turn.release());
    impl_->turn_estimate = 0;
    if (rc != 0)
        return lmdb_fail(rc);
    ++impl_->commits;
    if (impl_->options.sync == sync_policy::always) {
        ++impl_->syncs;
        impl_->last_sync = std::chrono::system_clock::now();
    } else {
        ++impl_->unsynced;
    }
    return {};
}

void state_store::abort() noexcept {
    impl_->turn.reset();
    impl_->turn_estimate = 0;
}

result<void> state_store::sync() {
    if (impl_->unsynced == 0)
        return {};
    if (int rc = ::mdb_env_sync(impl_->env.get(), 1))
        return lmdb_fail(rc);
    impl_->unsynced = 0;
    ++impl_->syncs;
    impl_->last_sync = std::chrono::system_clock::now();
    return {};
}

store_info state_store::info() const {
    store_info i;
    i.directory = impl_->dir;
    i.sync = impl_->options.sync;
    struct stat st {};
    if (::fstat(impl_->data_fd(), &st) == 0)
        i.file_bytes = std::uint64_t(st.st_size);
    i.used_bytes = impl_->used_bytes();
    i.last_sync = impl_->last_sync;
    i.commits = impl_->commits;
    i.syncs = impl_->syncs;
    return i;
}

} // namespace seqmq::daemon::durable
