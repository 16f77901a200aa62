// The `seqmq` tool against a real seqmqd, run as a program: --json is JSON (nlohmann parses it)
// and gives back every byte of binary payloads and of the longest names; every bad number is a
// usage error (exit 2) before anything happens; `--timeout inf` waits; and a refused
// permission says whether the daemon's socket or the queue's mode refused it.
#define BOOST_TEST_MODULE seqmq tool
#include "daemon_fixture.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <optional>
#include <pwd.h>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace daemon_test;
using namespace std::string_literals;
using nlohmann::json;

namespace {

struct tool_result {
    int status = -1; // exit status; -1 if killed at the time limit
    std::string out, err;
};

std::string read_file(const std::string& path) {
    std::string all;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
        char buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
            all.append(buf, n);
        std::fclose(f);
    }
    return all;
}

void write_file(const std::string& path, std::string_view data) {
    FILE* f = std::fopen(path.c_str(), "wb");
    BOOST_TEST_REQUIRE(f != nullptr);
    std::fwrite(data.data(), 1, data.size(), f);
    std::fclose(f);
}

// A run of the seqmq binary: `args` (any bytes but NUL, no shell in between), `input` on its
// standard input, its output and errors in files of the daemon's directory; optionally as
// another uid/gid (setgid and setuid after the files are open).
class tool_process {
public:
    tool_process(const daemon_process& d, std::vector<std::string> args, std::string input = {},
                 std::optional<uid_t> as = std::nullopt) {
        static int serial = 0;
        const std::string base = d.dir() + "/tool-" + std::to_string(++serial);
        in_ = base + ".in";
        out_ = base + ".out";
        err_ = base + ".err";
        write_file(in_, input);
        args.insert(args.begin(), SEQMQ_TOOL);
        pid_ = ::fork();
        BOOST_TEST_REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            int in = ::open(in_.c_str(), O_RDONLY | O_CLOEXEC);
            int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (in < 0 || out < 0 || err < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 ||
                ::dup2(err, 2) < 0)
                ::_exit(126);
            if (as && (::setgid(*as) != 0 || ::setuid(*as) != 0))
                ::_exit(125);
            std::vector<char*> argv;
            for (auto& a : args)
                argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(SEQMQ_TOOL, argv.data());
            ::_exit(127);
        }
    }
    tool_process(const tool_process&) = delete;
    ~tool_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    // Still running (not exited, not a zombie).
    bool running() const {
        siginfo_t info{};
        return ::waitid(P_PID, id_t(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
               info.si_pid == 0;
    }

    tool_result finish(std::chrono::milliseconds limit = 20s) {
        tool_result r;
        r.status =
            seqmq::test::exit_code(seqmq::test::wait_for_child(std::exchange(pid_, -1), limit));
        r.out = read_file(out_);
        r.err = read_file(err_);
        return r;
    }

private:
    pid_t pid_ = -1;
    std::string in_, out_, err_;
};

tool_result run_tool(const daemon_process& d, std::vector<std::string> args, std::string input = {},
                     std::optional<uid_t> as = std::nullopt) {
    return tool_process(d, std::move(args), std::move(input), as).finish();
}

std::string command_text(const std::vector<std::string>& args) {
    std::string all = "seqmq";
    for (const auto& a : args)
        all += " " + a;
    return all;
}

// An independent base64 decoder (RFC 4648, padded) to check the tool's encoding.
std::optional<std::string> from_base64(std::string_view text) {
    static const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (text.size() % 4 != 0)
        return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        unsigned v = 0;
        int pad = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const char c = text[i + k];
            if (c == '=' && k >= 2 && i + 4 == text.size()) {
                ++pad;
                v <<= 6;
                continue;
            }
            const auto at = alphabet.find(c);
            if (at == std::string::npos || pad)
                return std::nullopt;
            v = v << 6 | unsigned(at);
        }
        out += char(v >> 16);
        if (pad < 2)
            out += char((v >> 8) & 0xff);
        if (pad < 1)
            out += char(v & 0xff);
    }
    return out;
}

