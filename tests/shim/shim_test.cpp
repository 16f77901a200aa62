// libseqmq-sysv.so with real programs and a real seqmqd: a plain SysV program (sysv_script.c)
// prints one line per call, run on the kernel's queues and under the shim, and the two runs must
// agree line for line, ids included (a fresh IPC namespace and a fresh seqmqd number alike). The
// shim's run is made inside a private IPC namespace whose msgmni is 0, so that any call that
// leaks to the kernel fails instead of passing. The same for the SysV differential's generated
// operations as a plain program (sysv_differential.cpp), for Perl's IPC::Msg and for Python's
// sysv_ipc. Also: a daemon that cannot be reached, and SEQMQ_SYSV_KEYS.
#define BOOST_TEST_MODULE SysV shim
#include "daemon_fixture.hpp"

#include "shim/key_routing.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <sstream>
#include <string>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <vector>

using namespace daemon_test;

namespace {

// How a program runs: with the shim preloaded or not, in a private IPC namespace or not, and
// there with the kernel's queues closed (msgmni 0).
struct how_to_run {
    bool shim = false;
    bool private_ipc = false;
    bool kernel_closed = false;
    std::vector<std::pair<std::string, std::string>> env; // set for the program only
};

struct run_result {
    int status = -1; // the exit status; -1 killed or timed out
    std::string out, err;
    std::vector<std::string> lines() const {
        std::vector<std::string> all;
        std::istringstream in(out);
        for (std::string l; std::getline(in, l);)
            all.push_back(l);
        return all;
    }
};

std::string read_all(std::FILE* f) {
    std::string all;
    std::rewind(f);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
        all.append(buf, n);
    return all;
}

// What LD_PRELOAD holds for a shim run. A shim built with AddressSanitizer needs the ASan runtime
// loaded before everything else; the test programs of such a build are instrumented themselves,
// but the runtime is named too so that the same line works for any program.
std::string preload() {
    std::string p = SEQMQ_SANITIZER_PRELOAD;
    return p.empty() ? SEQMQ_SHIM_PATH : p + ":" + SEQMQ_SHIM_PATH;
}

run_result run(const std::vector<std::string>& args, const how_to_run& how,
               std::chrono::milliseconds limit = 90s) {
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    BOOST_TEST_REQUIRE((out && err));
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(::fileno(out), 1);
        ::dup2(::fileno(err), 2);
        if (how.private_ipc && ::unshare(CLONE_NEWIPC) < 0)
            ::_exit(125);
        if (how.kernel_closed) {
            const int fd = ::open("/proc/sys/kernel/msgmni", O_WRONLY);
            if (fd < 0 || ::write(fd, "0\n", 2) != 2)
                ::_exit(126);
            ::close(fd);
        }
        for (const auto& [name, value] : how.env)
            ::setenv(name.c_str(), value.c_str(), 1);
        if (how.shim)
            ::setenv("LD_PRELOAD", preload().c_str(), 1);
        std::vector<char*> argv;
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    run_result r;
    r.status = seqmq::test::exit_code(seqmq::test::wait_for_child(pid, limit));
    r.out = read_all(out);
    r.err = read_all(err);
    std::fclose(out);
    std::fclose(err);
    return r;
}

// The two runs' outputs, line for line; the first differences are reported.
void same_lines(const run_result& kernel, const run_result& shim) {
    const auto a = kernel.lines(), b = shim.lines();
    int reported = 0;
    for (std::size_t i = 0; i < std::max(a.size(), b.size()) && reported < 12; ++i) {
        const std::string x = i < a.size() ? a[i] : "(no line)";
        const std::string y = i < b.size() ? b[i] : "(no line)";
        if (x != y) {
            ++reported;
            BOOST_TEST(x == y, "line " << i + 1 << ":\n  kernel: " << x << "\n  shim:   " << y);
        }
    }
    BOOST_TEST(a.size() == b.size());
    BOOST_TEST(!a.empty());
    BOOST_TEST(a.back() == "== done", "the script did not finish");
}

// A precondition: a private IPC namespace whose msgmni can be set (root, CAP_SYS_ADMIN).
struct private_ipc_namespace {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        how_to_run how;
        how.private_ipc = how.kernel_closed = true;
        const run_result r = run({"/bin/true"}, how, 10s);
        boost::test_tools::assertion_result ok(r.status == 0);
        if (::geteuid() != 0)
            ok.message() << "needs root: a private IPC namespace (unshare(CLONE_NEWIPC)) with "
                            "msgmni set to 0 there, and setuid() to another user in the script";
        else
            ok.message() << "cannot make a private IPC namespace with msgmni 0 here (exit "
                         << r.status << "): a container without CAP_SYS_ADMIN?";
        return ok;
    }
};

