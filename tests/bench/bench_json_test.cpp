// seqmq_bench's --json file and its --compare reader (no timing is asserted): a short run of two
// peers writes a file nlohmann parses, with every record's fields; --compare reads it however
// it is laid out, reads null values (NaN), and refuses runs whose message counts differ.
#define BOOST_TEST_MODULE seqmq_bench json
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using nlohmann::json;

namespace {

struct run_result {
    int status = -1;
    std::string output;
};

// Runs seqmq_bench with `args` (words without shell metacharacters), stdout and stderr together.
run_result bench(const std::string& args) {
    run_result r;
    const std::string command = std::string(SEQMQ_BENCH) + " " + args + " 2>&1";
    FILE* p = ::popen(command.c_str(), "r");
    BOOST_TEST_REQUIRE(p != nullptr);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
        r.output.append(buf, n);
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}

void save(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

// A scratch directory for one test, removed at the end.
struct scratch {
    std::string dir;
    scratch() {
        char tmpl[] = "/tmp/seqmq-bench-json-XXXXXX";
        BOOST_TEST_REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
    }
    ~scratch() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string path(const std::string& name) const { return dir + "/" + name; }
};

constexpr const char* short_run = "--quick --suites transfer --peers unix,sysv --sizes 64 "
                                  "--messages 2000 --roundtrips 200 --repeat 1";

// The --json file of a short run, parsed.
json short_run_json(const scratch& s, const std::string& name) {
    auto r = bench(std::string(short_run) + " --json " + s.path(name));
    BOOST_TEST_REQUIRE(r.status == 0, r.output);
    try {
        return json::parse(slurp(s.path(name)));
    } catch (const json::exception& e) {
        BOOST_FAIL("--json wrote no JSON (" << e.what() << "):\n" << slurp(s.path(name)));
    }
    return {};
}

} // namespace

BOOST_AUTO_TEST_CASE(json_file_parses_with_every_field) {
    scratch s;
    const json doc = short_run_json(s, "run.json");
    for (const char* key : {"host", "kernel", "cpu"})
        BOOST_TEST(doc.at("machine").at(key).is_string(), key);
    BOOST_TEST(doc.at("machine").at("cpus").is_number_integer());
    BOOST_TEST(doc.at("ipc").at("private_namespace").is_boolean());
    const json& settings = doc.at("settings");
    BOOST_TEST(settings.at("messages").get<int>() == 2000);
    BOOST_TEST(settings.at("roundtrips").get<int>() == 200);
    BOOST_TEST(settings.at("repeat").get<int>() == 1);
    const json& records = doc.at("records");
    BOOST_TEST_REQUIRE(records.is_array());
    BOOST_TEST_REQUIRE(!records.empty());
    for (const json& r : records) {
        for (const char* key : {"suite", "peer", "metric", "unit", "note"})
            BOOST_TEST(r.at(key).is_string(), key << " in " << r.dump());
        for (const char* key : {"size", "depth", "senders", "count"})
            BOOST_TEST(r.at(key).is_number_unsigned(), key << " in " << r.dump());
        BOOST_TEST((r.at("value").is_number() || r.at("value").is_null()), r.dump());
        BOOST_TEST(r.at("suite").get<std::string>() == "transfer");
        BOOST_TEST(r.at("size").get<int>() == 64);
    }
}

BOOST_AUTO_TEST_CASE(compare_reads_any_layout_and_refuses_other_counts) {
    scratch s;
    json doc = short_run_json(s, "old.json");
    const std::string first = doc.at("records").at(0).at("suite").get<std::string>() + "/" +
                              doc.at("records").at(0).at("peer").get<std::string>() + "/" +
                              doc.at("records").at(0).at("metric").get<std::string>() + "/64";

    auto same = bench("--compare " + s.path("old.json") + " " + s.path("old.json"));
    BOOST_TEST(same.status == 0, same.output);
    BOOST_TEST(same.output.find(first) != std::string::npos, same.output);
    BOOST_TEST(same.output.find("1.000×") != std::string::npos, same.output);

    // The same data on one line, with its fields in another order and a NaN value (null).
    json compact = json::parse(slurp(s.path("old.json"))); // nlohmann::json: fields sorted
    compact["records"][0]["value"] = nullptr;
    save(s.path("compact.json"), compact.dump());
    auto relaid = bench("--compare " + s.path("old.json") + " " + s.path("compact.json"));
    BOOST_TEST(relaid.status == 0, relaid.output);
    BOOST_TEST(relaid.output.find(first) != std::string::npos, relaid.output);

    // A record measured over another message count: refused, with exit status 65.
    json other = doc;
    other["records"][0]["count"] = other["records"][0]["count"].get<std::size_t>() + 1;
    save(s.path("other.json"), other.dump(4));
    auto refused = bench("--compare " + s.path("old.json") + " " + s.path("other.json"));
    BOOST_TEST(refused.status == 65, refused.output);
    BOOST_TEST(refused.output.find("different message counts") != std::string::npos,
               refused.output);

    // Not a --json file at all, or one cut short: a usage error naming the file.
    save(s.path("cut.json"), slurp(s.path("old.json")).substr(0, 100));
    for (const char* bad : {"cut.json", "missing.json"}) {
        auto r = bench("--compare " + s.path(bad) + " " + s.path("old.json"));
        BOOST_TEST(r.status == 64, bad << ": " << r.output);
        BOOST_TEST(r.output.find(bad) != std::string::npos, r.output);
    }
}