// Parses the tool's --json output: exactly one JSON document and a newline.
json parsed(const tool_result& r) {
    BOOST_TEST_REQUIRE(r.status == 0, "exit " << r.status << ": " << r.err);
    BOOST_TEST_REQUIRE(!r.out.empty());
    BOOST_TEST(r.out.back() == '\n');
    try {
        return json::parse(r.out); // throws on invalid UTF-8 and on a cut document
    } catch (const json::exception& e) {
        BOOST_FAIL("not JSON (" << e.what() << "): " << r.out.substr(0, 200));
    }
    return {};
}

// The bytes of a field written as "KEY" (UTF-8) or "KEY_base64": exactly one of the two.
std::string field_bytes(const json& j, const std::string& key) {
    const bool text = j.contains(key), encoded = j.contains(key + "_base64");
    BOOST_TEST_REQUIRE(text != encoded,
                       "exactly one of " << key << ", " << key << "_base64 in " << j.dump());
    if (text)
        return j.at(key).get<std::string>();
    auto bytes = from_base64(j.at(key + "_base64").get<std::string>());
    BOOST_TEST_REQUIRE(bytes.has_value(), "bad base64: " << j.dump());
    return *bytes;
}

std::string every_byte_value() {
    std::string all;
    for (int b = 0; b < 256; ++b)
        all += char(b);
    return all;
}

} // namespace

BOOST_AUTO_TEST_CASE(json_round_trips_binary_payloads) {
    daemon_process d;
    auto info = parsed(run_tool(d, {"info", "--json"}));
    const std::size_t max_size = info.at("max_message_size").get<std::size_t>();
    BOOST_TEST_REQUIRE(max_size >= 256u);

    std::mt19937 random(14);
    std::string largest(max_size, '\0');
    for (auto& c : largest)
        c = char(random() & 0xff);
    const std::string payloads[] = {
        every_byte_value(),
        largest,
        "\xff\xfe"s,                                                // not UTF-8 at all
        "caf\xc3\xa9 \xe2\x82\xac"s,                                // UTF-8: "café €"
        "quote \" backslash \\ nul \0 newline \n tab \t del \x7f"s, // UTF-8, escaped
        "\xed\xa0\x80"s, // a UTF-16 surrogate encoded: not UTF-8
        "\xc0\xaf"s,     // overlong '/': not UTF-8
        ""s,
    };
    for (const auto& payload : payloads) {
        auto sent = run_tool(d, {"send", "bin", "-"}, payload);
        BOOST_TEST_REQUIRE(sent.status == 0, sent.err);
        for (const char* how : {"peek", "recv"}) {
            auto j = parsed(run_tool(d, {how, "bin", "--json"}));
            BOOST_TEST(j.at("type").get<long>() == 1);
            BOOST_TEST(j.at("size").get<std::size_t>() == payload.size());
            BOOST_TEST(field_bytes(j, "text") == payload,
                       how << " of " << payload.size() << " bytes");
        }
    }
    // Text that is UTF-8 stays readable: "text", not base64.
    BOOST_TEST_REQUIRE(run_tool(d, {"send", "bin", "plain"}).status == 0);
    auto j = parsed(run_tool(d, {"recv", "bin", "--json"}));
    BOOST_TEST(j.at("text").get<std::string>() == "plain");
    BOOST_TEST(!j.contains("text_base64"));
    // And the payload of all 256 byte values is base64, not raw bytes.
    BOOST_TEST_REQUIRE(run_tool(d, {"send", "bin", "-"}, every_byte_value()).status == 0);
    j = parsed(run_tool(d, {"recv", "bin", "--json"}));
    BOOST_TEST(!j.contains("text"));
    BOOST_TEST(j.contains("text_base64"));
}