// An interpreter (perl, python3) under the shim: not instrumented, so a ThreadSanitizer build
// cannot run it (its runtime cannot be preloaded into a program without it); under
// AddressSanitizer the preloaded runtime's leak check is off for it, since what an interpreter
// leaves at exit is its own (the shim's leaks are checked in the C script's runs).
struct interpreter_can_run {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id id) const {
#if defined(__SANITIZE_THREAD__)
        boost::test_tools::assertion_result r(false);
        r.message() << "a ThreadSanitizer build: its runtime cannot be preloaded into an "
                       "uninstrumented interpreter";
        return r;
#else
        return private_ipc_namespace()(id);
#endif
    }
};

std::vector<std::pair<std::string, std::string>> interpreter_env() {
    if (std::string(SEQMQ_SANITIZER_PRELOAD).empty())
        return {};
    return {{"ASAN_OPTIONS", "detect_leaks=0"}};
}

bool kernel_has(key_t key) {
    return ::msgget(key, 0) >= 0;
}

void kernel_remove(key_t key) {
    if (const int id = ::msgget(key, 0); id >= 0)
        ::msgctl(id, IPC_RMID, nullptr);
}

const std::string script = SYSV_SCRIPT_PATH;

// seqmqd with the limits a fresh IPC namespace has (<linux/msg.h>: MSGMNI, MSGMAX, MSGMNB), so
// that what the script prints of IPC_INFO agrees in both runs.
const std::vector<std::string> fresh_namespace_limits{
    "--max-queues", "32000", "--max-message-size", "8192", "--default-capacity", "16384"};

// With AddressSanitizer, the runtime preloaded ahead of the shim intercepts msgsnd/msgrcv itself
// and checks their buffers first: a bad pointer is its report, not the shim's EFAULT, so the
// programs leave those calls out (in both runs, with --no-bad-pointers).
bool preloaded_runtime_checks_buffers() {
#if defined(SEQMQ_SANITIZED)
    return std::string(SEQMQ_SANITIZER_PRELOAD).find("asan") != std::string::npos;
#else
    return false;
#endif
}

// The script as it runs in this build. `options`: more of the script's options (--keys-split).
std::vector<std::string> whole_script(std::vector<std::string> options = {}) {
    options.insert(options.begin(), script);
    if (preloaded_runtime_checks_buffers())
        options.push_back("--no-bad-pointers");
    return options;
}

const std::string differential = SYSV_DIFFERENTIAL_PATH;

// The differential's seeds, every mix of sysv_differential.cpp, and the operations for each:
// 80000 calls and as many IPC_STATs in each run (a few seconds under the shim, also with ASan).
const std::vector<std::string> differential_seeds{"plain:1",   "plain:2",         "waiting:201",
                                                  "wide:101",  "bytes:301",       "count:401",
                                                  "empty:501", "full-waiting:601"};
constexpr const char* differential_operations = "10000";

// The differential as it runs in this build, with MSG_COPY as `msg_copy` says (probe, yes, no).
std::vector<std::string> whole_differential(const std::string& msg_copy) {
    std::vector<std::string> args{differential, "--msg-copy=" + msg_copy};
    if (preloaded_runtime_checks_buffers())
        args.push_back("--no-bad-pointers");
    args.push_back(differential_operations);
    args.insert(args.end(), differential_seeds.begin(), differential_seeds.end());
    return args;
}

} // namespace

BOOST_AUTO_TEST_SUITE(script_runs)

