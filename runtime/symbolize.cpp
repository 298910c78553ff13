// Symbolization of call stacks, and which frames are the user's (see
// runtime/traceback.hpp).
//
// Each pc becomes one or more frames, innermost first: the inlined calls at
// that pc (DWARF's inlined subroutines, each with the file:line where it is,
// the call site of the one inside it) and the function that contains them.
// A function's name is its demangled linkage name (symbol table or DWARF);
// without debug information, `function+0x1d` and `binary+0x1234`.
//
// A frame is a system frame when its function belongs to gort, the C++
// library (std::, __gnu_cxx::, the ABI runtime), Boost.Context or a
// sanitizer runtime, when its code is inlined from the C++ library's or
// gort's headers, or when it lies in the C/C++ runtime's own binaries (libc,
// libstdc++, libgcc, the dynamic loader...). Everything else is the user's.
//
// Invariants: g_cache (pc -> frames) is used under the traceback lock and
// only grows (a report's pcs repeat: thousands of fibers share a few).
#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/traceback.hpp"

namespace gort::detail {

Dwfl* traceback_dwfl(bool refresh);  // unwind.cpp

namespace {

struct frame_text {
  std::string function;
  std::string location;  // file:line, or binary+0x1234
  bool system = false;
  bool has_line = false;
};

std::unordered_map<std::uintptr_t, std::vector<frame_text>> g_cache;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Itanium-mangled names of system code: std:: (St, and the Sa/Sb/Ss/Si/So/Sd
// abbreviations), gort::, the ABI and sanitizer runtimes, Boost.Context.
bool system_mangled(std::string_view s) {
  s.remove_prefix(2);  // "_Z"
  while (!s.empty() && (s[0] == 'Z' || s[0] == 'L')) s.remove_prefix(1);  // local entity, internal linkage
  if (!s.empty() && s[0] == 'N') {
    s.remove_prefix(1);
    while (!s.empty() && (s[0] == 'r' || s[0] == 'V' || s[0] == 'K' || s[0] == 'R' || s[0] == 'O'))
      s.remove_prefix(1);
  }
  if (s.size() >= 2 && s[0] == 'S' && std::strchr("tabsiod", s[1]) != nullptr) return true;
  for (std::string_view p : {"4gort", "9__gnu_cxx", "10__cxxabiv1", "5boost7context", "6__asan", "6__tsan",
                             "6__lsan", "7__ubsan", "11__sanitizer", "14__interception"})
    if (starts_with(s, p)) return true;
  return false;
}

// A name as DWARF or the symbol table gives it: mangled, plain C, or a
// qualified C++ name (DW_AT_name with its scopes).
bool system_name(std::string_view s) {
  if (starts_with(s, "_Z")) return system_mangled(s);
  for (std::string_view p : {"std::", "gort::", "__gnu_cxx::", "__cxxabiv1::", "boost::context::", "__", "_Unwind",
                             "gort_", "make_fcontext", "jump_fcontext", "ontop_fcontext"})
    if (starts_with(s, p)) return true;
  return s == "_start";
}

// The C and C++ runtime's own binaries, and the sanitizer runtimes.
bool system_module(std::string_view path) {
  std::string_view base = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  for (std::string_view p : {"libc.so", "libc-", "libm.so", "libpthread", "libdl.so", "librt.so", "ld-linux",
                             "libstdc++", "libc++", "libgcc_s", "libunwind", "libboost_context", "libasan",
                             "libtsan", "liblsan", "libubsan", "libdw", "libelf", "[vdso]", "linux-vdso"})
    if (starts_with(base, p)) return true;
  return false;
}

// Headers of the C++ library and gort's own (templates inlined into the
// user's code, which DWARF may name only plainly).
bool system_file(std::string_view file) {
  for (std::string_view dir : {"/include/c++/", "/bits/", "/include/gort/"})
    if (file.find(dir) != std::string_view::npos) return true;
  return false;
}

// Demangled, without the compiler's " [clone .cold]" suffixes (a function
// split or specialised by the optimiser is still that function).
std::string demangle(const char* name) {
  if (!name) return "??";
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
  std::string out = status == 0 && d ? std::string(d.get()) : std::string(name);
  for (std::size_t clone; (clone = out.rfind(" [clone ")) != std::string::npos && out.back() == ']';)
    out.erase(clone);
  return out;
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The name of a subprogram or inlined subroutine DIE, and whether it is
// system code: its linkage name if it has one, else its name qualified by
// the namespaces and classes around its declaration.
std::pair<std::string, bool> die_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  for (int at : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (const char* n = dwarf_formstring(dwarf_attr_integrate(die, at, &attr))) return {demangle(n), system_name(n)};
  }
  const char* plain = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
  if (!plain) return {"??", false};
  // The declaration's scopes (the abstract origin or specification holds them).
  Dwarf_Die decl = *die;
  Dwarf_Attribute ref;
  for (int at : {DW_AT_abstract_origin, DW_AT_specification}) {
    while (dwarf_attr(&decl, at, &ref) && dwarf_formref_die(&ref, &decl)) {
    }
  }
  std::string qualified = plain;
  Dwarf_Die* scopes = nullptr;
  const int n = dwarf_getscopes_die(&decl, &scopes);
  for (int i = 1; i < n; ++i) {
    const int tag = dwarf_tag(&scopes[i]);
    const char* s = dwarf_diename(&scopes[i]);
    if (tag == DW_TAG_namespace) {
      qualified.insert(0, std::string(s ? s : "(anonymous namespace)") + "::");
    } else if (tag == DW_TAG_class_type || tag == DW_TAG_structure_type || tag == DW_TAG_union_type) {
      qualified.insert(0, std::string(s ? s : "{lambda}") + "::");  // a closure type has no name
    } else if (tag == DW_TAG_subprogram) {  // a lambda's or local class's function
      Dwarf_Attribute link;
      if (const char* m = dwarf_formstring(dwarf_attr_integrate(&scopes[i], DW_AT_linkage_name, &link))) {
        qualified.insert(0, demangle(m) + "::");  // qualified already
        std::free(scopes);
        return {qualified, system_name(m)};
      }
      if (s) qualified.insert(0, std::string(s) + "::");
    }
  }
  std::free(scopes);
  return {qualified, system_name(qualified)};
}

// DW_AT_call_file and DW_AT_call_line of an inlined subroutine.
bool call_site(Dwarf_Die* inlined, Dwarf_Die* cu, std::string& file, int& line) {
  Dwarf_Attribute attr;
  Dwarf_Word fileidx = 0, lineno = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &fileidx) != 0) return false;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &lineno) != 0) return false;
  Dwarf_Files* files = nullptr;
  std::size_t nfiles = 0;
  if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || fileidx >= nfiles) return false;
  const char* f = dwarf_filesrc(files, fileidx, nullptr, nullptr);
  if (!f) return false;
  file = f;
  line = int(lineno);
  return true;
}