BOOST_AUTO_TEST_CASE(json_keeps_the_longest_names_exactly) {
    daemon_process d;
    std::string control; // 255 bytes of control characters: every one escaped as \u00XX
    for (int i = 0; i < 255; ++i)
        control += char(1 + i % 31);
    std::string high; // 255 bytes >= 0x80 that are not UTF-8
    for (int i = 0; i < 255; ++i)
        high += char(0x80 + i % 128);
    std::string mixed = "q-" + std::string(250, '\xe9') + "-end"; // Latin-1 'é', not UTF-8
    mixed.resize(255);
    for (const auto& name : {control, high, mixed}) {
        BOOST_TEST_REQUIRE(name.size() == 255u);
        auto sent = run_tool(d, {"send", name, "x"});
        BOOST_TEST_REQUIRE(sent.status == 0, sent.err);
        auto j = parsed(run_tool(d, {"stat", name, "--json"}));
        BOOST_TEST(field_bytes(j, "name") == name);
        BOOST_TEST(j.at("messages").get<std::size_t>() == 1u);
        BOOST_TEST(j.at("mode").get<std::string>() == "0660");
    }
    auto list = parsed(run_tool(d, {"ls", "--json"}));
    BOOST_TEST_REQUIRE(list.is_array());
    std::vector<std::string> names;
    for (const auto& q : list)
        names.push_back(field_bytes(q, "name"));
    for (const auto& name : {control, high, mixed})
        BOOST_TEST((std::find(names.begin(), names.end(), name) != names.end()));
    // The control characters are escapes in the output, not raw bytes.
    auto raw = run_tool(d, {"stat", control, "--json"});
    BOOST_TEST(raw.out.find("\\u0001\\u0002") != std::string::npos);
    BOOST_TEST(raw.out.find('\x01') == std::string::npos);
}

// `seqmq ls` as `ipcs -q`: key, id, owner, mode, bytes, messages first; the key of a queue the
// SysV shim made is its name, a private queue's 0x00000000, other names have none.
BOOST_AUTO_TEST_CASE(ls_shows_keys_as_ipcs_does) {
    daemon_process d;
    BOOST_TEST_REQUIRE(run_tool(d, {"send", "0x5e9a0001", "hi"}).status == 0);
    BOOST_TEST_REQUIRE(run_tool(d, {"send", "songs", "hello"}).status == 0);
    auto priv = seqmq::queue::create_private(0600, d.options());
    BOOST_TEST_REQUIRE(priv.has_value(), why(priv));

    auto listed = run_tool(d, {"ls"});
    BOOST_TEST_REQUIRE(listed.status == 0, listed.err);
    std::vector<std::vector<std::string>> rows;
    std::istringstream lines(listed.out);
    for (std::string l; std::getline(lines, l);) {
        std::istringstream words(l);
        rows.emplace_back(std::istream_iterator<std::string>(words),
                          std::istream_iterator<std::string>());
    }
    BOOST_TEST_REQUIRE(rows.size() == 4u, listed.out);
    const std::vector<std::string> header{"KEY",      "ID",   "OWNER", "MODE",     "BYTES",
                                          "MESSAGES", "NAME", "GROUP", "CAPACITY", "WAITING(R/S)"};
    BOOST_TEST(rows[0] == header, boost::test_tools::per_element());
    const passwd* me = ::getpwuid(::geteuid());
    const std::string owner = me ? me->pw_name : std::to_string(::geteuid());
    const std::vector<std::string> keyed{"0x5e9a0001", "0", owner, "0660", "2", "1", "0x5e9a0001"};
    const std::vector<std::string> named{"-", "1", owner, "0660", "5", "1", "songs"};
    const std::vector<std::string> hidden{"0x00000000", "2", owner, "0600", "0", "0", "#2"};
    BOOST_TEST(std::vector<std::string>(rows[1].begin(), rows[1].begin() + 7) == keyed,
               boost::test_tools::per_element());
    BOOST_TEST(std::vector<std::string>(rows[2].begin(), rows[2].begin() + 7) == named,
               boost::test_tools::per_element());
    BOOST_TEST(std::vector<std::string>(rows[3].begin(), rows[3].begin() + 7) == hidden,
               boost::test_tools::per_element());

    auto list = parsed(run_tool(d, {"ls", "--json"}));
    BOOST_TEST_REQUIRE((list.is_array() && list.size() == 3u));
    BOOST_TEST(list[0].at("key") == "0x5e9a0001");
    BOOST_TEST(list[0].at("id") == 0);
    BOOST_TEST(list[1].at("key").is_null());
    BOOST_TEST(list[2].at("key") == "0x00000000");
    BOOST_TEST(parsed(run_tool(d, {"stat", "0x5e9a0001", "--json"})).at("key") == "0x5e9a0001");
}