// The whole script, on the kernel and under the shim; no call may reach the kernel (msgmni 0).
BOOST_AUTO_TEST_CASE(kernel_and_shim_agree_line_for_line,
                     *boost::unit_test::precondition(private_ipc_namespace())) {
    how_to_run natively;
    natively.private_ipc = true;
    const run_result kernel = run(whole_script(), natively);
    BOOST_TEST_REQUIRE(kernel.status == 0, "the script on the kernel: " << kernel.err);

    daemon_process d(fresh_namespace_limits);
    how_to_run shimmed;
    shimmed.shim = shimmed.private_ipc = shimmed.kernel_closed = true;
    const run_result shim = run(whole_script(), shimmed);
    BOOST_TEST(shim.status == 0);
    BOOST_TEST(shim.err.empty(), "the shim said: " << shim.err);
    same_lines(kernel, shim);
    // What the script left: the daemon made its queues (so the kernel was not what answered).
    BOOST_TEST(d.log_text().find("queue 0 (\"0x5e9a0001\") created") != std::string::npos);
}

// The SysV differential's generated operations (tests/sysv/operation_generator.hpp: every
// selector, MSG_NOERROR, MSG_EXCEPT, MSG_COPY, invalid arguments, full queues) as a plain SysV
// program, on the kernel and under the shim, line for line, IPC_STAT after every call; no call
// may reach the kernel (msgmni 0). Both sides at Linux's default limits: a fresh IPC namespace's
// msgmnb 16384 and msgmax 8192 are seqmqd's defaults, which daemon_process keeps.
BOOST_AUTO_TEST_CASE(generated_operations_agree_line_for_line,
                     *boost::unit_test::precondition(private_ipc_namespace())) {
    how_to_run natively;
    natively.private_ipc = true;
    auto started = std::chrono::steady_clock::now();
    const run_result kernel = run(whole_differential("probe"), natively);
    const auto native_time = std::chrono::steady_clock::now() - started;
    const auto lines = kernel.lines();
    // On the kernel, a result the generator's model did not predict is a fault of the test.
    std::string marked;
    for (const auto& l : lines)
        if (l.find("[the model predicted") != l.npos || l.starts_with("TEST FAULT") ||
            l.starts_with("watchdog")) {
            marked = l;
            break;
        }
    BOOST_TEST_REQUIRE(kernel.status == 0, "the differential on the kernel: exit "
                                               << kernel.status << ", " << kernel.err << marked);
    BOOST_TEST_REQUIRE(!lines.empty());
    // The shim run generates MSG_COPY as the kernel's answered (its own probe would ask the shim).
    const bool msg_copy = lines.front().find("MSG_COPY yes") != std::string::npos;

    daemon_process d;
    how_to_run shimmed;
    shimmed.shim = shimmed.private_ipc = shimmed.kernel_closed = true;
    started = std::chrono::steady_clock::now();
    const run_result shim = run(whole_differential(msg_copy ? "yes" : "no"), shimmed);
    const auto shim_time = std::chrono::steady_clock::now() - started;
    BOOST_TEST(shim.status == 0, "exit " << shim.status << " (3: the watchdog), its last line: "
                                         << (shim.lines().empty() ? "" : shim.lines().back()));
    BOOST_TEST(shim.err.empty(), "the shim said: " << shim.err);
    same_lines(kernel, shim);

    using ms = std::chrono::milliseconds;
    BOOST_TEST_MESSAGE(lines.size()
                       << " lines; natively " << std::chrono::duration_cast<ms>(native_time).count()
                       << " ms, under the shim "
                       << std::chrono::duration_cast<ms>(shim_time).count() << " ms");
    std::size_t seeds = 0;
    for (const auto& l : lines)
        if (l.starts_with("summary: ")) {
            BOOST_TEST_MESSAGE(l);
            ++seeds;
        }
    BOOST_TEST(seeds == differential_seeds.size());
    BOOST_TEST(d.log_text().find("(\"0x5e9a0d00\") created") != std::string::npos);
}

// `program` (an interpreter and its script) on the kernel and under the shim, line for line; the
// shim side where the kernel has no queues to give; `queue` is the keyed queue it makes.
void interpreter_agrees(const std::vector<std::string>& program, const std::string& queue) {
    how_to_run natively;
    natively.private_ipc = true;
    natively.env = interpreter_env();
    const run_result kernel = run(program, natively);
    BOOST_TEST_REQUIRE(kernel.status == 0, program[0] << " on the kernel: " << kernel.err);

    daemon_process d;
    how_to_run shimmed = natively;
    shimmed.shim = shimmed.kernel_closed = true;
    const run_result shim = run(program, shimmed);
    BOOST_TEST(shim.status == 0);
    BOOST_TEST(shim.err.empty(), "the shim said: " << shim.err);
    same_lines(kernel, shim);
    BOOST_TEST(d.log_text().find("(\"" + queue + "\") created") != std::string::npos);
}

