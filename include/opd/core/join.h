// Lists in messages: "unknown key (allowed: a, b, c)".
#pragma once

#include <string>
#include <vector>

namespace opd {

// The items with `separator` between them; "" for none.
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");

}  // namespace opd