// The compile unit holding `pc`, and the bias of the module's addresses.
// libdw finds it through .debug_aranges, which clang does not emit by
// default: without them, each unit's own address ranges are searched.
Dwarf_Die* unit_at(Dwfl_Module* mod, std::uintptr_t pc, Dwarf_Addr& bias) {
  if (Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, &bias)) return cu;
  for (Dwarf_Die* cu = nullptr; (cu = dwfl_module_nextcu(mod, cu, &bias)) != nullptr;)
    if (dwarf_haspc(cu, pc - bias) > 0) return cu;
  return nullptr;
}

// The DIEs around `pc` below `parent`, outermost first: the function, the
// blocks and inlined calls inside it. Searched through namespaces and
// classes too, where clang puts function definitions (libdw's
// dwarf_getscopes only finds those GCC puts at the unit's top level).
bool scopes_at(Dwarf_Die* parent, Dwarf_Addr pc, std::vector<Dwarf_Die>& chain, int depth = 0) {
  Dwarf_Die child;
  if (depth > 64 || dwarf_child(parent, &child) != 0) return false;
  do {
    switch (dwarf_tag(&child)) {
      case DW_TAG_namespace:
      case DW_TAG_class_type:
      case DW_TAG_structure_type:
      case DW_TAG_union_type:
        if (scopes_at(&child, pc, chain, depth + 1)) return true;
        break;
      case DW_TAG_subprogram:
      case DW_TAG_inlined_subroutine:
      case DW_TAG_lexical_block:
        if (dwarf_haspc(&child, pc) > 0) {
          chain.push_back(child);
          scopes_at(&child, pc, chain, depth + 1);
          return true;
        }
        break;
      default: break;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

// Frames from DWARF: the inlined calls at `pc`, then their function. Where
// the unit's DIEs do not say which function holds `pc`, one frame: the
// symbol table's name with the line table's file:line.
void dwarf_frames(Dwfl_Module* mod, std::uintptr_t pc, const char* symbol, bool sys_module,
                  std::vector<frame_text>& out) {
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = unit_at(mod, pc, bias);
  Dwarf_Line* line = cu ? dwarf_getsrc_die(cu, pc - bias) : nullptr;
  int lineno = 0;
  const char* src = line ? dwarf_linesrc(line, nullptr, nullptr) : nullptr;
  if (!src || dwarf_lineno(line, &lineno) != 0) return;
  std::string file = src;
  // The innermost scope at pc, then the DIEs physically around it (an
  // inlined call inside the caller it was inlined into, up to the function).
  // dwarf_getscopes_die alone would follow an inlined call's abstract origin.
  std::vector<Dwarf_Die> chain;
  Dwarf_Die* at_pc = nullptr;
  if (dwarf_getscopes(cu, pc - bias, &at_pc) > 0) {
    Dwarf_Die innermost = at_pc[0];
    std::free(at_pc);
    Dwarf_Die* scopes = nullptr;
    const int n = dwarf_getscopes_die(&innermost, &scopes);
    for (int i = n - 1; i >= 0; --i) chain.push_back(scopes[i]);
    std::free(scopes);
  } else {
    scopes_at(cu, pc - bias, chain);
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const int tag = dwarf_tag(&*it);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
    frame_text fr;
    auto [name, sys] = die_name(&*it);
    if (tag == DW_TAG_subprogram && symbol) {  // the symbol table's name is complete
      name = demangle(symbol);
      sys = system_name(symbol);
    }
    fr.function = std::move(name);
    fr.location = file + ":" + std::to_string(lineno);
    fr.system = sys || sys_module || system_file(file);
    fr.has_line = true;
    out.push_back(std::move(fr));
    if (tag == DW_TAG_subprogram || !call_site(&*it, cu, file, lineno)) break;
  }
  if (out.empty() && symbol)
    out.push_back({demangle(symbol), file + ":" + std::to_string(lineno),
                   sys_module || system_name(symbol) || system_file(file), true});
}

const std::vector<frame_text>& symbolize(std::uintptr_t pc) {
  auto it = g_cache.find(pc);
  if (it != g_cache.end()) return it->second;
  std::vector<frame_text> frames;
  Dwfl* dwfl = traceback_dwfl(false);
  Dwfl_Module* mod = dwfl ? dwfl_addrmodule(dwfl, pc) : nullptr;
  if (!mod && dwfl && (dwfl = traceback_dwfl(true))) mod = dwfl_addrmodule(dwfl, pc);  // loaded since?
  if (!mod) {
    frames.push_back({"??", hex(pc), false, false});
  } else {
    Dwarf_Addr low = 0;
    const char* path = dwfl_module_info(mod, nullptr, &low, nullptr, nullptr, nullptr, nullptr, nullptr);
    std::string module = path ? path : "??";
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char* symbol = dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr);
    const bool sys_module = system_module(module);
    dwarf_frames(mod, pc, symbol, sys_module, frames);
    if (frames.empty()) {  // no line information: what the symbol table knows
      frame_text fr;
      fr.function = symbol ? demangle(symbol) + "+" + hex(offset) : std::string("??");
      fr.location = module + "+" + hex(pc - low);
      fr.system = sys_module || (symbol && system_name(symbol));
      frames.push_back(std::move(fr));
    }
  }
  return g_cache.emplace(pc, std::move(frames)).first->second;
}

}  // namespace

std::size_t traceback_session::append_frames(std::string& out, const call_stack& cs, bool show_system) {
  std::size_t shown = 0;
  bool cut = cs.elided;
  for (std::uintptr_t pc : cs.pcs) {
    for (const frame_text& fr : symbolize(pc)) {
      if (fr.system && !show_system) continue;
      if (shown == k_max_frames) {
        cut = true;
        break;
      }
      out += fr.function;
      out += "\n\t";
      out += fr.location;
      out += '\n';
      ++shown;
    }
  }
  if (cut) out += "...additional frames elided...\n";
  return shown;
}

std::string traceback_session::user_location(const call_stack& cs) {
  for (std::uintptr_t pc : cs.pcs)
    for (const frame_text& fr : symbolize(pc))
      if (!fr.system && fr.has_line) return fr.location;
  return {};
}

}  // namespace gort::detail