// Perl's IPC::Msg (core Perl): a program that never heard of seqmq, through the interpreter's own
// msgget/msgsnd/msgrcv/msgctl calls.
BOOST_AUTO_TEST_CASE(perl_ipc_msg_agrees_line_for_line,
                     *boost::unit_test::precondition(interpreter_can_run())) {
    interpreter_agrees({"/usr/bin/perl", PERL_IPC_MSG_SCRIPT}, "0x5e9a0077");
}

// Python's sysv_ipc (Debian python3-sysv-ipc), likewise: the extension module's own calls.
BOOST_AUTO_TEST_CASE(python_sysv_ipc_agrees_line_for_line,
                     *boost::unit_test::precondition(interpreter_can_run())) {
    interpreter_agrees({"/usr/bin/python3", PYTHON_SYSV_IPC_SCRIPT}, "0x5e9a0066");
}

// `seqmq run`: no daemon is a message and exit status 4, the program never started; with one,
// the program runs with the shim preloaded and its queues are seqmqd's.
BOOST_AUTO_TEST_CASE(seqmq_run_needs_a_daemon_and_preloads_the_shim) {
    how_to_run nowhere;
    nowhere.env = {{"SEQMQ_DAEMON", "unix:/nonexistent/seqmqd.sock"}};
    const run_result none = run({SEQMQ_TOOL_PATH, "run", "--", "/bin/echo", "ran"}, nowhere, 20s);
    BOOST_TEST(none.status == 4);
    BOOST_TEST(none.out.empty(), "the program ran: " << none.out);
    BOOST_TEST(none.err.find("no daemon at unix:/nonexistent/seqmqd.sock") != std::string::npos,
               none.err);

    daemon_process d;
    how_to_run with_daemon;
    if (!std::string(SEQMQ_SANITIZER_PRELOAD).empty())
        with_daemon.env = {{"LD_PRELOAD", SEQMQ_SANITIZER_PRELOAD}};
    const run_result env =
        run({SEQMQ_TOOL_PATH, "run", "--keys", "0x5e9a0001", "--", "/bin/sh", "-c",
             "echo \"$LD_PRELOAD\"; echo \"$SEQMQ_DAEMON\"; echo \"$SEQMQ_SYSV_KEYS\""},
            with_daemon, 20s);
    BOOST_TEST(env.status == 0, env.err);
    BOOST_TEST(env.lines() == (std::vector<std::string>{preload(), d.address_text(), "0x5e9a0001"}),
               boost::test_tools::per_element());
}

// A real SysV program through `seqmq run`, in a namespace where the kernel has no queues to give.
BOOST_AUTO_TEST_CASE(seqmq_run_runs_a_sysv_program_on_seqmqd,
                     *boost::unit_test::precondition(private_ipc_namespace())) {
    daemon_process d;
    how_to_run closed;
    closed.private_ipc = closed.kernel_closed = true;
    if (!std::string(SEQMQ_SANITIZER_PRELOAD).empty())
        closed.env = {{"LD_PRELOAD", SEQMQ_SANITIZER_PRELOAD}};
    std::vector<std::string> args{SEQMQ_TOOL_PATH, "run", "--"};
    for (const auto& a : whole_script())
        args.push_back(a);
    const run_result r = run(args, closed);
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.err.empty(), r.err);
    BOOST_TEST_REQUIRE(!r.lines().empty());
    BOOST_TEST(r.lines().back() == "== done");
    BOOST_TEST(d.log_text().find("(\"0x5e9a0001\") created") != std::string::npos);
}

