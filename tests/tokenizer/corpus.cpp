#include "tokenizer/corpus.h"

namespace opd::tokenizer {

std::vector<std::string> tokenizer_corpus() {
  std::vector<std::string> texts = {
      "Hello, world! The quick brown fox jumps over the lazy dog.",
      "I'm sure you'll see they've said it's done; WE'LL SEE, DON'T WE? 'Quoted' and ''double''",
      "def fib(n: int) -> int:\n    \"\"\"Fibonacci.\"\"\"\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
      "#include <vector>\nint main() {\n\tstd::vector<int> v{1, 2, 3};\n\treturn v.size() == 3 ? 0 : 1;\n}\n",
      "数学题：已知三角形的三边长分别为3、4、5，求它的面积。答案是6。",
      "日本語のテキストと、カタカナ、ひらがな。한국어 문장도 있습니다.",
      "Emoji: 🤖🚀🎉 family 👨\u200d👩\u200d👧\u200d👦 flags 🇩🇪🇯🇵 skin 👍🏽",
      "Numbers 0 7 42 123 4567 89012 3.14159 -2.5e-10 1,000,000 and 2026-11-23",
      "Solve $x^2 - 5x + 6 = 0$. The roots are $x = 2$ and $x = 3$, so \\boxed{2, 3}.",
      "\\frac{1}{2} + \\frac{1}{3} = \\frac{5}{6}, \\sqrt{16} = 4, \\int_0^1 x\\,dx = \\tfrac12",
      std::string(64, ' ') + "leading run" + std::string(33, ' ') + "trailing run" + std::string(17, ' '),
      "tabs\t\tand\t\t\tnewlines\n\n\n\nand\r\nCRLF\r\n\r\nmixed \t \n \t end",
      "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
      "<think>\nLet me think step by step.\n</think>\n\nThe answer is 42.<|endoftext|>",
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>",
      "Русский текст, Ελληνικά, العربية, עברית, हिन्दी, ไทย, Tiếng Việt",
      "Combining: cafe\u0301 nai\u0308ve A\u030a  and precomposed café naïve Å",
      "URLs https://example.com/path?query=1&x=y#frag and emails a.b@c.org, paths /usr/lib/x86_64",
      "{\"key\": [1, 2, {\"nested\": null}], \"s\": \"a\\\"b\"}",
      "| a | b |\n|---|---|\n| 1 | 2 |\n\n- item\n  - nested\n1. first\n**bold** _it_ `code`",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "==================================================------------------------------------",
      "<s>[INST] Hi [/INST] Hello</s><unk>", "<|reserved_special_token_2|><|eot_id|><|end_of_text|>",
      "no\u00a0break\u00a0spaces, zero\u200bwidth, soft\u00adhyphen, bell\x07 and \x1b[0m escapes",
      "x86_64 ARM64 int32_t uint8_t 0x7fffffff 1e-9f 10^9+7 10,000,000.00 +1 (555) 010-9999",
      "ends with spaces   ", "   starts with spaces", "a  b   c    d     e",
      "", " ", "\n", "a", "!", "  \n",
  };
  // A long mixed document.
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += texts[static_cast<size_t>(i % 20)] + "\n";
  texts.push_back(long_text);
  return texts;
}

}  // namespace opd::tokenizer
