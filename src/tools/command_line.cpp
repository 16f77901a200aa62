// CLI11 for the words of a subcommand; the tool's own range checks for every number in them.
#include "tools/command_line.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace seqmq::tool {

std::optional<timeout> parse_seconds(std::string_view text, double lo, double hi, forever f) {
    double secs = 0;
    const char* last = text.data() + text.size();
    // general: decimal and exponent forms only, never hex; "inf" and "nan" come back as such.
    auto [end, ec] = std::from_chars(text.data(), last, secs, std::chars_format::general);
    if (text.empty() || ec != std::errc{} || end != last || std::isnan(secs))
        return std::nullopt;
    if (std::isinf(secs))
        return f == forever::allowed && secs > 0 ? std::optional<timeout>(timeout{}) : std::nullopt;
    if (secs < lo || secs > hi)
        return std::nullopt;
    // hi <= max_seconds, so the milliseconds fit a long long with room to spare.
    return timeout(std::chrono::milliseconds(static_cast<long long>(std::ceil(secs * 1000))));
}

command_line::command_line(std::string command) : app_("", std::move(command)) {
    app_.set_help_flag(); // the usage texts are the tool's own; --help is answered before
}

void command_line::flag(const std::string& name, bool& out) {
    app_.add_flag(name, out);
}

void command_line::text(const std::string& name, std::optional<std::string>& out) {
    app_.add_option_function<std::string>(name, [&out](const std::string& word) { out = word; });
}

void command_line::seconds(const std::string& name, timeout& out, double lo, double hi, forever f) {
    app_.add_option_function<std::string>(name, [=, &out](const std::string& word) {
        auto limit = parse_seconds(word, lo, hi, f);
        if (!limit) {
            char lo_text[32], hi_text[32];
            std::snprintf(lo_text, sizeof lo_text, "%g", lo);
            std::snprintf(hi_text, sizeof hi_text, "%.0f", hi);
            std::string what = "seconds";
            std::string range_hi = hi_text;
            if (f == forever::allowed)
                range_hi += " (or inf: for ever)";
            throw CLI::ValidationError(name + " " + range_text(what, word, lo_text, range_hi));
        }
        out = *limit;
    });
}

void command_line::words(std::vector<std::string>& out) {
    app_.add_option("words", out);
}

void command_line::parse(std::span<const std::string_view> args) {
    std::vector<std::string> reversed(args.rbegin(), args.rend()); // CLI11 takes them backwards
    try {
        app_.parse(reversed);
    } catch (const CLI::ExtrasError& e) {
        throw usage_failure{std::string(e.what()) +
                            " (a word that begins with '-' and is no option goes after `--`)"};
    } catch (const CLI::ParseError& e) {
        throw usage_failure{e.what()};
    }
}

std::string command_line::range_text(const std::string& what, std::string_view word,
                                     const std::string& lo, const std::string& hi) {
    return "takes " + what + ", " + lo + " to " + hi + "; not '" + std::string(word) + "'";
}

} // namespace seqmq::tool