// SEQMQ_SYSV_KEYS naming one key: that one on seqmq, the private queues and the two other keys
// on the kernel; ids of both kinds in one program, told apart.
BOOST_AUTO_TEST_CASE(some_keys_on_seqmq_and_the_rest_on_the_kernel_agree,
                     *boost::unit_test::precondition(private_ipc_namespace())) {
    how_to_run natively;
    natively.private_ipc = true;
    const run_result kernel = run(whole_script({"--keys-split"}), natively);
    BOOST_TEST_REQUIRE(kernel.status == 0, kernel.err);

    daemon_process d;
    how_to_run split;
    split.shim = split.private_ipc = true;
    split.env = {{"SEQMQ_SYSV_KEYS", "0x5e9a0001"}};
    const run_result shim = run(whole_script({"--keys-split"}), split);
    BOOST_TEST(shim.status == 0);
    BOOST_TEST(shim.err.empty(), shim.err);
    same_lines(kernel, shim);
    const std::string log = d.log_text();
    BOOST_TEST(log.find("(\"0x5e9a0001\") created") != std::string::npos);
    BOOST_TEST(log.find("0x5e9a0002") == std::string::npos, "KEY2 went to seqmq");
    BOOST_TEST(log.find("(private) created") == std::string::npos, "IPC_PRIVATE went to seqmq");
}

// SEQMQ_SYSV_KEYS=none: the shim is there and does nothing (syscall() forwarded, fork, threads).
BOOST_AUTO_TEST_CASE(no_keys_on_seqmq_is_the_kernel_alone,
                     *boost::unit_test::precondition(private_ipc_namespace())) {
    how_to_run natively;
    natively.private_ipc = true;
    const run_result kernel = run(whole_script(), natively);
    BOOST_TEST_REQUIRE(kernel.status == 0, kernel.err);
    how_to_run none = natively;
    none.shim = true;
    none.env = {{"SEQMQ_SYSV_KEYS", "none"}, {"SEQMQ_DAEMON", "unix:/nonexistent/seqmqd.sock"}};
    const run_result shim = run(whole_script(), none);
    BOOST_TEST(shim.status == 0);
    BOOST_TEST(shim.err.empty(), shim.err);
    same_lines(kernel, shim);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(routing)

// No daemon: msgget fails with ECONNREFUSED (not ENOENT, "no such queue"), said once on stderr
// however many calls fail; the kernel is not asked.
BOOST_AUTO_TEST_CASE(no_daemon_is_said_once_and_refused) {
    char dir[] = "/tmp/seqmq-shim-test-XXXXXX";
    BOOST_TEST_REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string nowhere = std::string("unix:") + dir + "/seqmqd.sock";
    how_to_run how;
    how.shim = true;
    how.env = {{"SEQMQ_DAEMON", nowhere}};
    kernel_remove(0x5e9a00f1);
    const run_result r = run({script, "msgget", "0x5e9a00f1", "0x5e9a00f2", "0"}, how);
    ::rmdir(dir);
    BOOST_TEST(r.status == 0);
    const auto lines = r.lines();
    BOOST_TEST_REQUIRE(lines.size() == 3u, r.out);
    for (const auto& l : lines)
        BOOST_TEST(l.ends_with("-1 ECONNREFUSED"), l);
    const std::string said = "seqmq-sysv: no seqmqd at " + nowhere + " (No such file or directory)";
    const auto first = r.err.find(said);
    BOOST_TEST(first != std::string::npos, r.err);
    BOOST_TEST(r.err.find(said, first + 1) == std::string::npos, "said more than once: " << r.err);
    BOOST_TEST(r.err.find("ECONNREFUSED") != std::string::npos);
    BOOST_TEST(r.err.find("seqmqd") != std::string::npos);
    BOOST_TEST(!kernel_has(0x5e9a00f1), "fell back to the kernel");
}

// SEQMQ_SYSV_KEYS: the key named goes to seqmq (queue "0x5e9a0021"), the other to the kernel.
BOOST_AUTO_TEST_CASE(keys_outside_the_list_go_to_the_kernel) {
    daemon_process d;
    kernel_remove(0x5e9a0021);
    kernel_remove(0x5e9a0022);
    how_to_run how;
    how.shim = true;
    how.env = {{"SEQMQ_SYSV_KEYS", "0x5e9a0020 - 0x5e9a0021, 7"}};
    const run_result r = run({script, "msgget", "0x5e9a0021", "0x5e9a0022"}, how);
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.err.empty(), r.err);
    const auto lines = r.lines();
    BOOST_TEST_REQUIRE(lines.size() == 2u, r.out);
    BOOST_TEST(lines[0].ends_with(" id"), lines[0]);
    BOOST_TEST(lines[1].ends_with(" id"), lines[1]);
    BOOST_TEST(!kernel_has(0x5e9a0021), "0x5e9a0021 reached the kernel");
    BOOST_TEST(kernel_has(0x5e9a0022), "0x5e9a0022 did not reach the kernel");
    kernel_remove(0x5e9a0022);
    auto on_seqmq = seqmq::queue::open("0x5e9a0021", seqmq::open_flags::none, 0, d.options());
    BOOST_TEST(on_seqmq.has_value(), why(on_seqmq));
    auto not_there = seqmq::queue::open("0x5e9a0022", seqmq::open_flags::none, 0, d.options());
    BOOST_TEST((!not_there && not_there.error() == std::errc::no_such_file_or_directory));
}

