// The GORT_* settings table: every variable rejects a bad value by name and
// quoting it, treats an empty value as unset, and docs/README.md documents
// exactly the rows of the table.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "gort/gort.hpp"
#include "runtime/settings.hpp"
#include "test_util.hpp"

namespace {

// A value each variable must reject. Adding a setting without a line here
// fails SettingsTable.EveryVariableHasABadValueTest.
const std::map<std::string, std::string> k_bad = {
    {"GORT_MAXPROCS", "0"},      {"GORT_SCHEDTRACE", "often"}, {"GORT_TRACE", ""},
    {"GORT_DEADLOCK", "bogus"},  {"GORT_LEAKCHECK", "yes"},    {"GORT_SCHED_SEED", "x9"},
    {"GORT_MAXTHREADS", "0"},    {"GORT_STALLREPORT", "-5"},   {"GORT_TRACEBACK", "crash"},
};

std::string readme() {
  std::ifstream in(GORT_SOURCE_DIR "/docs/README.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(SettingsTable, EveryVariableHasABadValueTest) {
  std::set<std::string> names;
  for (const auto& s : gort::detail::all_settings()) names.insert(std::string(s.name));
  std::set<std::string> tested;
  for (const auto& [name, bad] : k_bad) tested.insert(name);
  EXPECT_EQ(names, tested);
}

TEST(SettingsTable, BadValuesAreRejectedNamingVariableAndValue) {
  for (const auto& [name, bad] : k_bad) {
    if (bad.empty()) continue;  // GORT_TRACE accepts any file name
    SCOPED_TRACE(name);
    gort_test::scoped_env env(name.c_str(), bad.c_str());
    try {
      gort::run([] {}, {.workers = 1});
      ADD_FAILURE() << "no exception for " << name << "=" << bad;
    } catch (const std::invalid_argument& e) {
      std::string what = e.what();
      EXPECT_NE(what.find(name + "=\"" + bad + "\""), std::string::npos) << what;
    }
  }
}

TEST(SettingsTable, EmptyValueCountsAsUnset) {
  for (const auto& s : gort::detail::all_settings()) {
    SCOPED_TRACE(std::string(s.name));
    gort_test::scoped_env env(std::string(s.name).c_str(), "");
    EXPECT_EQ(gort::run([] { return 7; }, {.workers = 1}), 7);
  }
}

TEST(SettingsTable, ReadmeTableMatchesTheCode) {
  const std::string doc = readme();
  ASSERT_FALSE(doc.empty()) << "cannot read docs/README.md";
  std::size_t rows = 0;
  for (std::size_t at = doc.find("\n| `GORT_"); at != std::string::npos; at = doc.find("\n| `GORT_", at + 1))
    ++rows;
  EXPECT_EQ(rows, gort::detail::all_settings().size());
  for (const auto& s : gort::detail::all_settings()) {
    std::string row = "| `" + std::string(s.name) + "` | " + std::string(s.accepts) + " | " +
                      std::string(s.unset) + " | " + std::string(s.doc) + " |";
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/README.md lacks the row:\n" << row;
  }
}
