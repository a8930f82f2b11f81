// Private to src/tokenizer: what one render may use. A chat template comes
// with a model directory, from whoever made it; a runaway one (a loop over
// range(100000) inside another, a macro that calls itself, 'x' * 10**9)
// must fail with a JinjaError naming the limit, never hang the run or
// exhaust its memory. Each limit is far past what real templates use: the
// largest rendered conversation is a few MiB, tool schemas nest a dozen
// levels deep.
#pragma once

#include <cstddef>
#include <cstdint>

namespace opd::tokenizer::jinja {

constexpr size_t kMaxStringBytes = size_t{16} << 20;  // one string value, and the rendered text
constexpr size_t kMaxListItems = size_t{1} << 20;     // one list, tuple or dict
constexpr int kMaxValueDepth = 256;                    // lists in lists in ...; a JSON context too
// A namespace's attributes hold plain data only (no namespace, nothing
// deeper than this): no namespace can then reach itself, so values never
// form a reference cycle, and a chain of namespaces cannot nest without
// bound behind the depth of the lists that hold them.
constexpr int kMaxNamespaceValueDepth = 32;
constexpr int64_t kMaxIterations = 1000000;  // for-loop iterations plus macro calls, per render
constexpr int64_t kMaxWork = 200000000;      // evaluation steps, per render (see Evaluator::charge)
constexpr int kMaxEvalDepth = 500;           // nested evaluations (macro recursion included)
constexpr int kMaxParseDepth = 200;          // nested blocks and expressions in the source
constexpr int64_t kMaxJsonIndent = 1024;     // tojson(indent=...)

}  // namespace opd::tokenizer::jinja