// A list that does not parse: said once, and every call fails (never the kernel instead).
BOOST_AUTO_TEST_CASE(a_bad_key_list_is_said_and_refused) {
    kernel_remove(0x5e9a0031);
    how_to_run how;
    how.shim = true;
    how.env = {{"SEQMQ_SYSV_KEYS", "0x5e9a0031,"}};
    const run_result r = run({script, "msgget", "0x5e9a0031", "0x5e9a0032"}, how);
    BOOST_TEST(r.status == 0);
    for (const auto& l : r.lines())
        BOOST_TEST(l.ends_with("-1 EINVAL"), l);
    BOOST_TEST(r.err.find("SEQMQ_SYSV_KEYS=\"0x5e9a0031,\" is not") != std::string::npos, r.err);
    BOOST_TEST(!kernel_has(0x5e9a0031));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(key_lists)

using seqmq::shim::key_routing;

BOOST_AUTO_TEST_CASE(all_none_and_lists) {
    BOOST_TEST(key_routing().all());
    BOOST_TEST(key_routing::parse("")->all());
    BOOST_TEST(key_routing::parse(" all ")->all());
    auto none = key_routing::parse("none");
    BOOST_TEST((none->none() && !none->to_seqmq(0) && !none->to_seqmq(1)));
    auto some = key_routing::parse("0x5e9a0001, 0x100-0x1ff ,42,0777,0");
    BOOST_TEST_REQUIRE(some.has_value());
    BOOST_TEST((!some->all() && !some->none()));
    BOOST_TEST(some->to_seqmq(0x5e9a0001));
    BOOST_TEST(!some->to_seqmq(0x5e9a0002));
    BOOST_TEST((some->to_seqmq(0x100) && some->to_seqmq(0x1ff) && !some->to_seqmq(0x200)));
    BOOST_TEST((some->to_seqmq(42) && some->to_seqmq(0777) && some->to_seqmq(IPC_PRIVATE)));
    auto negative = key_routing::parse("0xffffffff");
    BOOST_TEST(negative->to_seqmq(key_t(-1)));
}

BOOST_AUTO_TEST_CASE(bad_lists_are_refused) {
    for (const char* bad : {"0x", "x", "1,", ",1", "1,,2", "5-3", "1-", "-1", "0x1g", "0x100000000",
                            "09", "none,1", "all,1"})
        BOOST_TEST(!key_routing::parse(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(names_are_keys_as_ipcs_prints_them) {
    using seqmq::shim::key_of_queue_name;
    using seqmq::shim::queue_name_of;
    BOOST_TEST(queue_name_of(0x5e9a0001) == "0x5e9a0001");
    BOOST_TEST(queue_name_of(1) == "0x00000001");
    BOOST_TEST(queue_name_of(key_t(-1)) == "0xffffffff");
    BOOST_TEST(key_of_queue_name("0x5e9a0001").value() == 0x5e9a0001);
    BOOST_TEST(key_of_queue_name("0xffffffff").value() == key_t(-1));
    for (const char* other : {"karaoke", "0x5E9A0001", "0x5e9a001", "0x5e9a00011", "1x5e9a0001"})
        BOOST_TEST(!key_of_queue_name(other).has_value(), other);
}

BOOST_AUTO_TEST_SUITE_END()