BOOST_AUTO_TEST_CASE(every_bad_number_is_a_usage_error) {
    daemon_process d;
    BOOST_TEST_REQUIRE(run_tool(d, {"send", "q", "x"}).status == 0);
    const std::vector<std::vector<std::string>> bad = {
        {"recv", "q", "--timeout", "1e300"},
        {"recv", "q", "--timeout", "9.2e15"},
        {"recv", "q", "--timeout", "1000000001"},
        {"recv", "q", "--timeout", "nan"},
        {"recv", "q", "--timeout", "-1"},
        {"recv", "q", "--timeout", "-inf"},
        {"recv", "q", "--timeout", "0x10"},
        {"recv", "q", "--timeout", "+1"},
        {"recv", "q", "--timeout", "1s"},
        {"recv", "q", "--timeout", ""},
        {"send", "q", "--timeout", "1e300", "x"},
        {"recv", "q", "--type", "-1"},
        {"recv", "q", "--type", "9223372036854775808"},
        {"recv", "q", "--except", "0"},
        {"recv", "q", "--max-type", "0"},
        {"recv", "q", "--max-type", "99999999999999999999"},
        {"peek", "q", "--at", "-1"},
        {"peek", "q", "--at", "18446744073709551616"},
        {"send", "q", "--type", "0", "x"},
        {"send", "q", "--type", "-5", "x"},
        {"send", "q", "--type", "1.5", "x"},
        {"send", "q", "--mode", "01000", "x"},
        {"send", "q", "--mode", "0800", "x"},
        {"set", "q", "--owner", "99999999999"},
        {"set", "q", "--owner", "-1"},
        {"set", "q", "--owner", "4294967295"},
        {"set", "q", "--group", "-1"},
        {"set", "q", "--group", "4294967296"},
        {"set", "q", "--bytes", "-1"},
        {"set", "q", "--bytes", "18446744073709551616"},
        {"set", "q", "--mode", "-1"},
        {"set", "q", "--mode", "1777"},
        {"watch", "q", "--count", "-5"},
        {"watch", "q", "--count", "0"},
        {"watch", "q", "--interval", "0"},
        {"watch", "q", "--interval", "inf"},
        {"watch", "q", "--interval", "86401"},
        {"tipc", "node", "set-netid", "0"},
        {"tipc", "node", "set-netid", "10000"},
        {"tipc", "node", "set-netid", "99999999999"},
        {"tipc", "bearer", "enable", "udp", "b", "--local", "127.0.0.1", "--port", "0"},
        {"tipc", "bearer", "enable", "udp", "b", "--local", "127.0.0.1", "--port", "65536"},
        {"tipc", "bearer", "enable", "udp", "b", "--local", "127.0.0.1", "--port", "-1"},
    };
    for (const auto& args : bad) {
        auto r = run_tool(d, args);
        BOOST_TEST(r.status == 2, command_text(args) << ": exit " << r.status << ", " << r.err);
        BOOST_TEST(
            (r.err.find("Usage") != std::string::npos || r.err.find("--help") != std::string::npos),
            command_text(args) << ": no usage pointer in: " << r.err);
        const auto option = std::find_if(args.begin(), args.end(),
                                         [](const std::string& a) { return a.starts_with("--"); });
        if (option != args.end() && args[0] != "tipc")
            BOOST_TEST(r.err.find(*option) != std::string::npos,
                       command_text(args) << ": does not name " << *option << ": " << r.err);
        BOOST_TEST(r.out.empty(), command_text(args));
    }
    // Nothing of that reached the queue: still one message, owner root, mode 0660.
    auto j = parsed(run_tool(d, {"stat", "q", "--json"}));
    BOOST_TEST(j.at("messages").get<int>() == 1);
    BOOST_TEST(j.at("uid").get<unsigned>() == 0u);
    BOOST_TEST(j.at("mode").get<std::string>() == "0660");

    // The ends of each range are taken.
    BOOST_TEST(run_tool(d, {"set", "q", "--owner", "4294967294", "--group", "0"}).status == 0);
    j = parsed(run_tool(d, {"stat", "q", "--json"}));
    BOOST_TEST(j.at("uid").get<unsigned>() == 4294967294u);
    BOOST_TEST(run_tool(d, {"set", "q", "--owner", "0", "--mode", "0777"}).status == 0);
    BOOST_TEST(run_tool(d, {"send", "q", "--type", "9223372036854775807", "big"}).status == 0);
    auto big = run_tool(d, {"recv", "q", "--type", "9223372036854775807", "--timeout", "0"});
    BOOST_TEST(big.status == 0, big.err);
    BOOST_TEST(big.out == "big");
    BOOST_TEST(run_tool(d, {"peek", "q", "--at", "18446744073709551615"}).status == 3);
    auto watch = run_tool(d, {"watch", "q", "--count", "2", "--interval", "0.01"});
    BOOST_TEST(watch.status == 0, watch.err);
    BOOST_TEST(watch.out.find("1 messages") != std::string::npos, watch.out);
}

BOOST_AUTO_TEST_CASE(timeout_inf_waits_for_the_message) {
    daemon_process d;
    BOOST_TEST_REQUIRE(run_tool(d, {"send", "late", "first"}).status == 0);
    BOOST_TEST_REQUIRE(run_tool(d, {"recv", "late"}).status == 0); // the queue exists, empty
    for (const char* forever : {"inf", "infinity", "INF", "1e9"}) {
        tool_process receiver(d, {"recv", "late", "--timeout", forever});
        std::this_thread::sleep_for(300ms);
        BOOST_TEST_REQUIRE(receiver.running(), "--timeout " << forever << " gave up at once");
        auto sent = run_tool(d, {"send", "late", std::string("for ") + forever});
        BOOST_TEST_REQUIRE(sent.status == 0, sent.err);
        auto r = receiver.finish(10s);
        BOOST_TEST(r.status == 0, "--timeout " << forever << ": exit " << r.status << " " << r.err);
        BOOST_TEST(r.out == std::string("for ") + forever);
    }
    // A finite timeout still gives up, after its time: exit 3, no message.
    const auto start = std::chrono::steady_clock::now();
    auto r = run_tool(d, {"recv", "late", "--timeout", "0.3"});
    BOOST_TEST(r.status == 3, r.err);
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 300ms));
}

BOOST_AUTO_TEST_CASE(permission_message_says_socket_or_queue,
                     *boost::unit_test::precondition(as_root())) {
    daemon_process d;
    BOOST_TEST_REQUIRE(run_tool(d, {"send", "mine", "--mode", "0600", "secret"}).status == 0);

    // The socket's mode refuses uid 65534: connect() fails with EACCES.
    BOOST_TEST_REQUIRE(::chmod(d.socket_path().c_str(), 0660) == 0);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"ls"}, std::vector<std::string>{"stat", "mine"},
          std::vector<std::string>{"recv", "mine"}}) {
        auto r = run_tool(d, args, {}, uid_t(65534));
        BOOST_TEST(r.status == 1, command_text(args) << ": exit " << r.status << " " << r.err);
        BOOST_TEST(r.err.find("socket") != std::string::npos, r.err);
        BOOST_TEST(r.err.find(d.socket_path()) != std::string::npos, r.err);
        BOOST_TEST(r.err.find("queue's mode") == std::string::npos, r.err);
    }

    // The socket lets everyone connect; the queue's mode 0600 refuses uid 65534.
    BOOST_TEST_REQUIRE(::chmod(d.socket_path().c_str(), 0666) == 0);
    auto listed = run_tool(d, {"ls"}, {}, uid_t(65534));
    BOOST_TEST(listed.status == 0, listed.err);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"stat", "mine"}, std::vector<std::string>{"recv", "mine"}}) {
        auto r = run_tool(d, args, {}, uid_t(65534));
        BOOST_TEST(r.status == 1, command_text(args) << ": exit " << r.status << " " << r.err);
        BOOST_TEST(r.err.find("queue's mode") != std::string::npos, r.err);
        BOOST_TEST(r.err.find("socket file's mode") == std::string::npos, r.err);
    }
}
